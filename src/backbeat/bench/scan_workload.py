"""The daily scan as the seeds' apps make it, one user at a time, over any way of calling
Spotify: the organizer scan (liked songs page by page, their primary artists for genres, one
playlist per language and per genre, songs added 100 at a time) and the listening ingest (top
tracks, top artists, recent plays, audio features and missing artists, for each time range).

These are the calls backbeat's own tasks make (backbeat.domain.organizer.scan and
backbeat.domain.listening.ingest), made the plain way: no cache, no sharing between users. A
language detector is not re-run here: each song's language is the simulator's ground truth, so
the baselines spend no CPU on it (backbeat does)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

TIME_RANGES = ("short_term", "medium_term", "long_term")
PAGE = 50


class Call(Protocol):
    def __call__(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Any: ...


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def scan_user(call: Call, user: str, language_of: Callable[[str], str | None]) -> None:
    """One user's organizer scan, then their listening ingest; raises when a call fails."""
    organize(call, user, language_of)
    for time_range in TIME_RANGES:
        ingest(call, time_range)


def organize(call: Call, user: str, language_of: Callable[[str], str | None]) -> None:
    tracks: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = call("GET", "/me/tracks", {"limit": PAGE, "offset": offset})
        tracks += [saved["track"] for saved in page["items"]]
        offset += len(page["items"])
        if not page.get("next") or not page["items"]:
            break
    primary = list(dict.fromkeys(t["artists"][0]["id"] for t in tracks if t["artists"]))
    genres: dict[str, str] = {}
    for ids in chunks(primary, 50):
        for artist in call("GET", "/artists", {"ids": ",".join(ids)})["artists"]:
            if artist and artist["genres"]:
                genres[artist["id"]] = artist["genres"][0]
    groups: dict[str, list[str]] = {}
    for track in reversed(tracks):  # oldest first, as backbeat adds them
        language = language_of(track["id"])
        if language is not None:
            groups.setdefault(f"language:{language}", []).append(track["uri"])
        genre = genres.get(track["artists"][0]["id"]) if track["artists"] else None
        if genre is not None:
            groups.setdefault(f"genre:{genre}", []).append(track["uri"])
    call("GET", "/me/playlists", {"limit": PAGE})
    for name, uris in groups.items():
        created = call("POST", f"/users/{user}/playlists", body={"name": name, "public": False})
        for part in chunks(uris, 100):
            call("POST", f"/playlists/{created['id']}/tracks", body={"uris": part})


def ingest(call: Call, time_range: str) -> None:
    params = {"time_range": time_range, "limit": PAGE}
    top_tracks = call("GET", "/me/top/tracks", params)["items"]
    top_artists = call("GET", "/me/top/artists", params)["items"]
    recent = call("GET", "/me/player/recently-played", {"limit": PAGE})["items"]
    tracks = list(dict.fromkeys([t["id"] for t in top_tracks] + [p["track"]["id"] for p in recent]))
    for ids in chunks(tracks, 100):
        call("GET", "/audio-features", {"ids": ",".join(ids)})
    known = {a["id"] for a in top_artists}
    missing = list(
        dict.fromkeys(a["id"] for t in top_tracks for a in t["artists"] if a["id"] not in known)
    )
    for ids in chunks(missing, 50):
        call("GET", "/artists", {"ids": ",".join(ids)})
