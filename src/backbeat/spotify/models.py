"""What backbeat reads of Spotify's answers, typed. Unknown fields are ignored, so Spotify adding
fields (or the 2026 changes removing some) does not break reading."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Image(Model):
    url: str
    height: int | None = None
    width: int | None = None


class ArtistRef(Model):
    id: str
    name: str


class Artist(ArtistRef):
    genres: list[str] = Field(default_factory=list)
    popularity: int | None = None
    images: list[Image] = Field(default_factory=list)


class AlbumRef(Model):
    id: str
    name: str
    album_type: str = "album"
    release_date: str = ""
    total_tracks: int = 0
    artists: list[ArtistRef] = Field(default_factory=list)
    images: list[Image] = Field(default_factory=list)


class TrackRef(Model):
    """A track as album listings give it (no album, no popularity)."""

    id: str
    name: str
    artists: list[ArtistRef] = Field(default_factory=list)
    duration_ms: int = 0
    track_number: int = 0
    disc_number: int = 1
    explicit: bool = False
    uri: str = ""


class Track(TrackRef):
    album: AlbumRef
    popularity: int | None = None
    external_ids: dict[str, str] = Field(default_factory=dict)

    @property
    def isrc(self) -> str | None:
        return self.external_ids.get("isrc")


class Page(Model, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int = 0
    next: str | None = None


class Album(AlbumRef):
    tracks: Page[TrackRef]
    label: str | None = None
    popularity: int | None = None
    genres: list[str] = Field(default_factory=list)


class AudioFeatures(Model):
    id: str
    danceability: float
    energy: float
    key: int
    loudness: float
    mode: int
    speechiness: float
    acousticness: float
    instrumentalness: float
    liveness: float
    valence: float
    tempo: float
    duration_ms: int | None = None
    time_signature: int | None = None


class SearchResult(Model):
    tracks: Page[Track] | None = None
    albums: Page[AlbumRef] | None = None
    artists: Page[Artist] | None = None


class User(Model):
    id: str
    display_name: str | None = None
    country: str | None = None
    email: str | None = None
    product: str | None = None


class SavedTrack(Model):
    added_at: datetime
    track: Track


class PlayHistory(Model):
    played_at: datetime
    track: Track


class Cursors(Model):
    after: str | None = None
    before: str | None = None


class CursorPage(Model, Generic[T]):
    items: list[T]
    limit: int
    next: str | None = None
    cursors: Cursors | None = None


class Owner(Model):
    id: str
    display_name: str | None = None


class PlaylistRef(Model):
    id: str
    name: str
    description: str | None = None
    public: bool | None = None
    collaborative: bool = False
    owner: Owner
    snapshot_id: str = ""
    uri: str = ""


class PlaylistItem(Model):
    added_at: datetime | None = None
    track: Track | None = None  # None for local files and removed tracks


class RecommendationSeed(Model):
    id: str
    type: str
    initialPoolSize: int | None = None  # noqa: N815 (Spotify's name)


class Recommendations(Model):
    seeds: list[RecommendationSeed] = Field(default_factory=list)
    tracks: list[Track]


class Snapshot(Model):
    snapshot_id: str
