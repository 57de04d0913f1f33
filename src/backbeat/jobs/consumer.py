"""Huey consumers of one process: one per queue, each with its worker threads and the scheduler
thread that moves due `eta` messages into the queue.

`EmbeddedConsumer` is Huey's `Consumer` without signal handlers: inside the API server, uvicorn
owns SIGINT/SIGTERM (and `signal.signal` only works on the main thread anyway); the FastAPI
lifespan calls `start()` and, on shutdown, `stop_async()`. Checked with Huey 3.5: `start()` only
starts threads and returns, so it runs fine from inside a running event loop.

Roles (`ConsumerGroup.build`):
- embedded (`backbeat serve` without Redis): every queue plus the cron queue with periodic tasks;
- `backbeat worker`: the queues it is given, periodic tasks off;
- `backbeat scheduler` (exactly one): the cron queue with periodic tasks on.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Iterable, Mapping
from types import FrameType
from typing import Any

from huey.consumer import Consumer  # type: ignore[import-untyped]

from backbeat.config import JobsSettings
from backbeat.jobs.queues import JobQueues

log = logging.getLogger(__name__)


class EmbeddedConsumer(Consumer):  # type: ignore[misc]  # Huey is untyped
    def _set_signal_handlers(self) -> None:
        """Leave signals to the host process: it decides when to call `stop()`."""


class ConsumerGroup:
    def __init__(self, consumers: Mapping[str, EmbeddedConsumer]) -> None:
        self.consumers = dict(consumers)
        self.started = False

    @classmethod
    def build(
        cls,
        queues: JobQueues,
        jobs: JobsSettings,
        *,
        names: Iterable[str] | None = None,
        scheduler: bool = False,
        shutdown_timeout: float | None = 30.0,
    ) -> ConsumerGroup:
        """Consumers for `names` (default: every queue), plus the cron queue with periodic
        tasks when `scheduler`. `names=()` with `scheduler=True` is the scheduler process."""
        options: dict[str, Any] = {
            "worker_type": "thread",
            "max_delay": jobs.poll_max_delay,  # SQLite is polled: cap the idle back-off
            "shutdown_timeout": shutdown_timeout,
        }
        chosen = queues.names if names is None else tuple(names)
        consumers = {
            name: EmbeddedConsumer(
                queues.huey(name), workers=jobs.workers.get(name, 1), periodic=False, **options
            )
            for name in chosen
        }
        if scheduler:
            # Two threads, so the reaper never waits behind a long fan-out.
            workers = jobs.workers.get(queues.cron_name, 2)
            consumers[queues.cron_name] = EmbeddedConsumer(
                queues.cron, workers=workers, periodic=True, **options
            )
        return cls(consumers)

    def start(self) -> None:
        if self.started:
            raise RuntimeError("the consumers are already running")
        for consumer in self.consumers.values():
            consumer.start()
        self.started = True
        log.info("job consumers started: %s", ", ".join(self.consumers))

    def stop(self, graceful: bool = True) -> None:
        """Stop every consumer; `graceful` waits for running tasks (up to the shutdown timeout).

        Blocks: from the event loop the workers' bridge uses, call `stop_async` instead, or the
        workers' last tasks would wait for the loop that waits for them."""
        if not self.started:
            return
        for consumer in self.consumers.values():
            consumer.stop_flag.set()  # all wind down at once, then each is joined
        for consumer in self.consumers.values():
            consumer.stop(graceful=graceful)
        self.started = False
        log.info("job consumers stopped")

    async def stop_async(self, graceful: bool = True) -> None:
        await asyncio.to_thread(self.stop, graceful)

    def check_health(self) -> None:
        """Restart worker or scheduler threads that died (Huey's own main loop does this)."""
        for consumer in self.consumers.values():
            consumer.check_worker_health()

    def run_forever(self, health_interval: float = 10.0) -> None:
        """Start, wait for SIGINT or SIGTERM, stop gracefully: the main loop of `backbeat worker`
        and `backbeat scheduler`. A second signal acts as usual (the handlers are restored)."""
        stopping = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            stopping.set()

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        self.start()
        try:
            while not stopping.wait(health_interval):
                self.check_health()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop(graceful=True)
