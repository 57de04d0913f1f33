"""Playlists: the generated ones of each user and those created through the API.

Generated playlists carry their owner's index in their id, so any id can be resolved without first
generating every user.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from backbeat.simulator.catalog import decode_base62, encode_base62, is_spotify_id, spotify_id
from backbeat.simulator.users import Dated, Users

_GENERATED_MARK = "P"  # 6th character of a generated playlist's id


@dataclass
class PlaylistItem:
    track_id: str
    added_at: datetime
    added_by: str


@dataclass
class Playlist:
    id: str
    owner_id: str
    name: str
    description: str
    public: bool
    collaborative: bool
    items: list[PlaylistItem] = field(default_factory=list)
    version: int = 1

    @property
    def snapshot_id(self) -> str:
        return encode_base62(self.version * 7919 + len(self.items), 8) + self.id[:24]


class PlaylistStore:
    def __init__(self, users: Users, seed: int) -> None:
        self.users = users
        self.seed = seed
        self._rng = random.Random(f"{seed}:created-playlists")
        self._playlists: dict[str, Playlist] = {}
        self._by_owner: dict[str, list[str]] = {}

    def reset(self) -> None:
        self._playlists.clear()
        self._by_owner.clear()
        self._rng = random.Random(f"{self.seed}:created-playlists")

    def get(self, playlist_id: str) -> Playlist | None:
        generated = is_spotify_id(playlist_id) and playlist_id[5] == _GENERATED_MARK
        if playlist_id not in self._playlists and generated:
            index = decode_base62(playlist_id[:5])
            if index < self.users.count:
                self.of_user(self.users.user_id(index))
        return self._playlists.get(playlist_id)

    def of_user(self, user_id: str) -> list[Playlist]:
        """The user's playlists, newest first (created ones before generated ones)."""
        if user_id not in self._by_owner:
            self._by_owner[user_id] = []
            profile = self.users.get(user_id)
            if profile is not None:
                rng = random.Random(f"{self.seed}:playlists:{user_id}")
                for number, generated in enumerate(profile.playlists):
                    playlist_id = (
                        encode_base62(profile.index, 5) + _GENERATED_MARK + spotify_id(rng)[:16]
                    )
                    self._store(
                        Playlist(
                            id=playlist_id,
                            owner_id=user_id,
                            name=generated.name,
                            description=generated.description,
                            public=generated.public,
                            collaborative=False,
                            items=[_item(dated, user_id) for dated in generated.items],
                            version=number + 1,
                        )
                    )
        return [self._playlists[playlist_id] for playlist_id in reversed(self._by_owner[user_id])]

    def create(
        self, owner_id: str, name: str, description: str, public: bool, collaborative: bool
    ) -> Playlist:
        self.of_user(owner_id)  # generated ones first, so ordering stays stable
        while True:
            playlist_id = spotify_id(self._rng)
            if playlist_id[5] != _GENERATED_MARK:
                break
        playlist = Playlist(playlist_id, owner_id, name, description, public, collaborative)
        self._store(playlist)
        return playlist

    def add(
        self, playlist: Playlist, track_ids: list[str], position: int | None, by: str, at: datetime
    ) -> None:
        items = [PlaylistItem(track_id, at, by) for track_id in track_ids]
        where = len(playlist.items) if position is None else min(position, len(playlist.items))
        playlist.items[where:where] = items
        playlist.version += 1

    def _store(self, playlist: Playlist) -> None:
        self._playlists[playlist.id] = playlist
        self._by_owner.setdefault(playlist.owner_id, []).append(playlist.id)


def _item(dated: Dated, owner_id: str) -> PlaylistItem:
    return PlaylistItem(dated.track_id, dated.at, owner_id)
