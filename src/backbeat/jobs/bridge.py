"""`LoopBridge`: sync Huey workers hand their coroutines to the process's one event loop.

Huey refuses `async def` tasks and runs each task on a worker thread. The process keeps ONE loop
on one thread, so one HTTP pool, one DB engine and one limiter serve every worker thread: a task
function calls `bridge.run(lambda: service(...))` and blocks its own thread, never the loop.

- `LoopBridge.start()` owns a new loop on a daemon thread (`backbeat worker`, `backbeat scheduler`):
  uvloop's where installed, as uvicorn picks for the API processes (a busy worker's loop, its
  sockets and asyncpg cost markedly less CPU on it).
- `LoopBridge.attach()` uses the loop already running (embedded in the API server).

Calling `run` from the loop's own thread would wait for itself: it raises instead. For the same
reason, code on the loop that waits for workers (stopping consumers, enqueueing in Huey's
immediate mode) must do it in a thread (`asyncio.to_thread`), never directly on the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # not on Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class BridgeClosed(RuntimeError):
    """The bridge's loop is not running (never started, or closed)."""


class LoopBridge:
    def __init__(
        self, loop: asyncio.AbstractEventLoop, *, thread: threading.Thread | None = None
    ) -> None:
        self._loop = loop
        self._thread = thread  # set when the bridge owns the loop

    @classmethod
    def start(cls, name: str = "backbeat-loop") -> LoopBridge:
        """A new loop running on a daemon thread of its own, until `close()`."""
        loop = new_loop()
        running = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(running.set)
            loop.run_forever()

        thread = threading.Thread(target=serve, name=name, daemon=True)
        thread.start()
        running.wait()
        return cls(loop, thread=thread)

    @classmethod
    def attach(cls, loop: asyncio.AbstractEventLoop | None = None) -> LoopBridge:
        """The loop the caller runs on (call from inside it), or `loop`. Not owned: `close()`
        leaves it alone."""
        return cls(loop or asyncio.get_running_loop())

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def owned(self) -> bool:
        return self._thread is not None

    def in_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def run(
        self, factory: Callable[[], Coroutine[Any, Any, T]], *, timeout: float | None = None
    ) -> T:
        """Run `factory()` on the loop and wait for its result (or exception) on this thread.

        A timeout, or this thread being interrupted, cancels the coroutine."""
        if self.in_loop_thread():
            raise RuntimeError("LoopBridge.run called on the loop's own thread: it would deadlock")
        if self._loop.is_closed() or not self._loop.is_running():
            raise BridgeClosed("the bridge's event loop is not running")
        future = asyncio.run_coroutine_threadsafe(_call(factory), self._loop)
        try:
            return future.result(timeout)
        except (concurrent.futures.TimeoutError, KeyboardInterrupt):
            future.cancel()
            raise

    def close(self, timeout: float = 10.0) -> None:
        """Stop and close an owned loop (cancelling what still runs on it); no-op when attached."""
        if self._thread is None or self._loop.is_closed():
            return
        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(_cancel_all(), self._loop).result(timeout)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        self._loop.close()

    def __enter__(self) -> LoopBridge:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


async def _call(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    # Built on the loop, so a factory that touches loop-bound objects sees the right loop.
    return await factory()


async def _cancel_all() -> None:
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()
