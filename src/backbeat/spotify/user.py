"""A user's side of the Web API (`/me/*`, playlists), called with that user's token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

from backbeat.ratelimit import Priority
from backbeat.spotify import models as m
from backbeat.upstream.batch import pages
from backbeat.upstream.call import Request, Upstream

TimeRange = Literal["short_term", "medium_term", "long_term"]
MAX_ADD_ITEMS = 100


class SpotifyUser:
    def __init__(self, upstream: Upstream, user: str, priority: Priority = Priority.NORMAL) -> None:
        self.upstream = upstream
        self.user = user
        self.priority = priority

    async def _call(
        self,
        endpoint: str,
        path: str,
        *,
        method: str = "GET",
        params: dict[str, str | int] | None = None,
        body: Any = None,
    ) -> Any:
        write = method != "GET"
        return await self.upstream.call(
            Request(
                endpoint,
                path,
                method=method,
                params=params or {},
                body=body,
                op_class="write" if write else "read",
                priority=self.priority,
                user=self.user,
            )
        )

    async def me(self) -> m.User:
        return m.User.model_validate(await self._call("me", "/me"))

    async def top_tracks(
        self, time_range: TimeRange = "medium_term", *, limit: int = 50, offset: int = 0
    ) -> m.Page[m.Track]:
        body = await self._call(
            "top_items",
            "/me/top/tracks",
            params={"time_range": time_range, "limit": limit, "offset": offset},
        )
        return m.Page[m.Track].model_validate(body)

    async def top_artists(
        self, time_range: TimeRange = "medium_term", *, limit: int = 50, offset: int = 0
    ) -> m.Page[m.Artist]:
        body = await self._call(
            "top_items",
            "/me/top/artists",
            params={"time_range": time_range, "limit": limit, "offset": offset},
        )
        return m.Page[m.Artist].model_validate(body)

    async def recently_played(
        self, *, limit: int = 50, before: int | None = None, after: int | None = None
    ) -> m.CursorPage[m.PlayHistory]:
        params: dict[str, str | int] = {"limit": limit}
        if before is not None:
            params["before"] = before
        if after is not None:
            params["after"] = after
        body = await self._call("recently_played", "/me/player/recently-played", params=params)
        return m.CursorPage[m.PlayHistory].model_validate(body)

    async def saved_tracks(self, *, limit: int = 50, offset: int = 0) -> m.Page[m.SavedTrack]:
        body = await self._call(
            "saved_tracks", "/me/tracks", params={"limit": limit, "offset": offset}
        )
        return m.Page[m.SavedTrack].model_validate(body)

    async def all_saved_tracks(self) -> AsyncIterator[list[m.SavedTrack]]:
        """Liked songs page by page, newest first."""
        async for items in pages(
            lambda limit, offset: self.saved_tracks(limit=limit, offset=offset)
        ):
            yield items

    async def playlists(self, *, limit: int = 50, offset: int = 0) -> m.Page[m.PlaylistRef]:
        body = await self._call(
            "my_playlists", "/me/playlists", params={"limit": limit, "offset": offset}
        )
        return m.Page[m.PlaylistRef].model_validate(body)

    async def playlist_items(
        self, playlist_id: str, *, limit: int = 100, offset: int = 0
    ) -> m.Page[m.PlaylistItem]:
        body = await self._call(
            "playlist_items",
            f"/playlists/{playlist_id}/items",
            params={"limit": limit, "offset": offset},
        )
        return m.Page[m.PlaylistItem].model_validate(body)

    async def create_playlist(
        self, name: str, *, description: str = "", public: bool = False
    ) -> m.PlaylistRef:
        body = await self._call(
            "create_playlist",
            "/me/playlists",
            method="POST",
            body={"name": name, "description": description, "public": public},
        )
        return m.PlaylistRef.model_validate(body)

    async def add_items(self, playlist_id: str, uris: Sequence[str]) -> str | None:
        """Adds in chunks of 100 (the endpoint's maximum); the last snapshot id."""
        snapshot = None
        for start in range(0, len(uris), MAX_ADD_ITEMS):
            body = await self._call(
                "add_playlist_items",
                f"/playlists/{playlist_id}/items",
                method="POST",
                body={"uris": list(uris[start : start + MAX_ADD_ITEMS])},
            )
            snapshot = m.Snapshot.model_validate(body).snapshot_id
        return snapshot
