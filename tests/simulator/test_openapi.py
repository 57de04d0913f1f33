"""Every Web API endpoint of the simulator answers with JSON the OpenAPI file accepts.

Bodies are validated by `OAS30Validator` against the operation's documented 200/201 response (and
error responses), with the whole YAML document in a `referencing.Registry` (see openapi_schema).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from backbeat.clock import FakeClock
from backbeat.config import SimulatorSettings
from backbeat.simulator import create_app
from backbeat.simulator.state import Simulator
from tests.simulator.openapi_schema import WebApiSpec, spec_path
from tests.simulator.sim_client import bearer, user_token

USER = "user0001"
UNKNOWN_ID = "0000000000000000000000"  # well-formed base62, in no catalog


@pytest.fixture(scope="session")
def spec() -> WebApiSpec:
    path = spec_path()
    assert path.is_file(), f"the OpenAPI file is missing at {path} (set BACKBEAT_OPENAPI_SPEC)"
    return WebApiSpec.load(path)


@dataclass(frozen=True)
class Sample:
    """Ids of the small catalog, picked so that every list in a response is non-empty."""

    artist: str
    artists: str
    album: str
    albums: str
    track: str
    tracks: str
    genre: str
    playlist: str

    @classmethod
    def of(cls, sim: Simulator) -> Sample:
        catalog = sim.catalog
        artists = [a for a in catalog.artists if catalog.artist_albums[a]][:3]
        albums = [album for a in artists for album in catalog.artist_albums[a]][:3]
        tracks = [t for a in albums for t in catalog.albums[a].track_ids][:3]
        own = [p for p in sim.playlists.of_user(USER) if p.items]
        assert all((artists, albums, tracks, own)), "the sample catalog is too small"
        return cls(
            artist=artists[0],
            artists=",".join(artists),
            album=albums[0],
            albums=",".join(albums),
            track=tracks[0],
            tracks=",".join(tracks),
            genre=catalog.artists[artists[0]].genres[0],
            playlist=own[0].id,
        )


@pytest.fixture
def app() -> FastAPI:
    return create_app(SimulatorSettings(artists=60, users=20), FakeClock())


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim"
    ) as http:
        yield http


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app) as http:
        yield http


@pytest.fixture
async def token(client: httpx.AsyncClient) -> str:
    return await user_token(client, USER)


@pytest.fixture
def sample(app: FastAPI) -> Sample:
    return Sample.of(app.state.simulator)


@dataclass(frozen=True)
class Case:
    method: str
    operation: str  # the path as the OpenAPI file spells it
    url: Callable[[Sample], str]  # under /v1
    non_empty: tuple[str, ...]  # dotted paths that must hold items, so the check means something
    status: int = 200
    body: Callable[[Sample], dict[str, Any]] | None = None


def _add(s: Sample) -> dict[str, Any]:
    return {"uris": [f"spotify:track:{t}" for t in s.tracks.split(",")]}


def _new(s: Sample) -> dict[str, Any]:
    return {"name": "Validated", "description": "from the OpenAPI test", "public": False}


CASES = [
    Case("get", "/search", lambda s: "/search?q=a&type=track,album,artist,playlist",
         ("tracks.items", "albums.items", "artists.items", "playlists.href")),
    Case("get", "/albums/{id}", lambda s: f"/albums/{s.album}", ("tracks.items",)),
    Case("get", "/albums", lambda s: f"/albums?ids={s.albums}", ("albums",)),
    Case("get", "/albums/{id}/tracks", lambda s: f"/albums/{s.album}/tracks?limit=5", ("items",)),
    Case("get", "/artists/{id}", lambda s: f"/artists/{s.artist}", ("genres",)),
    Case("get", "/artists", lambda s: f"/artists?ids={s.artists}", ("artists",)),
    Case("get", "/artists/{id}/albums", lambda s: f"/artists/{s.artist}/albums", ("items",)),
    Case("get", "/artists/{id}/top-tracks", lambda s: f"/artists/{s.artist}/top-tracks",
         ("tracks",)),
    Case("get", "/tracks/{id}", lambda s: f"/tracks/{s.track}", ("artists",)),
    Case("get", "/tracks", lambda s: f"/tracks?ids={s.tracks}", ("tracks",)),
    Case("get", "/audio-features/{id}", lambda s: f"/audio-features/{s.track}", ("id",)),
    Case("get", "/audio-features", lambda s: f"/audio-features?ids={s.tracks}",
         ("audio_features",)),
    Case("get", "/recommendations", lambda s: f"/recommendations?seed_artists={s.artist}",
         ("tracks",)),
    Case("get", "/recommendations", lambda s: f"/recommendations?seed_tracks={s.track}&limit=5",
         ("tracks",)),
    Case("get", "/recommendations",
         lambda s: f"/recommendations?seed_genres={s.genre}&seed_artists={s.artist}", ("seeds",)),
    Case("get", "/me", lambda s: "/me", ("id",)),
    Case("get", "/me/top/artists", lambda s: "/me/top/artists?time_range=short_term", ("items",)),
    Case("get", "/me/top/tracks", lambda s: "/me/top/tracks?limit=5", ("items",)),
    Case("get", "/me/player/recently-played", lambda s: "/me/player/recently-played", ("items",)),
    Case("get", "/me/tracks", lambda s: "/me/tracks", ("items",)),
    Case("get", "/me/playlists", lambda s: "/me/playlists", ("items",)),
    Case("post", "/me/playlists", lambda s: "/me/playlists", ("id",), 201, _new),
    Case("get", "/users/{user_id}/playlists", lambda s: "/users/user0002/playlists", ("items",)),
    Case("post", "/users/{user_id}/playlists", lambda s: f"/users/{USER}/playlists", ("id",), 201,
         _new),
    Case("get", "/playlists/{playlist_id}", lambda s: f"/playlists/{s.playlist}", ("items.items",)),
    Case("get", "/playlists/{playlist_id}/items", lambda s: f"/playlists/{s.playlist}/items",
         ("items",)),
    Case("get", "/playlists/{playlist_id}/tracks",
         lambda s: f"/playlists/{s.playlist}/tracks?limit=3", ("items",)),
    Case("post", "/playlists/{playlist_id}/items", lambda s: f"/playlists/{s.playlist}/items",
         ("snapshot_id",), 201, _add),
    Case("post", "/playlists/{playlist_id}/tracks", lambda s: f"/playlists/{s.playlist}/tracks",
         ("snapshot_id",), 201, _add),
]  # fmt: skip


def _dig(body: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        assert isinstance(body, dict), f"no {dotted!r} in the response"
        assert key in body, f"no {dotted!r} in the response"
        body = body[key]
    return body


def _template(operation: str) -> re.Pattern[str]:
    return re.compile("/v1" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(operation)))


async def _call(
    client: httpx.AsyncClient, case: Case, sample: Sample, headers: dict[str, str]
) -> httpx.Response:
    url = "/v1" + case.url(sample)
    body = case.body(sample) if case.body else None
    return await client.request(case.method.upper(), url, json=body, headers=headers)


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c.method.upper()} {c.url(Sample(*'x' * 8))}" for c in CASES]
)
async def test_response_validates_against_the_openapi_file(
    case: Case, spec: WebApiSpec, client: httpx.AsyncClient, token: str, sample: Sample
) -> None:
    response = await _call(client, case, sample, bearer(token))
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert _template(case.operation).fullmatch(response.request.url.path)
    body = response.json()
    for dotted in case.non_empty:
        assert _dig(body, dotted), f"{dotted!r} is empty: the validation would prove little"
    spec.check(case.method, case.operation, case.status, body)


def test_every_web_api_route_of_the_simulator_is_covered(app: FastAPI, sample: Sample) -> None:
    served = {
        (method.lower(), route.path, route.path_regex)
        for route in app.routes
        if isinstance(route, APIRoute) and route.path.startswith("/v1/")
        for method in route.methods or ()
    }
    urls = {(c.method, "/v1" + c.url(sample).partition("?")[0]) for c in CASES}
    missing = sorted(
        f"{method.upper()} {path}"
        for method, path, regex in served
        if not any(m == method and regex.fullmatch(u) for m, u in urls)
    )
    assert not missing, f"routes without an OpenAPI check: {missing}"


ERRORS = [
    # The file lists only 401/403/429 for these operations: 400 and 404 bodies are checked
    # against components/responses/BadRequest and NotFound, the file's own shapes for them.
    (400, "/search", "/search?q=a&type=track&limit=0", "BadRequest"),
    (400, "/albums/{id}/tracks", "/albums/{album}/tracks?limit=51", "BadRequest"),
    (400, "/me/top/tracks", "/me/top/tracks?limit=-1", "BadRequest"),
    (404, "/albums/{id}", f"/albums/{UNKNOWN_ID}", "NotFound"),
    (404, "/artists/{id}", f"/artists/{UNKNOWN_ID}", "NotFound"),
    (404, "/tracks/{id}", f"/tracks/{UNKNOWN_ID}", "NotFound"),
    (404, "/playlists/{playlist_id}", f"/playlists/{UNKNOWN_ID}", "NotFound"),
]


@pytest.mark.parametrize(("status", "operation", "url", "fallback"), ERRORS)
async def test_error_body_validates(
    status: int, operation: str, url: str, fallback: str, spec: WebApiSpec,
    client: httpx.AsyncClient, token: str, sample: Sample,
) -> None:  # fmt: skip
    response = await client.get("/v1" + url.format(album=sample.album), headers=bearer(token))
    assert response.status_code == status, response.text
    assert response.json()["error"]["status"] == status
    spec.check("get", operation, status, response.json(), fallback=fallback)


UNAUTHENTICATED = ("/search", "/me", "/playlists/{playlist_id}/items")


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.operation in UNAUTHENTICATED],
    ids=lambda c: f"{c.method.upper()} {c.operation}",
)
async def test_no_token_is_a_documented_401(
    case: Case, spec: WebApiSpec, client: httpx.AsyncClient, sample: Sample
) -> None:
    response = await _call(client, case, sample, {})
    assert response.status_code == 401, response.text
    assert response.json() == {"error": {"status": 401, "message": "No token provided"}}
    spec.check(case.method, case.operation, 401, response.json())


async def test_over_the_limit_is_a_documented_429(spec: WebApiSpec) -> None:
    clock = FakeClock()
    app = create_app(SimulatorSettings(artists=60, users=20, limit=3, window=30), clock)
    url = f"/v1/tracks/{Sample.of(app.state.simulator).track}"
    async with serving(app) as client:
        headers = bearer(await user_token(client, USER))
        responses = [await client.get(url, headers=headers) for _ in range(4)]
        assert [r.status_code for r in responses] == [200, 200, 200, 429]
        assert int(responses[-1].headers["Retry-After"]) >= 1
        spec.check("get", "/tracks/{id}", 429, responses[-1].json())
        clock.advance(31)  # the window has moved past all three calls
        recovered = await client.get(url, headers=headers)
    assert recovered.status_code == 200
    spec.check("get", "/tracks/{id}", 200, recovered.json())


async def test_development_mode_removal_is_a_documented_403(spec: WebApiSpec) -> None:
    app = create_app(SimulatorSettings(artists=60, users=20, mode="development"), FakeClock())
    url = f"/v1/audio-features/{Sample.of(app.state.simulator).track}"
    async with serving(app) as client:
        response = await client.get(url, headers=bearer(await user_token(client, USER)))
    assert response.status_code == 403, response.text
    spec.check("get", "/audio-features/{id}", 403, response.json())


# Where the simulator keeps real Spotify's `null` against the file: an unknown id in a
# several-ids lookup, and `cursors`/`next` once recently-played is exhausted. Asserted as
# violations, so that a change on either side shows up here.
SPOTIFY_OVER_THE_FILE = [
    ("/albums", "/albums?ids={album},{unknown}"),
    ("/artists", "/artists?ids={unknown}"),
    ("/tracks", "/tracks?ids={track},{unknown}"),
    ("/audio-features", "/audio-features?ids={unknown}"),
    ("/me/player/recently-played", "/me/player/recently-played?before=1"),
]


@pytest.mark.parametrize(("operation", "url"), SPOTIFY_OVER_THE_FILE)
async def test_nulls_spotify_sends_that_the_file_forbids(
    operation: str, url: str, spec: WebApiSpec, client: httpx.AsyncClient, token: str,
    sample: Sample,
) -> None:  # fmt: skip
    url = url.format(album=sample.album, track=sample.track, unknown=UNKNOWN_ID)
    response = await client.get("/v1" + url, headers=bearer(token))
    assert response.status_code == 200, response.text
    with pytest.raises(AssertionError, match="None for not nullable") as violation:
        spec.check("get", operation, 200, response.json())
    problems = str(violation.value).splitlines()[1:]
    assert all("None for not nullable" in line for line in problems), violation.value
