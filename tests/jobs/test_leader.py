"""Leader leases against a real Redis (DB 15, a unique key per test) and real lock files."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from backbeat.jobs.leader import FileLease, LeaderLoop, RedisLease


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def key(client: redis.Redis) -> Iterator[str]:
    key = f"backbeat:test:leader:{uuid.uuid4().hex}"
    yield key
    client.delete(key)


def test_only_one_of_two_acquires(client: redis.Redis, key: str) -> None:
    first, second = RedisLease(client, key), RedisLease(client, key)
    assert first.acquire()
    assert not second.acquire()
    assert first.held
    assert not second.held
    assert client.get(key) == first.token.encode()


def test_owner_is_the_token(client: redis.Redis, key: str) -> None:
    lease = RedisLease(client, key, owner="scheduler-a")
    assert lease.acquire()
    assert client.get(key) == b"scheduler-a"


def test_holder_renews_the_ttl(client: redis.Redis, key: str) -> None:
    lease = RedisLease(client, key, ttl=30.0)
    assert lease.acquire()
    client.pexpire(key, 500)
    assert lease.acquire()
    assert client.pttl(key) > 20_000


def test_release_by_a_non_holder_keeps_the_key(client: redis.Redis, key: str) -> None:
    holder, other = RedisLease(client, key), RedisLease(client, key)
    assert holder.acquire()
    assert not other.acquire()
    other.release()
    assert client.get(key) == holder.token.encode()
    holder.release()
    assert client.exists(key) == 0
    assert not holder.held


def test_another_takes_over_after_expiry(client: redis.Redis, key: str) -> None:
    former, successor = RedisLease(client, key), RedisLease(client, key)
    assert former.acquire()
    client.delete(key)  # what the TTL does to a leader that stopped renewing
    assert successor.acquire()
    assert not former.acquire()
    assert not former.held
    assert client.get(key) == successor.token.encode()


def test_unreachable_redis_is_not_leadership(caplog: pytest.LogCaptureFixture) -> None:
    lease = RedisLease.from_url("redis://127.0.0.1:1/0", "backbeat:test:leader", ttl=3.0)
    assert not lease.acquire()
    assert not lease.held
    lease.release()  # also tolerated
    assert "Redis unavailable" in caplog.text


def test_loop_rejects_an_interval_too_close_to_the_ttl(client: redis.Redis, key: str) -> None:
    with pytest.raises(ValueError, match="ttl"):
        LeaderLoop(RedisLease(client, key, ttl=20.0), _nothing, _nothing, interval=10.0)
    LeaderLoop(RedisLease(client, key, ttl=30.0), _nothing, _nothing, interval=10.0)


def test_file_lease_excludes_a_second_open_in_this_process(tmp_path: Path) -> None:
    path = tmp_path / "var" / "run" / "scheduler.lock"
    first, second = FileLease(path), FileLease(path)
    assert first.acquire()
    assert first.acquire()  # re-polling while held keeps the same lock
    assert not second.acquire()
    assert not second.held
    first.release()
    assert not first.held
    assert second.acquire()
    assert not first.acquire()
    second.release()


def test_file_lease_excludes_another_process(tmp_path: Path) -> None:
    path = tmp_path / "scheduler.lock"
    lease = FileLease(path)
    assert lease.acquire()
    # Plain fcntl in the child: importing backbeat there would cost seconds of startup.
    probe = (
        "import fcntl, sys\n"
        "f = open(sys.argv[1], 'ab')\n"
        "try: fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError: sys.exit(3)\n"
    )
    taken = subprocess.run([sys.executable, "-c", probe, str(path)], check=False)
    assert taken.returncode == 3
    lease.release()
    free = subprocess.run([sys.executable, "-c", probe, str(path)], check=False)
    assert free.returncode == 0  # and the child's exit dropped its lock:
    assert lease.acquire()
    lease.release()


class ScriptedLease:
    """Answers acquire() from a list, to drive transitions without a server."""

    def __init__(self, answers: list[bool]) -> None:
        self.answers = answers
        self.released = 0
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    def acquire(self) -> bool:
        self._held = self.answers.pop(0)
        return self._held

    def release(self) -> None:
        self.released += 1
        self._held = False


def _nothing() -> None:
    pass


def test_step_reports_each_transition_once() -> None:
    events: list[str] = []
    loop = LeaderLoop(
        ScriptedLease([False, True, True, True, False, False, True]),
        lambda: events.append("elected"),
        lambda: events.append("deposed"),
    )
    leading = [loop.step() for _ in range(7)]
    assert leading == [False, True, True, True, False, False, True]
    assert events == ["elected", "deposed", "elected"]


def test_failed_start_is_not_leadership() -> None:
    def broken() -> None:
        raise RuntimeError("scheduler failed to start")

    deposed: list[bool] = []
    lease = ScriptedLease([True])
    loop = LeaderLoop(lease, broken, lambda: deposed.append(True))
    with pytest.raises(RuntimeError):
        loop.run(threading.Event())
    assert not loop.leading
    assert deposed == []
    assert lease.released == 1


def test_run_stops_promptly_and_releases(tmp_path: Path) -> None:
    path = tmp_path / "scheduler.lock"
    elected, deposed, stop = threading.Event(), threading.Event(), threading.Event()
    loop = LeaderLoop(FileLease(path), elected.set, deposed.set, interval=3600.0)
    thread = threading.Thread(target=loop.run, args=(stop,))
    thread.start()
    try:
        assert elected.wait(5)
        assert not FileLease(path).acquire()  # a failed try closes its file itself
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()  # the hour-long wait ended with the event
    assert deposed.is_set()
    assert not loop.lease.held
    successor = FileLease(path)
    assert successor.acquire()
    successor.release()


def test_run_with_redis_leases_elects_one(client: redis.Redis, key: str) -> None:
    first = LeaderLoop(RedisLease(client, key), _nothing, _nothing)
    second = LeaderLoop(RedisLease(client, key), _nothing, _nothing)
    assert [first.step(), second.step(), first.step(), second.step()] == [True, False] * 2
    client.delete(key)
    assert second.step()
    assert not first.step()
    stop = threading.Event()
    stop.set()
    second.run(stop)  # already stopped: deposes and releases without polling again
    assert client.exists(key) == 0
