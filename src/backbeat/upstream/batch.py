"""Chunked look-ups with bounded concurrency, and paging through offset-paged lists."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
DEFAULT_CONCURRENCY = 4  # chunks in flight per helper call; the limiter bounds the whole


async def in_chunks(
    ids: Sequence[str],
    size: int,
    fetch: Callable[[list[str]], Awaitable[Sequence[T]]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> list[T]:
    """`fetch` over `ids` cut into chunks of at most `size`, results in the order of `ids`."""
    chunks = [list(ids[i : i + size]) for i in range(0, len(ids), size)]
    gate = asyncio.Semaphore(concurrency)

    async def one(chunk: list[str]) -> Sequence[T]:
        async with gate:
            return await fetch(chunk)

    results = await asyncio.gather(*(one(chunk) for chunk in chunks))
    return [item for result in results for item in result]


async def each(
    items: Sequence[str],
    fetch: Callable[[str], Awaitable[T]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> list[T]:
    """`fetch` for every item (single gets where batch endpoints are gone), bounded."""
    return await in_chunks(items, 1, lambda chunk: _one(fetch, chunk[0]), concurrency=concurrency)


async def _one(fetch: Callable[[str], Awaitable[T]], item: str) -> list[T]:
    return [await fetch(item)]


class OffsetPage(Protocol[T_co]):
    @property
    def items(self) -> Sequence[T_co]: ...

    @property
    def total(self) -> int: ...

    @property
    def next(self) -> str | None: ...


async def pages(
    fetch: Callable[[int, int], Awaitable[OffsetPage[T]]], *, limit: int = 50, start: int = 0
) -> AsyncIterator[list[T]]:
    """Every page of an offset-paged list from `start`, in order: `fetch(limit, offset)`."""
    offset = start
    while True:
        page = await fetch(limit, offset)
        yield list(page.items)
        offset += len(page.items)
        if page.next is None or not page.items or offset >= page.total:
            return
