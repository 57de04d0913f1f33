"""What backbeat reads of ReccoBeats' answers (its own camelCase names)."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


def _spotify_id(href: str) -> str:
    """ReccoBeats links each item to Spotify: `https://open.spotify.com/track/<id>`."""
    return href.rstrip("/").rsplit("/", 1)[-1]


class ReccoArtist(Model):
    id: str
    name: str
    href: str = ""

    @property
    def spotify_id(self) -> str:
        return _spotify_id(self.href)


class ReccoTrack(Model):
    id: str
    title: str = Field(alias="trackTitle")
    artists: list[ReccoArtist] = Field(default_factory=list)
    duration_ms: int | None = Field(default=None, alias="durationMs")
    isrc: str | None = None
    href: str = ""
    popularity: int | None = None

    @property
    def spotify_id(self) -> str:
        return _spotify_id(self.href)


class ReccoFeatures(Model):
    id: str
    href: str = ""
    acousticness: float
    danceability: float
    energy: float
    instrumentalness: float
    key: int
    liveness: float
    loudness: float
    mode: int
    speechiness: float
    tempo: float
    valence: float


class ReccoPage(Model, Generic[T]):
    content: list[T]
    page: int = 0
    size: int = 0
    total: int = Field(default=0, alias="totalElements")
    pages: int = Field(default=0, alias="totalPages")
