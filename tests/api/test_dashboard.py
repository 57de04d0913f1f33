"""`/dashboard`: Debian's headless Chromium (through Playwright) signs in with the admin token,
reads the numbers the page shows and checks them against `/dashboard/data` and the API's own
`/metrics/rate-limiter` and `/metrics/jobs`, then saves `docs/dashboard.png`. Without Chromium
the browser test skips locally and fails in CI (`BACKBEAT_REQUIRE_SERVICES=1`).

Plain HTTP checks the doors: no admin token configured → 403; a wrong token → 401 and no cookie;
the data without the cookie or the bearer token → 401."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backbeat.api import create_app
from backbeat.clock import SystemClock
from backbeat.config import DatabaseSettings, JobsSettings
from backbeat.db.engine import open_database
from backbeat.jobs.lifecycle import NewJob, now_utc
from backbeat.jobs.sqlstore import SqlJobStore
from backbeat.simulator.server import BackgroundServer
from tests.api.deployment import ADMIN_TOKEN, Deployment, finished
from tests.conftest import REQUIRE_SERVICES

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
COUNTDOWNS = ("|pause", "|ban")  # ticked by the page between polls: compared apart

# Every [data-field] the page shows, and the data it last drew, read in one step.
READ_PAGE = """() => ({
  updated: document.body.dataset.updated,
  fields: Object.fromEntries([...document.querySelectorAll('[data-field]')]
    .map((el) => [el.dataset.field, el.textContent])),
})"""


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


async def make_activity(alice: httpx.AsyncClient) -> None:
    """Searches (one repeated: a cache hit), recommendations (ReccoBeats) and an ingest, spread
    over a few seconds, so the page has something to show."""
    for query in ("love", "night", "love", "summer", "night", "dance", "love", "gold"):
        response = await alice.get("/api/search", params={"q": query, "type": "track"})
        assert response.status_code == 200, response.text
        await asyncio.sleep(0.8)  # a person typing, so the chart shows a slope
    seed = response.json()["items"][0]["id"]
    response = await alice.get("/api/recommendations", params={"seed_tracks": seed, "size": 5})
    assert response.status_code == 200, response.text
    accepted = await alice.post("/api/listening/ingest", json={"time_range": "short_term"})
    assert accepted.status_code == 202, accepted.text
    task = await finished(alice, accepted.json()["task_id"])
    assert task["status"] == "succeeded", task


async def drawn(page: Any, received: dict[float, dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """What the page shows, and the /dashboard/data answer it drew that from."""
    for _ in range(50):
        shown = await page.evaluate(READ_PAGE)
        data = received.get(float(shown["updated"]))
        if data is not None:
            return shown, data
        await asyncio.sleep(0.1)  # the answer's body is still being read
    raise AssertionError(f"the page drew {shown['updated']}, an answer never seen")


async def record_a_failed_job(deployment: Deployment) -> str:
    """A job that failed for good, written to the deployment's job store (as a worker would)."""
    clock = SystemClock()
    async with open_database(deployment.settings) as database:
        store = SqlJobStore(database.sessions)
        job, _ = await store.create(NewJob("ingest_listening", "spotify"), now=now_utc(clock))
        await store.mark_running(job.id, now=now_utc(clock))
        error = "ReloginRequired: the refresh token of <user0007> was revoked"  # <…>: text
        assert await store.failed(job.id, 1, error, now=now_utc(clock))
    return error


def window(app: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(w for w in app["windows"] if w["key"] == key)
    return found


async def test_the_dashboard_shows_the_apis_numbers(
    deployment: Deployment, alice: httpx.AsyncClient
) -> None:
    require_chromium()
    from playwright.async_api import Response, async_playwright

    await make_activity(alice)
    error = await record_a_failed_job(deployment)
    spotify = f"spotify:{deployment.settings.spotify.client_id}"
    received: dict[float, dict[str, Any]] = {}  # /dashboard/data answers the page got, by `now`

    async def keep(response: Response) -> None:
        if response.url.endswith("/dashboard/data") and response.ok:
            body = await response.json()
            received[body["now"]] = body

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"]
        )
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            page.on("response", keep)
            await page.goto(f"{deployment.api}/dashboard")
            assert page.url == f"{deployment.api}/dashboard/login"  # no cookie yet
            await page.fill("#token", ADMIN_TOKEN)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{deployment.api}/dashboard")
            [cookie] = await context.cookies()
            assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"]) == (
                "backbeat_dashboard",
                True,
                "Strict",
            )

            # Wait for the script to draw an answer of /dashboard/data, the chart included.
            await page.wait_for_function("() => document.body.dataset.updated !== undefined")
            await page.wait_for_selector("svg[data-chart] polyline.used")
            shown, data = await drawn(page, received)
            read = f"app|{spotify}|window|c:read:0"
            assert int(shown["fields"][f"{read}|used"]) > 0  # the activity shows
            SCREENSHOT.parent.mkdir(exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT), full_page=True)

            # The page shows exactly what /dashboard/data said, every number of it.
            assert set(shown["fields"]) == set(data["display"])
            for field, text in shown["fields"].items():
                if not field.endswith(COUNTDOWNS):
                    assert text == data["display"][field], field
            app = next(a for a in data["apps"] if a["app"] == spotify)
            assert shown["fields"][f"{read}|used"] == str(window(app, "c:read:0")["used"])
            assert shown["fields"][f"{read}|limit"] == str(window(app, "c:read:0")["limit"])
            for name, depth in data["queues"].items():
                assert shown["fields"][f"queue|{name}"] == str(depth)
            for status, count in data["jobs"].items():
                assert shown["fields"][f"jobs|{status}"] == str(count)
            assert int(shown["fields"]["jobs|succeeded"]) >= 1
            assert shown["fields"]["jobs|failed"] == "1"
            [failed] = data["failed_jobs"]
            assert failed["error"] == error
            first_row = await page.locator("#failed tr").first.locator("td").all_inner_texts()
            assert first_row[1:] == ["ingest_listening", "–", "1", error]  # as text, not markup
            assert int(shown["fields"]["cache|hits"]) >= 1

            # ... and what the API's own JSON metrics say. Nothing runs now, but the rolling
            # windows forget old grants: compare until a page refresh and the API agree.
            for _ in range(20):
                limiter = (await alice.get("/metrics/rate-limiter")).json()
                jobs = (await alice.get("/metrics/jobs")).json()
                shown = await page.evaluate(READ_PAGE)
                limits = window(limiter["apps"][spotify], "c:read:0")
                api_view = {
                    f"{read}|used": str(limiter["current_usage"]["read"]),
                    f"{read}|limit": str(limiter["limits"]["read"]),
                    f"{read}|effective_limit": str(limits["effective_limit"]),
                    **{f"queue|{name}": str(n) for name, n in jobs["queues"].items()},
                    **{f"jobs|{status}": str(n) for status, n in jobs["status_counts"].items()},
                }
                page_view = {field: shown["fields"][field] for field in api_view}
                if page_view == api_view:
                    break
                await asyncio.sleep(1)  # the page polls every 2 s
            assert page_view == api_view
        finally:
            await browser.close()
    assert SCREENSHOT.stat().st_size > 10_000


