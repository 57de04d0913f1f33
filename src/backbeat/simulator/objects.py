"""Catalog entities rendered as the Web API's JSON objects (shapes of the OpenAPI file)."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from backbeat.simulator.catalog import Album, Artist, Catalog, Track
from backbeat.simulator.playlists import Playlist, PlaylistItem
from backbeat.simulator.users import UserProfile

JSON = dict[str, Any]
MARKETS = ["BR", "DE", "ES", "FR", "GB", "IT", "JP", "KR", "MX", "US"]


def timestamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class Renderer:
    """Renders with links on the simulator's own base, so clients can follow every href."""

    def __init__(self, catalog: Catalog, api_base: str) -> None:
        self.catalog = catalog
        self.api = api_base.rstrip("/")

    def _ref(self, kind: str, entity_id: str) -> JSON:
        return {
            "external_urls": {"spotify": f"https://open.spotify.com/{kind}/{entity_id}"},
            "href": f"{self.api}/{kind}s/{entity_id}",
            "id": entity_id,
            "type": kind,
            "uri": f"spotify:{kind}:{entity_id}",
        }

    def _images(self, entity_id: str) -> list[JSON]:
        return [
            {"url": f"https://i.scdn.co/image/sim{entity_id}{size}", "height": size, "width": size}
            for size in (640, 300, 64)
        ]

    def context(self, kind: str, entity_id: str) -> JSON:
        """What a track was played from (an album, artist or playlist), for recently-played."""
        ref = self._ref(kind, entity_id)
        return {key: ref[key] for key in ("type", "href", "external_urls", "uri")}

    def simple_artist(self, artist: Artist) -> JSON:
        return {**self._ref("artist", artist.id), "name": artist.name}

    def artist(self, artist: Artist) -> JSON:
        return {
            **self.simple_artist(artist),
            "followers": {"href": None, "total": artist.followers},
            "genres": list(artist.genres),
            "images": self._images(artist.id),
            "popularity": artist.popularity,
        }

    def _artists_of(self, artist_ids: tuple[str, ...]) -> list[JSON]:
        return [self.simple_artist(self.catalog.artists[a]) for a in artist_ids]

    def simple_album(self, album: Album, *, group: bool = False) -> JSON:
        body = {
            **self._ref("album", album.id),
            "album_type": album.album_type,
            "total_tracks": len(album.track_ids),
            "available_markets": MARKETS,
            "images": self._images(album.id),
            "name": album.name,
            "release_date": album.release_date,
            "release_date_precision": "day",
            "artists": self._artists_of(album.artist_ids),
        }
        if group:
            body["album_group"] = album.album_type
        return body

    def album(self, album: Album, tracks_page: JSON) -> JSON:
        year = album.release_date[:4]
        return {
            **self.simple_album(album),
            "tracks": tracks_page,
            "copyrights": [
                {"text": f"© {year} {album.label}", "type": "C"},
                {"text": f"℗ {year} {album.label}", "type": "P"},
            ],
            "external_ids": {"upc": album.upc},
            "genres": [],
            "label": album.label,
            "popularity": album.popularity,
        }

    def simple_track(self, track: Track) -> JSON:
        return {
            **self._ref("track", track.id),
            "artists": self._artists_of(track.artist_ids),
            "available_markets": MARKETS,
            "disc_number": 1,
            "duration_ms": track.duration_ms,
            "explicit": track.explicit,
            "is_playable": True,
            "name": track.name,
            "preview_url": None,
            "track_number": track.track_number,
            "is_local": False,
        }

    def track(self, track: Track) -> JSON:
        return {
            **self.simple_track(track),
            "album": self.simple_album(self.catalog.albums[track.album_id]),
            "external_ids": {"isrc": track.isrc},
            "popularity": track.popularity,
        }

    def audio_features(self, track: Track) -> JSON:
        # Seeded by the track id, so a track always has the same features.
        rng = random.Random(track.id)
        energy = round(rng.betavariate(2.5, 2), 3)
        return {
            "acousticness": round(rng.betavariate(1.2, 3) * (1.1 - energy), 4),
            "analysis_url": f"{self.api}/audio-analysis/{track.id}",
            "danceability": round(rng.betavariate(3, 2), 3),
            "duration_ms": track.duration_ms,
            "energy": energy,
            "id": track.id,
            "instrumentalness": round(rng.betavariate(0.5, 6), 4),
            "key": rng.randrange(12),
            "liveness": round(rng.betavariate(1.5, 8), 4),
            "loudness": round(-4 - 14 * (1 - energy) - rng.random() * 3, 3),
            "mode": rng.randrange(2),
            "speechiness": round(rng.betavariate(1.2, 12), 4),
            "tempo": round(rng.uniform(70, 180), 3),
            "time_signature": rng.choice([3, 4, 4, 4, 4, 5]),
            "track_href": f"{self.api}/tracks/{track.id}",
            "type": "audio_features",
            "uri": f"spotify:track:{track.id}",
            "valence": round(rng.betavariate(2, 2), 3),
        }

    def user(self, profile: UserProfile, *, private: bool) -> JSON:
        body: JSON = {
            **self._ref("user", profile.id),
            "display_name": profile.display_name,
            "followers": {"href": None, "total": profile.followers},
            "images": [],
        }
        if private:
            body |= {
                "country": profile.country,
                "email": profile.email,
                "explicit_content": {"filter_enabled": False, "filter_locked": False},
                "product": profile.product,
            }
        return body

    def owner(self, user_id: str, display_name: str | None) -> JSON:
        return {**self._ref("user", user_id), "display_name": display_name}

    def simple_playlist(self, playlist: Playlist, owner_name: str | None) -> JSON:
        link = {"href": f"{self.api}/playlists/{playlist.id}/items", "total": len(playlist.items)}
        return {
            **self._ref("playlist", playlist.id),
            "collaborative": playlist.collaborative,
            "description": playlist.description,
            "images": [],
            "name": playlist.name,
            "owner": self.owner(playlist.owner_id, owner_name),
            "public": playlist.public,
            "snapshot_id": playlist.snapshot_id,
            "items": link,
            "tracks": {**link, "href": f"{self.api}/playlists/{playlist.id}/tracks"},
        }

    def playlist(self, playlist: Playlist, owner_name: str | None, items_page: JSON) -> JSON:
        return {
            **self.simple_playlist(playlist, owner_name),
            "followers": {"href": None, "total": 0},
            "items": items_page,
            "tracks": items_page,
        }

    def playlist_item(self, item: PlaylistItem) -> JSON:
        track = self.track(self.catalog.tracks[item.track_id])
        return {
            "added_at": timestamp(item.added_at),
            "added_by": self._ref("user", item.added_by),
            "is_local": False,
            "item": track,
            "track": track,
        }
