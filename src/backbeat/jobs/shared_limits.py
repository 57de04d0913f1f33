"""The user-processing limit of `limits.py` shared by every process on one Redis (distributed
mode: `backbeat worker` processes on many machines), with the same `slot(user_id)` semantics.

State, under one hash tag so a cluster keeps it in one slot (lua/user_slots.lua does the rest):

    {key}:leases      zset: user → lease expiry      {key}:starts      hash: user → start time
    {key}:holders     hash: user → jobs holding it    {key}:next_start  the latest start given

- Leases: while this process holds users, a task renews their leases every `lease_ttl / 3`
  (real seconds, like the job heartbeat). A killed worker stops renewing, and the next admission
  after its lease ran out purges its users (a user whose jobs also run elsewhere keeps its
  lease, so the dead jobs' count goes one lease after its last live job). A renewal that finds
  its user purged (this process lost Redis for a whole lease) counts it again: the job still
  runs here.
- Time: `now` is the injected clock's wall time, passed to the scripts: expiries and starts are
  compared across machines, so their clocks must agree (NTP) to well under the delay.
- Full: waiters poll every `poll` seconds. A place frees when a job ends or a lease expires, both
  rare next to the poll and the inter-user delay that follows anyway; pub/sub would still need
  the poll for expiries. Polling is not FIFO across processes; any waiter may take a free place.
- Redis errors while taking a place are raised: the runner retries the job later, and a job
  never runs outside the limit. Errors while renewing or leaving are logged, not raised (a job
  that ran is not failed for its bookkeeping): the lease then expires on its own.
- Cancellation: a waiter holds nothing; an admission cut off in flight is given back; leaving
  is shielded, so it finishes even when the body raised or the task is cancelled again.
- Keys expire a day after the last write, so a deployment that goes away leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from functools import cache
from importlib.resources import files
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.typing import EncodableT

from backbeat.clock import Clock, SystemClock

log = logging.getLogger(__name__)

KEY_TTL = 86_400.0  # seconds the keys outlive their last write
FULL = "full"


@cache
def lua_source() -> str:
    return (files("backbeat.jobs") / "lua" / "user_slots.lua").read_text("utf-8")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisUserLimiter:
    def __init__(
        self,
        client: aioredis.Redis,
        key: str,
        max_users: int,
        inter_user_delay: float,
        *,
        lease_ttl: float = 60.0,
        poll: float = 0.5,
        clock: Clock | None = None,
    ) -> None:
        if max_users < 1:
            raise ValueError("max_users must be at least 1")
        if lease_ttl <= 0 or poll <= 0:
            raise ValueError("lease_ttl and poll must be positive")
        self.client = client
        self.key = key
        self.max_users = max_users
        self.inter_user_delay = max(0.0, inter_user_delay)
        self.lease_ttl = lease_ttl
        self.poll = poll
        self._clock: Clock = clock or SystemClock()
        self._keys = [f"{{{key}}}:{name}" for name in ("leases", "holders", "starts", "next_start")]
        self._key_ttl_ms = math.ceil(max(KEY_TTL, 2 * lease_ttl) * 1000)
        self._script = client.register_script(lua_source())  # EVALSHA, reloaded after a flush
        self._held: dict[str, int] = {}  # user → this process's jobs holding it
        self._renewer: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()  # leaves and give-backs in flight
        self._owns_client = False

    @classmethod
    def from_url(
        cls,
        url: str,
        key: str,
        max_users: int,
        inter_user_delay: float,
        *,
        lease_ttl: float = 60.0,
        poll: float = 0.5,
        clock: Clock | None = None,
    ) -> RedisUserLimiter:
        """A client of its own, closed by `close()`. The default client has no socket timeout: a
        hung Redis could stall a renewal past the lease. Bound one call to `lease_ttl / 3` (2 tries
        × (connect + read) × lease_ttl / 12), as the scheduler lease does."""
        timeout = lease_ttl / 12
        client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        limiter = cls(
            client, key, max_users, inter_user_delay, lease_ttl=lease_ttl, poll=poll, clock=clock
        )
        limiter._owns_client = True
        return limiter

    @property
    def held_users(self) -> int:
        """Users this process holds a place for (every process counts in `max_users`)."""
        return len(self._held)

    @asynccontextmanager
    async def slot(self, user_id: str) -> AsyncIterator[None]:
        """Hold a place for `user_id` while the body runs; waits for a free place, then for the
        inter-user delay. Raises Redis' errors if it cannot take one."""
        start = await self._admit(user_id)
        self._hold(user_id)
        try:
            wait = start - self._clock.time()
            if wait > 0:
                await self._clock.sleep(wait)
            yield
        finally:
            self._unhold(user_id)
            leave = self._spawn(self._leave(user_id))
            await asyncio.shield(leave)  # cancelled again meanwhile: the leave still finishes

    async def renew(self) -> None:
        """Extend the leases of every user this process holds, now (the renewal task does this
        every `lease_ttl / 3`)."""
        if not self._held:
            return
        pairs: list[EncodableT] = [v for user, n in self._held.items() for v in (user, n)]
        lost = await self._call("renew", *pairs)
        for user in map(_text, lost):
            log.warning("user slot %s: the lease of %s had expired; taken again", self.key, user)

    async def close(self) -> None:
        """Stop renewing and let leaves in flight finish (then close an owned client)."""
        if self._renewer is not None:
            self._renewer.cancel()
            self._renewer = None
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._owns_client:
            await self.client.aclose()

    async def _admit(self, user_id: str) -> float:
        while True:
            call = asyncio.ensure_future(
                self._call("admit", user_id, self.max_users, self.inter_user_delay)
            )
            try:
                reply = _text(await asyncio.shield(call))
            except asyncio.CancelledError:
                # The script may have run before the reply came: give back what it took.
                self._spawn(self._give_back(call, user_id))
                raise
            if reply != FULL:
                return float(reply)
            await self._clock.sleep(self.poll)

    async def _give_back(self, call: asyncio.Future[Any], user_id: str) -> None:
        try:
            reply = _text(await call)
        except Exception:
            return  # it failed: nothing was taken (or the lease will expire)
        if reply != FULL:
            await self._leave(user_id)

    async def _leave(self, user_id: str) -> None:
        try:
            await self._call("leave", user_id)
        except Exception as error:
            log.warning(
                "user slot %s: leaving %s failed, its lease will expire (%s)",
                self.key,
                user_id,
                error,
            )

    def _hold(self, user_id: str) -> None:
        self._held[user_id] = self._held.get(user_id, 0) + 1
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew_forever(), name=f"renew {self.key}")

    def _unhold(self, user_id: str) -> None:
        left = self._held[user_id] - 1
        if left:
            self._held[user_id] = left
        else:
            del self._held[user_id]
        if not self._held and self._renewer is not None:
            self._renewer.cancel()
            self._renewer = None

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease_ttl / 3)
            try:
                await self.renew()
            except Exception as error:  # the next renewal may get through before the expiry
                log.warning("user slot %s: renewal failed (%s)", self.key, error)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _call(self, op: str, *args: EncodableT) -> Any:
        now = repr(self._clock.time())
        return await self._script(
            keys=self._keys, args=[op, now, self.lease_ttl, self._key_ttl_ms, *args]
        )
