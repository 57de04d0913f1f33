"""No Spotify token in plaintext anywhere backbeat writes: its database (every row of every
table, and every byte of every file it keeps), its log output, and what its API answers —
through a real login, an ingest with a refreshed token, an organizer scan broken by the
upstream, API errors, and a rotation of the encryption key.

The simulator runs in this process with a recorder in front of its accounts service, so the
test knows every access token, refresh token and authorization code it issued; backbeat runs
as `backbeat serve` (its production logging, redaction included) and `backbeat keys rotate`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import inspect, select, table, text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backbeat.config import SimulatorSettings
from backbeat.db.crypto import EncryptedText
from backbeat.db.models import Base
from backbeat.simulator import create_app as create_simulator
from backbeat.simulator.server import BackgroundServer, free_port
from tests.api.deployment import log_in_as
from tests.faults.report import Finding

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
BACKBEAT = str(Path(sys.executable).parent / "backbeat")


@dataclass
class Issued:
    """What the simulated accounts service handed out."""

    access: set[str] = field(default_factory=set)
    refresh: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)

    def secrets(self) -> dict[str, str]:
        kinds = {"access token": self.access, "refresh token": self.refresh}
        kinds["authorization code"] = self.codes
        return {value: kind for kind, values in kinds.items() for value in values}


class TokenRecorder:
    """ASGI middleware on the simulator: notes every token `/api/token` issues and every code
    `/authorize` redirects with."""

    def __init__(self, app: ASGIApp, issued: Issued) -> None:
        self.app = app
        self.issued = issued

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path") if scope["type"] == "http" else None
        if path not in ("/api/token", "/authorize"):
            await self.app(scope, receive, send)
            return
        body: list[bytes] = []

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start" and path == "/authorize":
                for name, value in message.get("headers", []):
                    if name.lower() == b"location":
                        code = httpx.URL(value.decode()).params.get("code")
                        if code:
                            self.issued.codes.add(code)
            if message["type"] == "http.response.body" and path == "/api/token":
                body.append(message.get("body", b""))
                if not message.get("more_body"):
                    granted = json.loads(b"".join(body) or b"{}")
                    if granted.get("access_token"):
                        self.issued.access.add(granted["access_token"])
                    if granted.get("refresh_token"):
                        self.issued.refresh.add(granted["refresh_token"])
            await send(message)

        await self.app(scope, receive, record)


class Served:
    """`backbeat serve` and `backbeat keys rotate` on one SQLite file, with their output."""

    def __init__(self, tmp_path: Path, sim_url: str) -> None:
        self.tmp_path = tmp_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = tmp_path / "backbeat.db"
        self.env = {
            "BACKBEAT_ENVIRONMENT": "test",
            "BACKBEAT_DATABASE__URL": f"sqlite:///{self.database}",
            "BACKBEAT_AUTH__SESSION_SECRET": "secrets-test-session-secret",
            "BACKBEAT_AUTH__REDIRECT_URI": f"{self.url}/auth/callback",
            "BACKBEAT_AUTH__COOKIE_SECURE": "false",
            "BACKBEAT_SPOTIFY__API_URL": f"{sim_url}/v1",
            "BACKBEAT_SPOTIFY__ACCOUNTS_URL": sim_url,
            "BACKBEAT_RECCOBEATS__URL": f"{sim_url}/reccobeats",
            "BACKBEAT_JOBS__VAR_DIR": str(tmp_path / "var"),
            "BACKBEAT_JOBS__PREFIX": f"bbsecrets_{uuid.uuid4().hex[:8]}",
            "BACKBEAT_JOBS__POLL_MAX_DELAY": "0.05",
            "BACKBEAT_JOBS__INTER_USER_DELAY": "0",
        }
        self.logs = tmp_path / "logs"
        self.logs.mkdir(parents=True)

    def environment(self, keys: list[str]) -> dict[str, str]:
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("BACKBEAT_") and name not in ("REDIS_URL", "DATABASE_URL")
        }
        return (
            inherited
            | self.env
            | {
                "BACKBEAT_SECURITY__TOKEN_KEYS": ",".join(keys),
                "PYTHONPATH": str(ROOT),
            }
        )

    @contextmanager
    def serve(self, keys: list[str]) -> Iterator[None]:
        log = self.logs / f"serve-{len(list(self.logs.glob('serve-*.log')))}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [BACKBEAT, "serve", "--port", str(self.port)],
                cwd=self.tmp_path,
                env=self.environment(keys),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if httpx.get(f"{self.url}/health/live", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)  # polling the process until it listens
            yield
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)

    def rotate(self, keys: list[str]) -> str:
        done = subprocess.run(
            [BACKBEAT, "keys", "rotate"],
            cwd=self.tmp_path,
            env=self.environment(keys),
            capture_output=True,
            text=True,
            timeout=60,
        )
        (self.logs / "rotate.log").write_text(done.stdout + done.stderr)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def output(self) -> str:
        return "".join(log.read_text() for log in sorted(self.logs.iterdir()))


@dataclass
class Answers:
    """Every response backbeat's API gave the test: status, headers, body."""

    port: int
    seen: list[tuple[int, str, str]] = field(default_factory=list)

    async def hook(self, response: httpx.Response) -> None:
        if response.url.port == self.port:
            await response.aread()
            headers = "\n".join(f"{k}: {v}" for k, v in response.headers.multi_items())
            self.seen.append((response.status_code, headers, response.text))

    def errors(self) -> list[tuple[int, str, str]]:
        return [answer for answer in self.seen if answer[0] >= 400]


