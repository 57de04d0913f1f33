"""One event loop per process: sync worker threads hand it their coroutines."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest

from backbeat.jobs import BridgeClosed, LoopBridge


async def where() -> str:
    await asyncio.sleep(0)
    return threading.current_thread().name


def test_an_owned_loop_runs_every_call_on_its_one_thread() -> None:
    with LoopBridge.start(name="bb-loop") as bridge:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            names = set(pool.map(lambda _: bridge.run(where), range(8)))
        assert names == {"bb-loop"}
        loop = bridge.loop
    assert loop.is_closed()
    with pytest.raises(BridgeClosed):
        bridge.run(where)


def test_errors_come_back_and_a_timeout_cancels_the_coroutine() -> None:
    cancelled = threading.Event()

    async def boom() -> None:
        raise LookupError("missing")

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    with LoopBridge.start() as bridge:
        with pytest.raises(LookupError, match="missing"):
            bridge.run(boom)
        with pytest.raises(concurrent.futures.TimeoutError):
            bridge.run(forever, timeout=0.05)
        assert cancelled.wait(2)


async def test_attached_to_the_running_loop() -> None:
    bridge = LoopBridge.attach()
    assert bridge.loop is asyncio.get_running_loop()
    assert not bridge.owned
    assert await asyncio.to_thread(bridge.run, where) == threading.current_thread().name
    with pytest.raises(RuntimeError, match="deadlock"):
        bridge.run(where)  # from the loop's own thread
    bridge.close()  # not owned: leaves the loop alone
    assert not bridge.loop.is_closed()
