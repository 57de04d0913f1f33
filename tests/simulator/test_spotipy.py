"""spotipy, unchanged but for its base URLs, against the simulator over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import spotipy
from spotipy.cache_handler import MemoryCacheHandler

from backbeat.config import SimulatorSettings
from backbeat.simulator import create_app
from backbeat.simulator.server import BackgroundServer
from tests.simulator.sim_client import ALL_SCOPES, CLIENT_ID, CLIENT_SECRET, REDIRECT


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    settings = SimulatorSettings(artists=80, users=20, limit=10_000, mode="extended")
    with BackgroundServer(create_app(settings)) as running:
        yield running


def _client(server: BackgroundServer, auth: spotipy.oauth2.SpotifyAuthBase) -> spotipy.Spotify:
    client = spotipy.Spotify(auth_manager=auth, retries=0)
    client.prefix = f"{server.url}/v1/"
    return client


@pytest.fixture
def app_client(server: BackgroundServer) -> spotipy.Spotify:
    auth = spotipy.SpotifyClientCredentials(
        CLIENT_ID, CLIENT_SECRET, cache_handler=MemoryCacheHandler()
    )
    auth.OAUTH_TOKEN_URL = f"{server.url}/api/token"
    return _client(server, auth)


def test_catalog_calls(app_client: spotipy.Spotify) -> None:
    found = app_client.search(q="love", limit=10, type="track")
    tracks = found["tracks"]["items"]
    assert 0 < len(tracks) <= 10
    for t in tracks:
        names = [t["name"], t["album"]["name"], *(a["name"] for a in t["artists"])]
        assert "love" in " ".join(names).lower()

    album = app_client.album(tracks[0]["album"]["id"])
    assert album["id"] == tracks[0]["album"]["id"]
    assert album["total_tracks"] == len(album["tracks"]["items"])

    # Paging through `next`: absolute URLs on the simulator's own base.
    page = app_client.album_tracks(album["id"], limit=2)
    assert page["next"] is None or page["next"].startswith(app_client.prefix)
    names = [t["name"] for t in page["items"]]
    while page["next"]:
        page = app_client.next(page)
        names += [t["name"] for t in page["items"]]
    assert names == [t["name"] for t in album["tracks"]["items"]]

    artist_id = album["artists"][0]["id"]
    albums = app_client.artist_albums(artist_id, limit=5)
    assert albums["items"]
    assert all(artist_id in [a["id"] for a in item["artists"]] for item in albums["items"])

    ids = [t["id"] for t in tracks[:3]]
    several = app_client.tracks(ids)
    assert [t["id"] for t in several["tracks"]] == ids

    with pytest.warns(DeprecationWarning, match="audio_features"):  # extended-quota apps keep it
        features = app_client.audio_features(ids)
    assert [f["id"] for f in features] == ids
    assert all(0 <= f["energy"] <= 1 for f in features)


@pytest.mark.parametrize("pkce", [False, True], ids=["code", "pkce"])
def test_user_flow(server: BackgroundServer, pkce: bool) -> None:
    common = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "scope": ALL_SCOPES,
              "open_browser": False, "cache_handler": MemoryCacheHandler()}  # fmt: skip
    auth: spotipy.SpotifyOAuth | spotipy.SpotifyPKCE = (
        spotipy.SpotifyPKCE(**common) if pkce else
        spotipy.SpotifyOAuth(client_secret=CLIENT_SECRET, state="s1", **common)
    )  # fmt: skip
    auth.OAUTH_AUTHORIZE_URL = f"{server.url}/authorize"
    auth.OAUTH_TOKEN_URL = f"{server.url}/api/token"

    user = "user0003" if pkce else "user0002"
    consent = httpx.get(auth.get_authorize_url() + f"&sim_user={user}")
    assert consent.status_code in (302, 303, 307)
    code = auth.parse_response_code(consent.headers["location"])
    if isinstance(auth, spotipy.SpotifyOAuth):
        auth.get_access_token(code, as_dict=False)
    else:
        auth.get_access_token(code)
    sp = _client(server, auth)

    me = sp.current_user()
    assert me["id"] == user
    top = sp.current_user_top_tracks(limit=10, time_range="short_term")
    assert len(top["items"]) == 10

    if pkce:  # POST /me/playlists
        playlist = sp.current_user_playlist_create("backbeat test", public=False)
    else:  # POST /users/{id}/playlists, deprecated but still served
        with pytest.warns(DeprecationWarning, match="user_playlist_create"):
            playlist = sp.user_playlist_create(user, "backbeat test", public=False)
    assert playlist["owner"]["id"] == user
    uris = [t["uri"] for t in top["items"][:5]]
    added = sp.playlist_add_items(playlist["id"], uris)
    assert added["snapshot_id"] != playlist["snapshot_id"]
    items = sp.playlist_items(playlist["id"])
    assert [i["track"]["uri"] for i in items["items"]] == uris
    assert playlist["id"] in [p["id"] for p in sp.current_user_playlists()["items"]]
