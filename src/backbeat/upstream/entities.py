"""Batch gets answered per entity: each id from the response cache under its single GET's key,
else from a fetch of it already in flight in this process, else fetched with the other missing
ids in chunks of the endpoint's maximum.

Across users the same artists and tracks recur, but in ever different combinations, so a cache
keyed by whole chunks (`ids=a,b,c…`) barely hits; per entity it does, and single and batch gets
share their entries. Every fetched entity is stored as its single GET's answer; ids the upstream
does not have (null in a batch answer) are not: the ID registry keeps those verdicts.

A chunk is fetched by a task that every caller wanting one of its ids awaits through
`asyncio.shield` (as `Dedup` does for whole requests): a caller that gives up never cancels what
others wait for, and the task stores its entities even then. Chunks still go through `Dedup`, so
identical chunks are shared across processes too. The task runs with the priority of the caller
that started it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from backbeat.upstream.batch import DEFAULT_CONCURRENCY
from backbeat.upstream.call import Upstream

# A chunk of ids → each one's JSON in the chunk's order, None where the upstream has none.
FetchChunk = Callable[[list[str]], Awaitable[Sequence[Any]]]


@dataclass(frozen=True)
class EntityKind:
    batch: str  # the batch endpoint (`artists`): what the asked-for count is kept under
    single: str  # the single get's endpoint (`artist`): its cache TTL and key ...
    path: str  # ... and its path with `{}` for the id (`/artists/{}`)
    size: int  # ids per batch request at most


class EntityBatches:
    def __init__(self, upstream: Upstream, *, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.upstream = upstream
        self.concurrency = concurrency  # chunks in flight per `get`; the limiter bounds the whole
        self._flights: dict[tuple[str, str], asyncio.Task[dict[str, Any]]] = {}

    @property
    def in_flight(self) -> int:
        """Ids being fetched right now."""
        return len(self._flights)

    async def get(self, kind: EntityKind, ids: Sequence[str], fetch: FetchChunk) -> dict[str, Any]:
        """Each distinct id of `ids` → its JSON, or None where the upstream has none.

        Counts the chunks a plain batch get would send as asked for, whatever answers them."""
        wanted = list(dict.fromkeys(ids))
        self.upstream.asked(kind.batch, math.ceil(len(wanted) / kind.size))
        found = await self.upstream.cached_entities(kind.single, kind.path, wanted)
        missing = [i for i in wanted if i not in found]
        joined = {f for i in missing if (f := self._flights.get((kind.single, i))) is not None}
        mine = [i for i in missing if (kind.single, i) not in self._flights]
        gate = asyncio.Semaphore(self.concurrency)
        started = [
            self._start(kind, mine[at : at + kind.size], fetch, gate)
            for at in range(0, len(mine), kind.size)
        ]
        for answer in await asyncio.gather(*(asyncio.shield(f) for f in (*joined, *started))):
            found.update(answer)
        return {i: found.get(i) for i in wanted}

    def _start(
        self, kind: EntityKind, chunk: list[str], fetch: FetchChunk, gate: asyncio.Semaphore
    ) -> asyncio.Task[dict[str, Any]]:
        async def fly() -> dict[str, Any]:
            async with gate:
                bodies = dict(zip(chunk, await fetch(chunk), strict=True))
            await self.upstream.store_entities(kind.single, kind.path, bodies)
            return bodies

        flight = asyncio.create_task(fly())
        for id_ in chunk:
            self._flights[(kind.single, id_)] = flight
        flight.add_done_callback(partial(self._landed, kind.single, chunk))
        return flight

    def _landed(self, endpoint: str, chunk: list[str], flight: asyncio.Task[Any]) -> None:
        for id_ in chunk:
            if self._flights.get((endpoint, id_)) is flight:
                del self._flights[(endpoint, id_)]
        if not flight.cancelled():
            flight.exception()  # retrieved: its callers may all have given up