@asynccontextmanager
async def browser(api: str, answers: Answers) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=api, follow_redirects=True, timeout=30, event_hooks={"response": [answers.hook]}
    ) as client:
        yield client


async def finished(client: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 40
    while True:
        task: dict[str, Any] = (await client.get(f"/api/tasks/{task_id}")).json()
        if task["status"] in ("succeeded", "failed", "retrying") or time.monotonic() > deadline:
            return task
        await asyncio.sleep(0.1)  # polling the server, as a client does


async def fault(sim: str, endpoint: str, status: int, times: int = 1) -> None:
    async with httpx.AsyncClient(base_url=sim) as client:
        spec = {"endpoint": endpoint, "status": status, "times": times}
        assert (await client.post("/_sim/faults", json=spec)).status_code == 200


async def clear_faults(sim: str) -> None:
    async with httpx.AsyncClient(base_url=sim) as client:
        assert (await client.delete("/_sim/faults")).status_code == 200


async def database_rows(path: Path) -> list[str]:
    """Every row of every table, as text (no cipher: what anyone reading the file sees)."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    rows: list[str] = []
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            for name in names:
                result = await connection.execute(select(text("*")).select_from(table(name)))
                rows += [f"{name}: {tuple(row)}" for row in result]
    finally:
        await engine.dispose()
    return rows


async def ciphertexts(path: Path) -> list[str]:
    """The stored values of every encrypted column."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    values: list[str] = []
    try:
        async with engine.connect() as connection:
            for source in Base.metadata.sorted_tables:
                for column in source.columns:
                    if isinstance(column.type, EncryptedText):
                        query = text(f'SELECT "{column.name}" FROM "{source.name}"')
                        values += [v for (v,) in await connection.execute(query) if v]
    finally:
        await engine.dispose()
    return values


def files_under(root: Path) -> Mapping[str, bytes]:
    """Every file backbeat kept: the database with its WAL, the job queues, the logs."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def leaks(secrets: Mapping[str, str], places: Mapping[str, str | bytes]) -> list[tuple[str, str]]:
    """(kind of secret, place) for every secret found in a place."""
    found = []
    for place, content in places.items():
        haystack = content if isinstance(content, bytes) else content.encode()
        for value, kind in secrets.items():
            if value.encode() in haystack:
                found.append((kind, place))
    return found


async def check_everywhere(
    served: Served, issued: Issued, answers: Answers, extra: Mapping[str, str] | None = None
) -> dict[str, int]:
    secrets = issued.secrets()
    rows = await database_rows(served.database)
    places: dict[str, str | bytes] = {f"row {n}": row for n, row in enumerate(rows)}
    places |= {f"file {name}": data for name, data in files_under(served.tmp_path).items()}
    places["log output"] = served.output()
    places |= {f"answer {n}": "\n".join(map(str, a)) for n, a in enumerate(answers.seen)}
    places |= dict(extra or {})
    assert not leaks(secrets, places), leaks(secrets, places)[:10]
    return {
        "rows": len(rows),
        "files": len(files_under(served.tmp_path)),
        "log lines": served.output().count("\n"),
        "API answers": len(answers.seen),
        "API error answers": len(answers.errors()),
    }


async def test_no_token_in_plaintext_in_the_database_logs_or_answers(
    tmp_path: Path, token_key: str, reliability: list[Finding]
) -> None:
    started = time.monotonic()
    issued = Issued()
    simulator = create_simulator(SimulatorSettings(artists=30, users=10))
    simulator.add_middleware(TokenRecorder, issued=issued)
    with BackgroundServer(simulator) as sim:
        served = Served(tmp_path / "backbeat", sim.url)
        answers = Answers(served.port)
        old_key, new_key = token_key, Fernet.generate_key().decode()

        with served.serve([old_key]):
            async with browser(served.url, answers) as alice, browser(served.url, answers) as bob:
                await log_in_as(alice, "user0001")
                await log_in_as(bob, "user0002")
                # An ingest whose first call finds the token refused: backbeat refreshes it.
                await fault(sim.url, "top_items", 401)
                accepted = await alice.post("/api/listening/ingest", json={})
                ingest = await finished(alice, accepted.json()["task_id"])
                assert ingest["status"] == "succeeded", ingest
                # An organizer scan the upstream breaks: a job error, stored and logged.
                settings = {"enabled": True, "by_language": False, "by_genre": True}
                assert (await bob.put("/api/organizer/settings", json=settings)).status_code == 200
                await fault(sim.url, "saved_tracks", 403, times=5)
                accepted = await bob.post("/api/organizer/scan")
                broken = await finished(bob, accepted.json()["task_id"])
                assert broken["status"] in ("retrying", "failed"), broken
                assert broken["error"]
                await clear_faults(sim.url)
                # API errors: the upstream refusing a search, a refused session, validation,
                # a missing task, an inbound limit.
                await fault(sim.url, "search", 400)
                refused_search = await alice.get("/api/search", params={"q": "love"})
                assert refused_search.status_code == 422, refused_search.text
                async with httpx.AsyncClient(base_url=served.url) as anonymous:
                    anonymous.event_hooks["response"] = [answers.hook]
                    assert (await anonymous.get("/api/users/me")).status_code == 401
                    # A Spotify token offered as a backbeat one: refused, neither echoed nor
                    # logged.
                    forged = {"Authorization": f"Bearer {next(iter(issued.access))}"}
                    assert (await anonymous.get("/api/users/me", headers=forged)).status_code == 401
                assert (await alice.get("/api/search")).status_code == 422
                assert (await alice.get("/api/tasks/nope")).status_code == 404
                for _ in range(3):
                    await bob.post("/api/organizer/scan")
                limited = await bob.post("/api/organizer/scan")
                assert limited.status_code == 429, limited.text
                assert (await alice.get("/api/users/me")).status_code == 200
        before_rotation = dict(issued.secrets())
        first = await check_everywhere(served, issued, answers)
        encrypted_before = await ciphertexts(served.database)
        assert encrypted_before
        stored = {Fernet(old_key).decrypt(value.encode()).decode() for value in encrypted_before}
        assert stored <= set(before_rotation)  # what is stored is what we search for

        # Rotation, in the documented order: every process gets the new key in front, the
        # rotation runs, then the old key goes.
        with served.serve([new_key, old_key]):
            rotated = served.rotate([new_key, old_key])
        with served.serve([new_key]):
            async with browser(served.url, answers) as alice:
                await log_in_as(alice, "user0001")  # a new session for the same user
                await fault(sim.url, "recently_played", 401)  # another refresh, new key
                accepted = await alice.post(
                    "/api/listening/ingest", json={"time_range": "long_term"}
                )
                after = await finished(alice, accepted.json()["task_id"])
                assert after["status"] == "succeeded", after
                await fault(sim.url, "search", 400)
                assert (await alice.get("/api/search", params={"q": "x"})).status_code == 422
        second = await check_everywhere(served, issued, answers, {"rotate output": rotated})
        encrypted_after = await ciphertexts(served.database)
        for value in encrypted_after:
            Fernet(new_key).decrypt(value.encode())  # readable with the new key alone
            with pytest.raises(InvalidToken):
                Fernet(old_key).decrypt(value.encode())
        plaintexts = {Fernet(new_key).decrypt(v.encode()).decode() for v in encrypted_after}
        assert plaintexts
        assert plaintexts <= set(issued.access | issued.refresh)  # we searched the right values

    reliability.append(
        Finding(
            fault="Tokens at rest, in logs and in answers",
            injected=(
                "Two real logins through the simulator's consent; an ingest with a 401 (token "
                "refreshed); an organizer scan failed by 403s from the upstream; API errors "
                "(upstream 400, 401, 422, 404, 429); a key rotation (`backbeat keys rotate`, "
                "old key then retired) and another refresh under the new key. Then every token "
                "and code the simulator issued was searched for in every table row, every file "
                "backbeat kept, all `backbeat serve` / `keys rotate` output and every API answer."
            ),
            observed={
                "secrets issued (access, refresh, codes)": [
                    len(issued.access),
                    len(issued.refresh),
                    len(issued.codes),
                ],
                "secrets issued before the rotation": len(before_rotation),
                "searched before the rotation": first,
                "searched after the rotation": second,
                "encrypted values re-encrypted by the rotation": rotated.strip(),
                "encrypted values readable with the old key after it": 0,
                "plaintext secrets found": 0,
                "test seconds": round(time.monotonic() - started, 1),
            },
        )
    )
