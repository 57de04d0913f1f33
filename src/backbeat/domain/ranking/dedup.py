"""One song per recording: Spotify lists a recording again on every deluxe edition, remaster,
single and compilation, and a session that holds all of them makes the user duel a song
against itself.

Two releases are the same recording when
- they carry the same ISRC (the industry's recording id; re-issues usually keep it), or
- they have the same primary artist and the same normalized title, and either one of them lacks
  an ISRC, or one's track title says it is a re-issue ("- Remastered 2011": a remaster often
  gets a new ISRC) — and in both cases their lengths agree within `SAME_LENGTH_MS` when both
  are known. Two plain "Intro"s on two albums, each with its own ISRC, stay two songs, and so
  does a deluxe edition's bonus track that shares a title with an older song: re-issued
  recordings keep their ISRC, so a new ISRC under an edition's album name is a new recording.

The title loses only what describes the *release*: "- Remastered 2011", "(2009 Remaster)",
"(Deluxe Edition)", "[Bonus Track]", "- Single Version", "(Mono)", and "feat." credits; then
case, accents and punctuation. What describes a different *performance or edit* stays: live,
acoustic, demo, remix, instrumental, radio edit, re-recordings ("Taylor's Version"). A live
version is another recording with its own ISRC, and users do rank it against the studio one.

Which release is kept: the studio album's — album before single (the song's home is the album
it came out on, even when a single preceded it) before compilation; then the one without
edition noise (the original, not the deluxe edition of the same day); then the earliest
release; then the lowest id, so the choice is deterministic.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from backbeat.db.models import Song
from backbeat.spotify import models as m

T = TypeVar("T")
SAME_LENGTH_MS = 10_000
ALBUM_TYPE_ORDER = {"album": 0, "single": 1, "compilation": 2}
UNKNOWN_ALBUM_TYPE = 1  # songs stored without it sit between albums and compilations

_NOISE = re.compile(
    r"\b(re-?master(ed)?|deluxe|expanded|anniversary|special edition|collector'?s edition"
    r"|bonus( track)?|(album|single|lp|original) version|mono|stereo|edition)\b",
    re.IGNORECASE,
)
# Words that make a segment a different recording, even next to noise ("Live / Remastered").
_KEEP = re.compile(
    r"\b(live|acoustic|demo|remix|mix|instrumental|edit|unplugged|session|taylor'?s version"
    r"|re-?recorded|cover|karaoke)\b",
    re.IGNORECASE,
)
_FEAT = re.compile(r"\b(feat\.?|ft\.?|featuring|with)\s", re.IGNORECASE)
_BRACKETED = re.compile(r"\s*[(\[]([^()\[\]]*)[)\]]")
_APOSTROPHES = re.compile(r"['’`´]")
_NON_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class Release:
    """What deduplication reads of a track, whatever it came from (Spotify, the songs table)."""

    key: str  # the Spotify id: a stable tie-break
    title: str
    artist_id: str
    isrc: str | None = None
    album_name: str | None = None
    album_type: str | None = None  # album | single | compilation; None when unknown
    release_date: str | None = None  # YYYY, YYYY-MM or YYYY-MM-DD
    duration_ms: int | None = None

    @property
    def retitled(self) -> bool:
        """The track's title says it is a re-issue ("- Remastered 2011")."""
        return _says_reissue(self.title)

    @property
    def reissue(self) -> bool:
        """The track's title or its album's name says so ("(Deluxe Edition)")."""
        return self.retitled or _says_reissue(self.album_name or "")

    @property
    def normalized_title(self) -> str:
        return normalize_title(self.title)


def track_release(track: m.Track) -> Release:
    return Release(
        key=track.id,
        title=track.name,
        artist_id=track.artists[0].id if track.artists else "",
        isrc=track.isrc,
        album_name=track.album.name,
        album_type=track.album.album_type,
        release_date=track.album.release_date or None,
        duration_ms=track.duration_ms or None,
    )


def song_release(song: Song) -> Release:
    """A stored song; the songs table keeps no album type, so that rule cannot separate them."""
    return Release(
        key=song.spotify_id,
        title=song.title,
        artist_id=song.artist_spotify_id,
        isrc=song.isrc,
        album_name=song.album_name,
        release_date=song.release_date,
        duration_ms=song.duration_ms,
    )


