"""How busy this machine's cores were while a benchmark ran.

A scan is meant to be bound by the upstream budget; on a small machine at a high time scale it
can be bound by the CPU instead (every process of the deployment, the simulator, Redis and
Postgres share the cores). The share of all cores busy over the measured span tells the two
apart: near 1.0, the machine, not the limiter, set the pace.
"""

from __future__ import annotations

import bisect
import threading
import time
from types import TracebackType

import psutil

INTERVAL = 0.25  # seconds between samples


class CpuRecorder:
    """Samples the cores' busy and total time (psutil, all cores) on a thread of its own,
    stamped with `time.monotonic()` — the system-wide clock the simulator stamps admissions
    with, so spans of either line up."""

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float, float]] = []  # (monotonic, busy, total)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-recorder", daemon=True)

    def __enter__(self) -> CpuRecorder:
        self._sample()
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        times = psutil.cpu_times()
        total = sum(times)
        idle = times.idle + getattr(times, "iowait", 0.0)
        self.samples.append((time.monotonic(), total - idle, total))

    def busy_share(self, start: float, end: float) -> float | None:
        """The share of all cores' time spent busy from `start` to `end` (monotonic seconds),
        between the samples enclosing them; None when fewer than two samples fall around it."""
        stamps = [sample[0] for sample in self.samples]
        first = max(0, bisect.bisect_right(stamps, start) - 1)
        last = min(len(stamps) - 1, bisect.bisect_left(stamps, end))
        if last <= first:
            return None
        busy = self.samples[last][1] - self.samples[first][1]
        total = self.samples[last][2] - self.samples[first][2]
        return busy / total if total > 0 else None

    @staticmethod
    def cores() -> int:
        return psutil.cpu_count() or 1
