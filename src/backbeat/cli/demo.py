"""`backbeat demo`: the whole story on one machine with nothing installed but backbeat.

It starts the simulator, walks through a few calls as any Spotify client would make them, then
sends the same burst naively and through backbeat's client (limiter, cache, dedup, retries);
later steps grow it into the real demo (jobs, apps).
"""

from __future__ import annotations

import asyncio
import base64
from typing import Annotated, Any

import httpx
import typer

from backbeat.config import (
    RateLimitSettings,
    ReccoBeatsSettings,
    Settings,
    SimulatorSettings,
    SpotifySettings,
)
from backbeat.ratelimit import Priority
from backbeat.simulator import create_app
from backbeat.simulator.server import BackgroundServer
from backbeat.upstream.stack import UpstreamStack

CLIENT_ID, CLIENT_SECRET = "backbeat-demo", "backbeat-demo-secret"
LIMITED_ID = "backbeat-demo-limited"  # a second app, so the two bursts do not share a window


def _say(title: str, detail: str = "") -> None:
    typer.secho(f"\n▶ {title}", bold=True)
    if detail:
        typer.echo(f"  {detail}")


def _basic(client_id: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{CLIENT_SECRET}".encode()).decode()


async def _through_backbeat(base: str, burst: int, limit: int, window: float) -> dict[str, Any]:
    """The same burst through backbeat's client: limiter, cache, dedup, retries. Distinct
    queries, so the cache cannot answer them; then the same queries again, from the cache."""
    settings = Settings(
        spotify=SpotifySettings(
            client_id=LIMITED_ID,
            client_secret=CLIENT_SECRET,
            api_url=f"{base}/v1",
            accounts_url=base,
        ),
        reccobeats=ReccoBeatsSettings(url=f"{base}/reccobeats"),
        ratelimit=RateLimitSettings(spotify_read=f"{limit}/{window:g}"),
    )
    queries = [f"{chr(ord('a') + i % 26)}{'e' if i >= 26 else ''}" for i in range(burst)]
    async with UpstreamStack(settings) as upstreams, httpx.AsyncClient(base_url=base) as http:
        results = await asyncio.gather(
            *(
                upstreams.spotify.search(q, limit=5, priority=Priority.HIGH, max_wait=window * 3)
                for q in queries
            )
        )
        again = await asyncio.gather(*(upstreams.spotify.search(q, limit=5) for q in queries))
        stats: dict[str, Any] = (await http.get("/_sim/stats")).json()["apps"][LIMITED_ID]
        hits = upstreams.cache.metrics().get("search", {}).get("hits", 0)
    assert again == results
    _say(
        f"the same {burst} searches through backbeat's client ({limit}/{window:g}s budget)",
        f"{stats['successes']} × 200 and {stats['http_429']} × 429 at the simulator; "
        f"max_in_window={stats['max_in_window']} — the extra calls waited for the window;\n"
        f"  asked again: {hits} answers from the cache, no upstream call",
    )
    return stats


def _walkthrough(base: str, burst: int) -> dict[str, Any]:
    basic = _basic(CLIENT_ID)
    with httpx.Client(base_url=base, timeout=10) as http:
        token = http.post(
            "/api/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": basic},
        ).json()
        _say("client-credentials token", f"expires_in={token['expires_in']} s")
        http.headers["Authorization"] = f"Bearer {token['access_token']}"

        found = http.get("/v1/search", params={"q": "love", "type": "track", "limit": 5}).json()
        _say("GET /v1/search?q=love&type=track", f"{found['tracks']['total']} matches, top 5:")
        for item in found["tracks"]["items"]:
            typer.echo(f"    {item['name']!r} by {item['artists'][0]['name']}")

        album_id = found["tracks"]["items"][0]["album"]["id"]
        pages, url = 0, f"/v1/albums/{album_id}/tracks?limit=4"
        names: list[str] = []
        while url:
            page = http.get(url).json()
            names += [track["name"] for track in page["items"]]
            url, pages = page["next"], pages + 1
        _say(f"GET album tracks, following `next` ({pages} pages)", ", ".join(names))

        track_id = found["tracks"]["items"][0]["id"]
        features = http.get(f"/v1/audio-features/{track_id}").json()
        _say("GET /v1/audio-features", f"energy={features['energy']} tempo={features['tempo']}")

        statuses = [
            http.get("/v1/search", params={"q": "a", "type": "track"}).status_code
            for _ in range(burst)
        ]
        too_many = statuses.count(429)
        _say(
            f"{burst} quick searches against a small window",
            f"{statuses.count(200)} × 200 and {too_many} × 429: the upstream budget is real",
        )
        stats: dict[str, Any] = http.get("/_sim/stats").json()["apps"][CLIENT_ID]
        _say(
            "GET /_sim/stats (the simulator's ground truth)",
            f"requests={stats['requests']} http_429={stats['http_429']} "
            f"max_in_window={stats['max_in_window']} (limit {stats['limit']})",
        )
        return stats


def demo(
    limit: Annotated[int, typer.Option(help="Simulated app limit per window.")] = 20,
    window: Annotated[float, typer.Option(help="Simulated window in seconds.")] = 3.0,
) -> None:
    """Start the simulator and show a few calls through it (no servers needed)."""
    settings = SimulatorSettings(limit=limit, window=window, artists=200, users=50)
    with BackgroundServer(create_app(settings)) as server:
        typer.secho(f"backbeat demo — simulator serving on {server.url}", bold=True)
        naive = _walkthrough(server.url, burst=limit + 5)
        limited = asyncio.run(_through_backbeat(server.url, limit + 5, limit, window))
    if naive["max_in_window"] > limit or limited["http_429"] or limited["max_in_window"] > limit:
        raise typer.Exit(1)
    typer.echo("\nDone.")