def _is_noise(segment: str) -> bool:
    return bool(_NOISE.search(segment)) and not _KEEP.search(segment)


def _says_reissue(text: str) -> bool:
    segments = [found.group(1) for found in _BRACKETED.finditer(text)] + text.split(" - ")[1:]
    return any(_is_noise(segment) for segment in segments)


def normalize_title(title: str) -> str:
    """The title without release noise and credits, casefolded, accents and punctuation gone:
    "Café del Mar - Remastered 2011" and "Cafe Del Mar (feat. X)" both give "cafe del mar"."""
    text = _BRACKETED.sub(
        lambda found: "" if _is_noise(found.group(1)) or _FEAT.match(found.group(1)) else found[0],
        title,
    )
    head, *tails = text.split(" - ")
    kept = [tail for tail in tails if not _is_noise(tail) and not _FEAT.match(tail)]
    text = " - ".join([head, *kept])
    credit = re.search(r"\s(feat\.?|ft\.?|featuring)\s", text, re.IGNORECASE)
    if credit:
        text = text[: credit.start()]
    # Accents of the Latin, Greek and Cyrillic scripts only (U+0300–U+036F): kana voicing marks
    # and Indic vowel signs are letters of their words, not decoration.
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not "\u0300" <= char <= "\u036f")
    bare = unicodedata.normalize("NFC", bare).casefold()
    words = _NON_WORD.sub(" ", _APOSTROPHES.sub("", bare)).split()
    return " ".join(words) or title.strip().casefold()


def preference(release: Release) -> tuple[int, bool, str, str]:
    """Sort key, best first: album, no edition noise, earliest, lowest id."""
    kind = ALBUM_TYPE_ORDER.get(release.album_type or "", UNKNOWN_ALBUM_TYPE)
    return (kind, release.reissue, release.release_date or "9999", release.key)


def same_recording(a: Release, b: Release) -> bool:
    if a.isrc and a.isrc == b.isrc:
        return True
    if a.artist_id != b.artist_id or a.normalized_title != b.normalized_title:
        return False
    if a.isrc and b.isrc and not (a.retitled or b.retitled):
        return False
    if a.duration_ms and b.duration_ms:
        return abs(a.duration_ms - b.duration_ms) <= SAME_LENGTH_MS
    return True


class RecordingSet:
    """Recordings kept so far; `add` refuses a release of one already held. First come, first
    kept: feed releases best first (`preference`) to keep the best of each recording."""

    def __init__(self, releases: Iterable[Release] = ()) -> None:
        self._isrcs: set[str] = set()
        self._titles: dict[tuple[str, str], list[Release]] = {}
        for release in releases:
            self._hold(release)

    def __contains__(self, release: object) -> bool:
        if not isinstance(release, Release):
            return False
        if release.isrc and release.isrc in self._isrcs:
            return True
        held = self._titles.get((release.artist_id, release.normalized_title), [])
        return any(same_recording(release, other) for other in held)

    def add(self, release: Release) -> bool:
        if release in self:
            return False
        self._hold(release)
        return True

    def _hold(self, release: Release) -> None:
        if release.isrc:
            self._isrcs.add(release.isrc)
        key = (release.artist_id, release.normalized_title)
        self._titles.setdefault(key, []).append(release)


def dedupe_by(
    items: Sequence[T], describe: Callable[[T], Release], *, held: Iterable[Release] = ()
) -> list[T]:
    """One item per recording, the preferred release of each, in the order of `items`; items
    that are releases of a recording in `held` (already in a session) are dropped."""
    releases = [describe(item) for item in items]
    kept = RecordingSet(held)
    chosen: set[int] = set()
    for index in sorted(range(len(items)), key=lambda i: preference(releases[i])):
        if kept.add(releases[index]):
            chosen.add(index)
    return [item for index, item in enumerate(items) if index in chosen]


def dedupe(tracks: Sequence[m.Track]) -> list[m.Track]:
    """One track per recording (see the module's rules), in the order given."""
    return dedupe_by(tracks, track_release)
