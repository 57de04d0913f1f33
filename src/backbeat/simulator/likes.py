"""Songs liked after the generated history: a development hook (`POST /_sim/users/{id}/likes`),
so incremental liked-songs scans can be tried against the simulator.

Generated histories end at `HISTORY_END`, which may lie after the simulator's clock; a new like
is stamped with the clock, or one second after the user's newest like when the clock is behind,
so it always lists first, as a song liked just now does on Spotify.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from backbeat.simulator.users import Dated, UserProfile

_STEP = timedelta(seconds=1)  # Spotify's added_at has whole seconds


class LikeStore:
    def __init__(self) -> None:
        self._added: dict[str, list[Dated]] = {}  # per user, oldest first

    def reset(self) -> None:
        self._added.clear()

    def liked(self, profile: UserProfile) -> list[Dated]:
        """All of the user's liked songs, newest first."""
        return [*reversed(self._added.get(profile.id, [])), *profile.liked]

    def like(self, profile: UserProfile, track_ids: Sequence[str], now: datetime) -> list[Dated]:
        """Like `track_ids` in order (the last one is the newest); songs already liked stay
        where they are, as saving a saved track changes nothing. The new likes, oldest first."""
        liked = self.liked(profile)
        known = {saved.track_id for saved in liked}
        newest = liked[0].at if liked else None
        added = self._added.setdefault(profile.id, [])
        new: list[Dated] = []
        for track_id in dict.fromkeys(track_ids):
            if track_id in known:
                continue
            at = now.replace(microsecond=0)
            if newest is not None and at <= newest:
                at = newest + _STEP
            saved = Dated(track_id, at)
            added.append(saved)
            new.append(saved)
            newest = at
        return new
