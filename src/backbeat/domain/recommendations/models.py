"""What the recommendations app answers: ReccoBeats' picks in Spotify's words."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from backbeat.reccobeats.models import ReccoTrack
from backbeat.spotify import models as m


class Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class TrackArtist(Model):
    id: str  # Spotify's
    name: str


class RecommendedTrack(Model):
    id: str  # Spotify's track id
    reccobeats_id: str
    name: str
    artists: list[TrackArtist]
    album_id: str | None = None
    album_name: str | None = None
    image_url: str | None = None  # the album's largest cover
    duration_ms: int | None = None
    popularity: int | None = None
    isrc: str | None = None
    uri: str
    # False: Spotify has no such track (any more); the fields above are ReccoBeats' then.
    on_spotify: bool = True
    features: m.AudioFeatures | None = None  # only when asked for


class Recommendations(Model):
    seeds: list[str]  # as used: deduplicated, in the order given
    tracks: list[RecommendedTrack]


class TrackFeatures(Model):
    features: list[m.AudioFeatures]  # in the order asked, each naming its track
    missing: list[str]  # ids neither Spotify nor ReccoBeats could describe


def recommended(pick: ReccoTrack, track: m.Track | None) -> RecommendedTrack:
    """ReccoBeats' pick with Spotify's data where Spotify has the track."""
    if track is None:
        return RecommendedTrack(
            id=pick.spotify_id,
            reccobeats_id=pick.id,
            name=pick.title,
            artists=[TrackArtist(id=a.spotify_id, name=a.name) for a in pick.artists],
            duration_ms=pick.duration_ms,
            popularity=pick.popularity,
            isrc=pick.isrc,
            uri=f"spotify:track:{pick.spotify_id}",
            on_spotify=False,
        )
    return RecommendedTrack(
        id=track.id,
        reccobeats_id=pick.id,
        name=track.name,
        artists=[TrackArtist(id=a.id, name=a.name) for a in track.artists],
        album_id=track.album.id,
        album_name=track.album.name,
        image_url=_cover(track.album.images),
        duration_ms=track.duration_ms or pick.duration_ms,
        popularity=track.popularity if track.popularity is not None else pick.popularity,
        isrc=track.isrc or pick.isrc,
        uri=track.uri or f"spotify:track:{track.id}",
    )


def _cover(images: list[m.Image]) -> str | None:
    return max(images, key=lambda image: image.width or 0).url if images else None
