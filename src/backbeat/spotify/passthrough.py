"""The `/v1/*` pass-through: any Spotify client pointed at backbeat gets Spotify's answers through
backbeat's budget, cache and dedup (ARCHITECTURE §4).

Every method and path under the mount is forwarded with `Upstream.send`, named after the
simulator's endpoint names (unknown paths are `other`, still forwarded, never cached) so that
limits, TTLs and stats apply as to backbeat's own calls.

Auth: the mount is given a `caller` dependency that authenticates the request and names the
backbeat user (the API's: a session cookie or a backbeat API token); without one nothing is
forwarded. Catalog calls go out with backbeat's app token, so they share backbeat's budget and
cache; `/me…`, `/users/…` and `/playlists/…` go out as that user, with the user's stored Spotify
token (cached per user), so a client never holds a Spotify token. A caller's bearer token is
never forwarded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from backbeat.errors import ReloginRequired, UpstreamAuthError, UpstreamError
from backbeat.ratelimit import LimiterUnavailable, OpClass, Priority, SlotTimeout, UpstreamBanned
from backbeat.upstream.call import Request as UpstreamRequest
from backbeat.upstream.call import Retryable
from backbeat.upstream.stack import UpstreamStack

StackGetter = Callable[[Request], UpstreamStack]
# A FastAPI dependency: the calling backbeat user's id, or it raises (PassthroughError, or an
# error the app answers in the same `{"error": {"status", "message"}}` shape).
CallerDependency = Callable[..., Awaitable[str]]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
OTHER = "other"

# (method, path template, endpoint name); `*` is one path segment.
ENDPOINTS: tuple[tuple[str, str, str], ...] = (
    ("GET", "search", "search"),
    ("GET", "albums", "albums"),
    ("GET", "albums/*", "album"),
    ("GET", "albums/*/tracks", "album_tracks"),
    ("GET", "artists", "artists"),
    ("GET", "artists/*", "artist"),
    ("GET", "artists/*/albums", "artist_albums"),
    ("GET", "artists/*/top-tracks", "artist_top_tracks"),
    ("GET", "tracks", "tracks"),
    ("GET", "tracks/*", "track"),
    ("GET", "audio-features", "several_audio_features"),
    ("GET", "audio-features/*", "audio_features"),
    ("GET", "recommendations", "recommendations"),
    ("GET", "me", "me"),
    ("GET", "me/top/*", "top_items"),
    ("GET", "me/player/recently-played", "recently_played"),
    ("GET", "me/tracks", "saved_tracks"),
    ("GET", "me/playlists", "my_playlists"),
    ("GET", "users/*/playlists", "user_playlists"),
    ("POST", "me/playlists", "create_playlist"),
    ("POST", "users/*/playlists", "create_playlist"),
    ("GET", "playlists/*", "playlist"),
    ("GET", "playlists/*/items", "playlist_items"),
    ("GET", "playlists/*/tracks", "playlist_items"),
    ("POST", "playlists/*/items", "add_playlist_items"),
    ("POST", "playlists/*/tracks", "add_playlist_items"),
)
BATCH_PATHS = frozenset({"tracks", "albums", "artists", "audio-features"})  # with `?ids=`
USER_ROOTS = frozenset({"me", "users", "playlists"})  # answered per user: the user's token
LINK_KEYS = frozenset({"href", "next", "previous"})
PATH_SAFE = "-._~:@!$&'()*+,;="  # RFC 3986 pchar: the rest of a decoded segment is re-quoted
FAILURES = (UpstreamError, UpstreamBanned, SlotTimeout, LimiterUnavailable)
RELOGIN = (
    "Spotify no longer accepts this backbeat user's authorization (revoked or expired): "
    "log in to backbeat again at /auth/login"
)


class PassthroughError(Exception):
    """An answer in Spotify's error shape, raised before or after the upstream call."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after

    def response(self) -> JSONResponse:
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        body = {"error": {"status": self.status, "message": self.message}}
        return JSONResponse(body, status_code=self.status, headers=headers)


def endpoint_of(method: str, segments: list[str]) -> str:
    for verb, template, name in ENDPOINTS:
        parts = template.split("/")
        if (
            verb == method
            and len(parts) == len(segments)
            and all(p in ("*", s) for p, s in zip(parts, segments, strict=True))
        ):
            return name
    return OTHER


def op_class_of(method: str, segments: list[str], params: dict[str, str]) -> OpClass:
    if method != "GET":
        return "write"
    if len(segments) == 1 and segments[0] in BATCH_PATHS and "ids" in params:
        return "batch"
    return "read"


def split_path(path: str) -> list[str]:
    """The path's segments; `.`/`..` or empty ones would leave the API base: refused."""
    segments = path.strip("/").split("/") if path.strip("/") else []
    if any(s in ("", ".", "..") for s in segments):
        raise PassthroughError(400, "Invalid path")
    return segments


