"""The limiter's state in Redis (`redis://…`), shared by every process: the algorithm of
backends/memory.py as one Lua script per operation, on Redis' own clock (TIME) unless a clock is
injected (tests). Keys of one app share a hash tag, so a cluster keeps them in one slot:

    {prefix}:{<app>}:state         hash: run id, ceiling (as last lowered, and the level that
                                   drew that 429), pause, ban, warm-up, pacing, counters
    {prefix}:{<app>}:w:<window>    zset: one member per slot taken, scored by grant time
                                   until the call's answer came back, then by that time
    {prefix}:{<app>}:leases        zset: lease → expiry
    {prefix}:{<app>}:waiters:<p>   zset per priority value: waiter → expiry
    {prefix}:{<app>}:ww:<window>   zset per window: who waits on it → expiry (spreads retries)
    {prefix}:{<app>}:out:<window>  zset per window: slots of calls not answered yet → grant time
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT

from backbeat.ratelimit.backends.base import Acquire, Decision, DecisionReason, Outcome
from backbeat.ratelimit.backends.memory import WAITER_GRACE
from backbeat.ratelimit.clock import TimeSource
from backbeat.ratelimit.metrics import AppMetrics, WindowMetrics
from backbeat.ratelimit.policy import Policy, Window
from backbeat.ratelimit.rate import Priority

KEY_MARGIN = 60.0  # seconds a log outlives the longest wait it can still answer
# The state (and its run id) outlives idle spells by far: if it expired while processes still
# remember its run id, they would take it for a lost store and warm up for nothing.
STATE_TTL = 86_400.0
# A client made here answers fast when Redis is gone; the Limiter retries and falls back itself.
CONNECT_TIMEOUT = 1.0
SOCKET_TIMEOUT = 2.0


@cache
def lua_source(name: str) -> str:
    """`name`.lua with the shared prelude in front: still one self-contained script."""
    folder = files("backbeat.ratelimit") / "lua"
    return (folder / "common.lua").read_text("utf-8") + (folder / f"{name}.lua").read_text("utf-8")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisBackend:
    def __init__(
        self, client: aioredis.Redis, *, clock: TimeSource | None = None, prefix: str = "bb:rl"
    ) -> None:
        self.client = client
        self.clock = clock
        self.prefix = prefix
        self._owns_client = False
        # EVALSHA, loading the script again after SCRIPT FLUSH or a restart.
        self._acquire = client.register_script(lua_source("acquire"))
        self._finish = client.register_script(lua_source("finish"))
        self._snapshot = client.register_script(lua_source("snapshot"))

    @classmethod
    def from_url(
        cls, url: str, *, clock: TimeSource | None = None, prefix: str = "bb:rl"
    ) -> RedisBackend:
        """Options in the URL's query (e.g. `?socket_timeout=5`) override the defaults here."""
        client = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=SOCKET_TIMEOUT,
            retry=Retry(NoBackoff(), 1),  # one reconnect for a stale pooled connection
        )
        backend = cls(client, clock=clock, prefix=prefix)
        backend._owns_client = True
        return backend

    def _base(self, app: str) -> str:
        return f"{self.prefix}:{{{app}}}"  # the braces: one hash tag, one cluster slot per app

    def keys(self, app: str, windows: Sequence[Window]) -> list[str]:
        """The keys of acquire.lua and snapshot.lua, in their order."""
        base = self._base(app)
        return [
            f"{base}:state",
            f"{base}:leases",
            *(f"{base}:waiters:{p.value}" for p in Priority),
            *(f"{base}:w:{window.key}" for window in windows),
        ]

    def _now(self) -> str:
        return "" if self.clock is None else repr(self.clock.time())

    async def _call(self, script: AsyncScript, keys: list[str], args: list[EncodableT]) -> Any:
        """Run a script; an unreachable store surfaces as Python's own ConnectionError and
        TimeoutError (redis-py's are not OSErrors), which the Limiter fails closed on."""
        try:
            return await script(keys=keys, args=args)
        except RedisTimeoutError as error:
            raise TimeoutError(f"Redis timed out: {error}") from error
        except (RedisConnectionError, ReadOnlyError) as error:
            # ReadOnlyError: a failover left this client on a replica for now.
            raise ConnectionError(f"Redis is unreachable: {error}") from error

    async def acquire(self, request: Acquire) -> Decision:
        policy = request.policy
        key_ttl, state_ttl = _ttls_ms(policy)
        args: list[EncodableT] = [
            self._now(),
            uuid.uuid4().hex,  # the run id, if this call finds no state
            request.known_run or "",
            request.priority.value,
            request.cost,
            request.waiter,
            "" if policy.concurrency is None else policy.concurrency,
            policy.lease_ttl,
            policy.reserve_share,
            1 if policy.pace else 0,
            policy.recovery_step,
            policy.longest_period,
            policy.recovery_period,
            policy.forget_429_after,
            WAITER_GRACE,
            key_ttl,
            state_ttl,
            1 if request.held else 0,
            *_rates(request.windows),
        ]
        base = self._base(policy.app)
        waiting = [f"{base}:ww:{window.key}" for window in request.windows]
        out = [f"{base}:out:{window.key}" for window in request.windows]
        keys = [*self.keys(policy.app, request.windows), *waiting, *out]
        reply = await self._call(self._acquire, keys, args)
        granted, reason, wait, now, run_id, lease, ban_until, spread, slot = (
            _text(v) for v in reply
        )
        return Decision(
            granted=granted == "1",
            reason=cast(DecisionReason, reason),
            wait=float(wait),
            now=float(now),
            run_id=run_id,
            lease=lease or None,
            ban_until=float(ban_until) if ban_until else None,
            spread=float(spread),
            slot=int(slot) if slot else None,
        )

    async def finish(self, policy: Policy, outcome: Outcome) -> None:
        args: list[EncodableT] = [
            self._now(),
            outcome.lease or "",
            outcome.kind,
            outcome.granted_at,
            "" if outcome.retry_after is None else outcome.retry_after,
            policy.min_multiplier,
            policy.decrease_factor,
            policy.ban_threshold,
            policy.default_pause,
            policy.max_default_pause,
            _ttls_ms(policy)[1],
            *_ceiling_args(policy),
            "" if outcome.slot is None else outcome.slot,
            outcome.cost,
            _ttls_ms(policy)[0],
        ]
        base = self._base(policy.app)
        logs = [f"{base}:w:{window.key}" for window in outcome.windows]
        out = [f"{base}:out:{window.key}" for window in outcome.windows]
        await self._call(self._finish, [f"{base}:state", f"{base}:leases", *logs, *out], args)

    async def snapshot(self, policy: Policy) -> AppMetrics:
        windows = policy.windows_of_all()
        args: list[EncodableT] = [
            self._now(),
            policy.reserve_share,
            *_ceiling_args(policy),
            *_rates(windows),
        ]
        raw = await self._call(self._snapshot, self.keys(policy.app, windows), args)
        reply = [_text(v) for v in raw]
        multiplier, pause, ban, warming, in_flight, grants = reply[:6]
        rate, quota, banned, *waiters = (int(v) for v in reply[6:12])
        last_429 = float(reply[12])
        per_window = [int(v) for v in reply[13:]]
        return AppMetrics(
            app=policy.app,
            multiplier=float(multiplier),
            pause_remaining=float(pause),
            ban_remaining=float(ban),
            warming_up=warming == "1",
            in_flight=int(in_flight),
            grants=int(grants),
            http_429={"rate": rate, "quota": quota, "ban": banned},
            waiters={p.name: count for p, count in zip(Priority, waiters, strict=True)},
            last_429=last_429,
            windows=[
                WindowMetrics(
                    window.key, window.rate.limit, window.rate.period, *per_window[i : i + 3]
                )
                for window, i in zip(windows, range(0, len(per_window), 3), strict=True)
            ],
        )

    def forget(self, app: str) -> None:
        """Nothing held here: the app's keys expire by themselves."""

    async def close(self) -> None:
        if self._owns_client:
            await self.client.aclose()


def _rates(windows: Sequence[Window]) -> list[EncodableT]:
    return [value for window in windows for value in (window.rate.limit, window.rate.period)]


def _ceiling_args(policy: Policy) -> list[EncodableT]:
    """What common.lua's `ceiling` needs besides the state."""
    return [policy.recovery_step, policy.recovery_period, policy.forget_429_after]


def _ttls_ms(policy: Policy) -> tuple[int, int]:
    """Lifetimes of the logs, leases and waiters, and of the state: long enough for the longest
    window, lease and wait (a pause never exceeds the ban threshold), so idle apps vanish."""
    keys = max(2 * policy.longest_period, policy.lease_ttl, policy.ban_threshold + WAITER_GRACE)
    keys += KEY_MARGIN
    return math.ceil(keys * 1000), math.ceil(max(STATE_TTL, keys) * 1000)
