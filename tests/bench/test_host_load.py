"""The share of the cores busy over a span, from the recorder's samples."""

from __future__ import annotations

import time

from backbeat.bench.host_load import CpuRecorder


def test_the_busy_share_is_taken_between_the_samples_enclosing_the_span() -> None:
    recorder = CpuRecorder()
    # (monotonic, busy, total) core-seconds: 2 cores, half busy, then fully busy.
    recorder.samples = [(0.0, 0.0, 0.0), (1.0, 1.0, 2.0), (2.0, 3.0, 4.0), (3.0, 5.0, 6.0)]
    assert recorder.busy_share(1.0, 3.0) == 1.0
    assert recorder.busy_share(0.5, 1.0) == 0.5  # from the sample before 0.5 to the one at 1.0
    assert recorder.busy_share(0.0, 3.0) == 5 / 6
    assert recorder.busy_share(2.5, 2.6) == 1.0
    assert recorder.busy_share(3.5, 4.0) is None  # after the last sample: nothing encloses it
    assert CpuRecorder().busy_share(0.0, 1.0) is None  # no samples at all


def test_a_busy_thread_shows_in_the_recorded_share() -> None:
    with CpuRecorder(interval=0.05) as recorder:
        began = time.monotonic()
        while time.monotonic() - began < 0.5:  # one core busy for half a second
            pass
        ended = time.monotonic()
    share = recorder.busy_share(began, ended)
    assert share is not None
    assert share >= 0.5 / CpuRecorder.cores() * 0.8  # this thread's core at least (nearly)
    assert share <= 1.0