def bearer_of(request: Request) -> str:
    """The request's bearer token (for a `caller` dependency that authenticates by it)."""
    header = request.headers.get("authorization")
    if not header:
        raise PassthroughError(401, "No token provided")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise PassthroughError(400, "Only valid bearer authentication supported")
    return token.strip()


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:  # also bad UTF-8
        raise PassthroughError(400, "Error parsing JSON.") from None


def relink(value: Any, upstream: str, own: str) -> Any:
    """A copy of `value` whose links point at `own` instead of `upstream` (cached and shared
    answers are never changed in place)."""
    if isinstance(value, dict):
        return {
            key: _swap(item, upstream, own)
            if key in LINK_KEYS and isinstance(item, str)
            else relink(item, upstream, own)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [relink(item, upstream, own) for item in value]
    return value


def _swap(link: str, upstream: str, own: str) -> str:
    rest = link[len(upstream) :]
    if link.startswith(upstream) and (not rest or rest[0] in "/?"):
        return own + rest
    return link


def own_base(request: Request, path: str) -> str:
    """Where this router is mounted, as the caller reached it (e.g. `http://host/v1`): the full
    path less the part the route matched, whatever prefixes, mounts or root path led here."""
    full: str = request.scope["path"]
    mount = full[: len(full) - len(path)].removesuffix("/")
    return f"{request.url.scheme}://{request.url.netloc}{mount}"


def failure(error: Exception, call: UpstreamRequest, now: float) -> PassthroughError:
    if isinstance(error, UpstreamBanned):
        return PassthroughError(503, "Upstream quota exhausted", error.retry_at - now)
    if isinstance(error, SlotTimeout):
        return PassthroughError(503, "Rate limit budget exhausted", error.retry_after)
    if isinstance(error, LimiterUnavailable):
        return PassthroughError(503, "Rate limiter unavailable")
    if call.user is not None and (
        isinstance(error, ReloginRequired)
        or (isinstance(error, UpstreamAuthError) and error.status == 401)  # even once refreshed
    ):
        # The user's Spotify grant is gone: only a new login helps. 403, not 401: the caller's
        # backbeat credential is fine, and a client refreshing it would not fix anything.
        return PassthroughError(403, RELOGIN)
    if (
        isinstance(error, UpstreamAuthError)
        and call.user is None
        and (error.endpoint == "token" or error.status == 401)  # accounts, or the API
    ):
        # Backbeat's own credentials failed: a 401 would only make the client refresh its own.
        return PassthroughError(502, "The upstream refused backbeat's app credentials")
    if isinstance(error, UpstreamError):
        status = error.status if error.status and 400 <= error.status <= 599 else 502
        retry_after = error.retry_after if isinstance(error, Retryable) else None
        return PassthroughError(status, error.message or "Upstream error", retry_after)
    return PassthroughError(502, "Invalid upstream answer")


async def upstream_request(request: Request, path: str, user: str) -> UpstreamRequest:
    """The call for `path`, made for the backbeat `user`."""
    segments = split_path(path)
    method = request.method
    params = dict(request.query_params)  # a repeated key: its last value
    return UpstreamRequest(
        endpoint_of(method, segments),
        "/" + "/".join(quote(s, safe=PATH_SAFE) for s in segments),
        method=method,
        params=params,
        body=None if method == "GET" else await json_body(request),  # GETs are cached by URL
        op_class=op_class_of(method, segments, params),
        priority=Priority.HIGH,  # a client is waiting on this response
        user=user if segments and segments[0] in USER_ROOTS else None,  # else the app's token
    )


class SpotifyShapedRoute(APIRoute):
    """Answers a PassthroughError raised anywhere in the route, dependencies included, in
    Spotify's error shape, whatever app the router is mounted in."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except PassthroughError as error:
                return error.response()

        return handle


def passthrough_router(stack_getter: StackGetter, caller: CallerDependency) -> APIRouter:
    """Serves every method and path; include it with a prefix: `include_router(r, prefix="/v1")`.
    `caller` authenticates each request before anything is forwarded (see the module's doc)."""
    router = APIRouter(route_class=SpotifyShapedRoute)

    @router.api_route("/{path:path}", methods=METHODS, include_in_schema=False)
    async def forward(path: str, request: Request, user: str = Depends(caller)) -> Response:
        stack = stack_getter(request)
        call = await upstream_request(request, path, user)
        try:
            answer = await stack.spotify_upstream.send(call)
        except (*FAILURES, json.JSONDecodeError, UnicodeDecodeError) as error:
            raise failure(error, call, stack.clock.time()) from error  # decode: 2xx not JSON
        if answer.body is None:
            return Response(status_code=answer.status)
        content = relink(answer.body, stack.spotify_upstream.base_url, own_base(request, path))
        return JSONResponse(content, status_code=answer.status)

    return router
