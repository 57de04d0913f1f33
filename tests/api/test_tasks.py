"""`GET /api/tasks/{id}` on the real application: lifespan, embedded consumers, error bodies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backbeat.api import create_app
from backbeat.config import (
    ApiSettings,
    AuthSettings,
    DatabaseSettings,
    JobsSettings,
    SecuritySettings,
    Settings,
)
from backbeat.domain.services import Services
from backbeat.errors import TooManyRequests, UpstreamError, UpstreamNotFound
from backbeat.jobs import JobKind, JobRecord
from backbeat.jobs.runtime import Contribution, JobContext, JobRuntime
from backbeat.ratelimit import SlotTimeout, UpstreamBanned


async def echo(job: JobRecord) -> Any:
    return {"echo": job.payload["say"]}


async def boom(job: JobRecord) -> Any:
    raise ValueError("the service broke")


def kinds(context: JobContext) -> Contribution:
    return Contribution(
        kinds=[
            JobKind("echo", "default", echo, per_user=False),
            JobKind("boom", "default", boom, per_user=False),
        ]
    )


@pytest.fixture
async def app(tmp_path: Path, token_key: str) -> AsyncIterator[FastAPI]:
    """The application with its lifespan running (database, job runtime, consumers)."""
    settings = Settings(
        environment="test",
        redis_url=None,
        database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'api.db'}"),
        security=SecuritySettings(token_keys=[token_key]),
        auth=AuthSettings(session_secret="api-test-secret"),
        jobs=JobsSettings(var_dir=str(tmp_path / "var"), poll_max_delay=0.05),
        api=ApiSettings(consumers="auto"),  # no Redis: embedded
    )
    application = create_app(settings, plugins=[kinds])
    async with application.router.lifespan_context(application):
        yield application


async def signed_in(app: FastAPI, spotify_id: str) -> tuple[str, dict[str, str]]:
    """A user and the headers of an API token of theirs."""
    services: Services = app.state.services
    user = await services.users.find_or_create(spotify_id)
    token = await services.sessions.issue(user.id, "api")
    return user.id, {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Alice's client (an API token of hers)."""
    user_id, headers = await signed_in(app, "alice")
    app.state.alice = user_id
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://backbeat", headers=headers
    ) as client:
        yield client


async def enqueue(app: FastAPI, kind: str, payload: dict[str, Any]) -> str:
    runtime: JobRuntime = app.state.jobs
    enqueued = await runtime.enqueuer.enqueue(kind, payload, user_id=app.state.alice)
    return enqueued.job.id


async def poll(
    client: httpx.AsyncClient, task_id: str, done: Callable[[dict[str, Any]], bool]
) -> Any:
    deadline = time.monotonic() + 15
    while True:
        body = (await client.get(f"/api/tasks/{task_id}")).json()
        if done(body) or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.05)  # polling a consumer thread, not waiting out a rate window


async def test_a_task_runs_in_the_api_process_and_reports_its_result(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    task_id = await enqueue(app, "echo", {"say": "hi"})
    task = await poll(client, task_id, lambda body: body["status"] == "succeeded")
    assert task["task_id"] == task_id
    assert (task["status"], task["result"], task["error"]) == ("succeeded", {"echo": "hi"}, None)
    assert (task["kind"], task["priority"], task["attempts"]) == ("echo", "normal", 1)
    assert task["finished_at"] >= task["started_at"] >= task["enqueued_at"]
    metrics = (await client.get("/metrics")).text
    assert 'backbeat_job_outcomes_total{kind="echo",status="succeeded"} 1.0' in metrics


async def test_a_failing_task_shows_its_error_and_next_attempt(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    task_id = await enqueue(app, "boom", {})
    task = await poll(client, task_id, lambda body: body["status"] == "retrying")
    assert task["status"] == "retrying"
    assert task["error"] == "ValueError: the service broke"
    assert (task["attempts"], task["max_attempts"]) == (1, 4)
    assert task["run_at"] > task["started_at"]  # two minutes later, by default


async def test_an_unknown_task_is_a_404_with_a_message(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/tasks/no-such-task")
    assert response.status_code == 404
    assert response.json() == {"error": {"status": 404, "message": "no task 'no-such-task'"}}


async def test_tasks_are_their_users_alone(app: FastAPI, client: httpx.AsyncClient) -> None:
    task_id = await enqueue(app, "echo", {"say": "mine"})
    _, bobs = await signed_in(app, "bob")
    response = await client.get(f"/api/tasks/{task_id}", headers=bobs)
    assert response.status_code == 404  # the same answer as for a task that does not exist
    assert response.json()["error"]["message"] == f"no task {task_id!r}"
    anonymous = await client.get(f"/api/tasks/{task_id}", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    forged = await client.get(f"/api/tasks/{task_id}", headers={"Authorization": "Bearer x.y.z"})
    assert forged.status_code == 401


@pytest.mark.parametrize(
    ("make_error", "status", "retry_after"),
    [
        (lambda: UpstreamNotFound("spotify", "tracks", 404, "no such track"), 404, None),
        (lambda: TooManyRequests("ingest", 41.5), 429, "42"),
        (lambda: UpstreamError("spotify", "artist", 400, "Invalid base62 id"), 422, None),
        (lambda: UpstreamError("spotify", "playlist", 409, "conflict"), 502, None),
        (lambda: UpstreamBanned("spotify:app", time.time() + 3599.5), 503, "3600"),
        (lambda: SlotTimeout("spotify:app", 5.0, 12.2, "busy"), 503, "13"),
    ],
)
async def test_errors_map_to_statuses_in_one_place(
    app: FastAPI,
    client: httpx.AsyncClient,
    make_error: Callable[[], Exception],
    status: int,
    retry_after: str | None,
) -> None:
    error = make_error()

    async def fail() -> None:
        raise error

    app.add_api_route("/fail", fail)
    response = await client.get("/fail")
    assert response.status_code == status
    assert response.json()["error"]["message"] == str(error)
    assert response.headers.get("retry-after") == retry_after


async def test_health_reports_the_database_and_the_queues(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": "ok",
            "limiter": "ok",
            "queues": {"spotify": 0, "default": 0, "leaderboard": 0, "insights": 0},
        },
    }
    assert (await client.get("/health/live")).json() == {"status": "ok"}


async def test_health_is_503_when_the_queues_do_not_answer(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime: JobRuntime = app.state.jobs

    def unreachable(queue: str) -> int:
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(runtime.queues, "pending", unreachable)
    response = await client.get("/health")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {
            "database": "ok",
            "limiter": "ok",
            "queues": "unavailable: ConnectionError",
        },
    }


async def test_json_metrics_of_the_limiter_and_the_jobs(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    task_id = await enqueue(app, "echo", {"say": "count me"})
    await poll(client, task_id, lambda body: body["status"] == "succeeded")
    jobs = (await client.get("/metrics/jobs")).json()
    assert jobs["status_counts"]["succeeded"] == 1
    assert jobs["total_jobs"] == sum(jobs["status_counts"].values()) == 1
    assert set(jobs["queues"]) == {"spotify", "default", "leaderboard", "insights"}
    assert set(jobs["scheduled"]) == set(jobs["queues"])
    assert jobs["running"] is True  # embedded: this process consumes
    limiter = (await client.get("/metrics/rate-limiter")).json()
    assert limiter["limits"] == {"read": 80, "write": 30, "batch": 20}
    assert limiter["current_usage"] == {"read": 0, "write": 0, "batch": 0}
    assert limiter["backoff_multiplier"] == 1.0
    assert set(limiter["apps"]) == {"spotify:backbeat-dev", "reccobeats"}