async def test_a_wrong_token_is_a_401_without_a_cookie(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.api) as client:
        response = await client.get("/dashboard")
        assert (response.status_code, response.headers["location"]) == (303, "/dashboard/login")
        form = await client.get("/dashboard/login")
        assert form.status_code == 200
        assert 'name="token"' in form.text
        refused = await client.post("/dashboard/login", data={"token": "not-the-token"})
        assert refused.status_code == 401
        assert "set-cookie" not in refused.headers
        assert "not the admin token" in refused.text
        assert not client.cookies


async def test_guessing_the_admin_token_is_cut_short(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.api) as client:
        statuses = [
            (await client.post("/dashboard/login", data={"token": f"guess-{n}"})).status_code
            for n in range(11)
        ]
    assert statuses == [401] * 10 + [429]  # ten tries per ten minutes per address


async def test_the_data_needs_the_admin(deployment: Deployment, alice: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(base_url=deployment.api) as client:
        assert (await client.get("/dashboard/data")).status_code == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        assert (await client.get("/dashboard/data", headers=wrong)).status_code == 401
        forged = {"Cookie": "backbeat_dashboard=eyJhZG1pbiI6IngifQ.forged.sig"}
        assert (await client.get("/dashboard/data", headers=forged)).status_code == 401
        right = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        data = (await client.get("/dashboard/data", headers=right)).json()
        assert {"apps", "history", "queues", "jobs", "cache", "failed_jobs", "display"} <= set(data)
    # A user's session is not the admin's.
    assert (await alice.get("/dashboard/data")).status_code == 401


async def test_the_cookie_opens_the_dashboard_until_sign_out(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.api) as client:
        signed_in = await client.post("/dashboard/login", data={"token": ADMIN_TOKEN})
        assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/dashboard")
        cookie = signed_in.headers["set-cookie"].lower()
        for attribute in ("httponly", "samesite=strict", "path=/dashboard", "max-age=43200"):
            assert attribute in cookie
        page = await client.get("/dashboard")
        assert page.status_code == 200
        assert "script-src 'nonce-" in page.headers["content-security-policy"]
        assert (await client.get("/dashboard/data")).status_code == 200
        signed_out = await client.post("/dashboard/logout")
        assert signed_out.status_code == 303
        assert (await client.get("/dashboard/data")).status_code == 401


@pytest.fixture
def without_admin(deployment: Deployment, tmp_path: Path) -> Iterator[str]:
    """Another API on the same simulator, with no admin token configured."""
    settings = deployment.settings.model_copy(
        update={
            "auth": deployment.settings.auth.model_copy(update={"admin_token": None}),
            "database": DatabaseSettings(url=f"sqlite:///{tmp_path / 'other.db'}"),
            "jobs": JobsSettings(var_dir=str(tmp_path / "other-var"), poll_max_delay=0.05),
        }
    )
    with BackgroundServer(create_app(settings)) as server:
        yield server.url


async def test_without_an_admin_token_the_dashboard_is_off(without_admin: str) -> None:
    async with httpx.AsyncClient(base_url=without_admin) as client:
        for method, path in (("GET", "/dashboard"), ("GET", "/dashboard/login")):
            response = await client.request(method, path)
            assert response.status_code == 403
            assert "BACKBEAT_AUTH__ADMIN_TOKEN" in response.text
        posted = await client.post("/dashboard/login", data={"token": "anything"})
        assert posted.status_code == 403
        assert "set-cookie" not in posted.headers
        data = await client.get("/dashboard/data", headers={"Authorization": "Bearer anything"})
        assert data.status_code == 403
        assert "disabled" in data.json()["error"]["message"]
