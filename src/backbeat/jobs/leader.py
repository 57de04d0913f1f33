"""Leader election for the periodic-task scheduler: whichever process holds a lease fires cron
tasks, every other scheduler (or embedded API process) waits its turn.

`RedisLease` is a key with a TTL that the leader keeps renewing; if the leader dies or loses Redis,
the key expires and another process takes over. `FileLease` is an flock for embedded mode (one
machine, SQLite queues): the OS drops it when the holder dies. `LeaderLoop` polls a lease on a
plain thread and turns gained/lost into `on_elected`/`on_deposed` calls.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

# Renew only our own key; take it only if nobody holds it. One script, so GET and SET are atomic.
_ACQUIRE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
elseif redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
return 0
"""

# Delete only our own key: after an expiry the key may belong to the new leader.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Lease(Protocol):
    def acquire(self) -> bool:
        """Take the lease, or renew it if we hold it; never blocks waiting for it."""
        ...

    def release(self) -> None: ...

    @property
    def held(self) -> bool: ...


class RedisLease:
    def __init__(
        self, client: redis.Redis, key: str, ttl: float = 30.0, owner: str | None = None
    ) -> None:
        self.client = client
        self.key = key
        self.ttl = ttl
        # The uuid keeps two leases in one process (or a recycled pid) apart; host/pid help humans.
        self.token = owner or f"{uuid.uuid4().hex}:{socket.gethostname()}:{os.getpid()}"
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        self._held = False

    @classmethod
    def from_url(cls, url: str, key: str, ttl: float = 30.0) -> RedisLease:
        # The default client retries 10 times with no socket timeout: a hung Redis could block
        # acquire past the TTL while we still believe we lead. Bound one acquire to ttl/3
        # (2 tries × (connect + read) × ttl/12), so interval + acquire stays under the TTL.
        timeout = ttl / 12
        client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        return cls(client, key, ttl)

    @property
    def held(self) -> bool:
        return self._held

    def acquire(self) -> bool:
        try:
            self._held = bool(self._acquire(keys=[self.key], args=[self.token, self._ttl_ms]))
        except redis.RedisError as error:
            # Without Redis we cannot know whether someone else leads, so we must not.
            log.warning("leader lease %s: Redis unavailable (%s)", self.key, error)
            self._held = False
        return self._held

    def release(self) -> None:
        # Compare-and-delete even when we think we don't hold it: an acquire whose reply was lost
        # may have set the key, and deleting only our own token is always safe.
        self._held = False
        try:
            self._release(keys=[self.key], args=[self.token])
        except redis.RedisError as error:
            log.warning("leader lease %s: release failed, it will expire (%s)", self.key, error)

    @property
    def _ttl_ms(self) -> int:
        return max(1, round(self.ttl * 1000))


class FileLease:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self) -> bool:
        if self._file is not None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            file = self.path.open("a+b")
        except OSError as error:
            log.warning("leader lease %s: cannot open (%s)", self.path, error)
            return False
        try:
            # flock belongs to the open file description, so even another open() in this
            # process conflicts; the OS releases it when the holder dies.
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            file.close()  # don't keep a descriptor per failed poll
            return False
        self._file = file
        return True

    def release(self) -> None:
        if self._file is None:
            return
        file, self._file = self._file, None
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)
        finally:
            file.close()


class LeaderLoop:
    """Polls `lease` every `interval` seconds. With a TTL lease, keep `interval <= ttl / 3`, so a
    leader renews at least twice before its key could expire."""

    def __init__(
        self,
        lease: Lease,
        on_elected: Callable[[], None],
        on_deposed: Callable[[], None],
        interval: float = 10.0,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        ttl = getattr(lease, "ttl", None)  # FileLease has none: the OS ends it, not a clock
        if ttl is not None and ttl < 3 * interval:
            raise ValueError(f"lease ttl {ttl}s is under 3 × interval ({interval}s)")
        self.lease = lease
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.interval = interval
        self.leading = False

    def step(self) -> bool:
        """One poll: acquire or renew, then report a change. Returns whether we lead."""
        held = self.lease.acquire()
        if held and not self.leading:
            log.info("elected leader")
            self.on_elected()
            self.leading = True  # only once started: a failed start is not leadership
        elif not held and self.leading:
            log.info("deposed: lost the leader lease")
            self.leading = False  # we lost the lease whatever on_deposed does
            self.on_deposed()
        return self.leading

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self.step()
                stop.wait(self.interval)
        finally:
            try:
                if self.leading:
                    log.info("stepping down as leader")
                    self.leading = False
                    self.on_deposed()
            finally:
                self.lease.release()
