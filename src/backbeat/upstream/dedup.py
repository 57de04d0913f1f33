"""Identical in-flight GETs share one upstream call, in this process and across processes.

In this process, the first caller of a key starts a flight (a task) and every caller, the first
included, awaits it through `asyncio.shield`: a caller that gives up never cancels the call the
others wait for, and the flight's exception reaches all of them. Nothing is locked while waiting,
so other keys never wait behind a slow one.

Across processes (with a Redis client), a flight first takes the key's lock:

    {prefix}:lock:{<key>}            the leader's token, SET NX PX lock_ttl
    {prefix}:result:{<key>}:<token>  that leader's JSON result, kept result_ttl for its followers

Followers poll both keys in one MGET. The leader writes its result and frees its lock in one
script, so a lock gone without a result means the leader failed (or its lock expired): a follower
then tries to lead itself. Results are per token, so a follower never takes a previous flight's.
After `lock_ttl` of polling, or when Redis fails, a flight calls upstream itself: a duplicate
call is better than none. Keys share a hash tag, so a cluster keeps them in one slot.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar, cast

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from backbeat.clock import Clock, SystemClock

T = TypeVar("T")
log = logging.getLogger(__name__)

# KEYS: lock, result; ARGV: token, JSON result ('' when the leader failed), result TTL in ms.
_HAND_OFF = """
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_STORE_ERRORS = (RedisError, OSError)


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class Dedup:
    def __init__(
        self,
        redis: aioredis.Redis | None = None,
        *,
        prefix: str = "bb:dd",
        lock_ttl: float = 30.0,
        result_ttl: float = 10.0,
        poll_interval: float = 0.02,
        clock: Clock | None = None,
    ) -> None:
        """`lock_ttl` should outlast the slowest upstream call with its retries: past it, another
        process calls upstream too. `result_ttl` only needs to outlast one poll interval."""
        self.redis = redis
        self.prefix = prefix
        self.lock_ttl = lock_ttl
        self.result_ttl = result_ttl
        self.poll_interval = poll_interval
        self.clock: Clock = clock or SystemClock()
        self.leaders = 0  # calls of `produce` made here
        self.local_followers = 0  # callers that joined a flight of this process
        self.remote_followers = 0  # flights answered by another process's leader
        self._flights: dict[str, asyncio.Task[Any]] = {}
        self._hand_off = redis.register_script(_HAND_OFF) if redis is not None else None

    @property
    def in_flight(self) -> int:
        return len(self._flights)

    async def run(self, key: str, produce: Callable[[], Awaitable[T]], *, across: bool = True) -> T:
        """`produce`'s result, shared with every concurrent caller of `key`. It must be
        JSON-serializable; local callers share the very object (treat it as read-only), other
        processes get its JSON round trip. `across=False` shares it in this process only: for
        calls other processes almost never make at the same moment (one user's own data), where
        the lock and the hand-off of the whole answer would cost two round trips for nothing."""
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.create_task(self._fly(key, produce, across))
            self._flights[key] = flight
            flight.add_done_callback(partial(self._landed, key))
        else:
            self.local_followers += 1
        return cast(T, await asyncio.shield(flight))

    def _landed(self, key: str, flight: asyncio.Task[Any]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.cancelled():
            flight.exception()  # retrieved: its callers may all have given up

    async def _fly(self, key: str, produce: Callable[[], Awaitable[Any]], across: bool) -> Any:
        if self.redis is None or not across:
            self.leaders += 1
            return await produce()
        lock = f"{self.prefix}:lock:{{{key}}}"
        token = uuid.uuid4().hex
        deadline = self.clock.monotonic() + self.lock_ttl
        followed: str | None = None  # the token of the leader we wait for
        while self.clock.monotonic() < deadline:
            try:
                if followed is None:
                    if await self.redis.set(lock, token, nx=True, px=_ms(self.lock_ttl)):
                        return await self._lead(key, lock, token, produce)
                    followed = _text(await self.redis.get(lock))  # None: just freed, try again
                    continue
                result, holder = await self.redis.mget(self._result(key, followed), lock)
            except _STORE_ERRORS as error:
                log.warning("dedup across processes is off for this call: %s", error)
                break
            if result is not None:
                self.remote_followers += 1
                return orjson.loads(result)
            if _text(holder) != followed:
                followed = _text(holder)  # its leader failed: lead, or follow the next one
                continue
            await self.clock.sleep(self.poll_interval)
        self.leaders += 1
        return await produce()

    def _result(self, key: str, token: str) -> str:
        return f"{self.prefix}:result:{{{key}}}:{token}"

    async def _lead(
        self, key: str, lock: str, token: str, produce: Callable[[], Awaitable[Any]]
    ) -> Any:
        self.leaders += 1
        try:
            value = await produce()
            payload = orjson.dumps(value)
        except BaseException:
            await self._release(key, lock, token, b"")  # other processes take over at once
            raise
        await self._release(key, lock, token, payload)
        return value

    async def _release(self, key: str, lock: str, token: str, payload: bytes) -> None:
        assert self._hand_off is not None
        try:
            await self._hand_off(
                keys=[lock, self._result(key, token)], args=[token, payload, _ms(self.result_ttl)]
            )
        except _STORE_ERRORS as error:  # the lock expires by itself; followers then lead
            log.warning("dedup could not hand off %s: %s", key, error)
