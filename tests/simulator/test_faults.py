from __future__ import annotations

import random
import statistics

import pytest

from backbeat.clock import FakeClock
from backbeat.config import SimulatorSettings
from backbeat.simulator.errors import SpotifyError
from backbeat.simulator.faults import Faults

Outcome = tuple[float, int]


async def run(settings: SimulatorSettings, seed: int, n: int) -> list[Outcome]:
    """(real seconds the clock moved, status) of n injections."""
    clock = FakeClock()
    faults = Faults(settings, clock, random.Random(seed))
    outcomes: list[Outcome] = []
    for _ in range(n):
        before = clock.monotonic()
        try:
            await faults.inject()
            status = 200
        except SpotifyError as error:
            status = error.status
        outcomes.append((clock.monotonic() - before, status))
    return outcomes


async def test_no_faults_configured_means_no_delay_and_no_error() -> None:
    outcomes = await run(SimulatorSettings(), seed=1, n=200)
    assert outcomes == [(0.0, 200)] * 200


async def test_same_seed_same_faults() -> None:
    settings = SimulatorSettings(latency_ms=50, error_rate=0.2, timeout_rate=0.05)
    first = await run(settings, seed=7, n=300)
    assert first == await run(settings, seed=7, n=300)
    assert first != await run(settings, seed=8, n=300)


async def test_error_and_timeout_rates() -> None:
    settings = SimulatorSettings(error_rate=0.2, timeout_rate=0.1, timeout_seconds=30)
    n = 5000
    statuses = [status for _, status in await run(settings, seed=3, n=n)]
    server_errors = sum(status in (500, 502, 503) for status in statuses)
    timeouts = statuses.count(504)
    # Binomial sd is about 28 and 21: these bounds are over 5 sd wide.
    assert abs(server_errors - 0.2 * n) < 150
    assert abs(timeouts - 0.1 * n) < 110
    assert {500, 502, 503} <= set(statuses)
    assert set(statuses) <= {200, 500, 502, 503, 504}


async def test_timeout_hangs_for_the_scaled_timeout() -> None:
    settings = SimulatorSettings(timeout_rate=1.0, timeout_seconds=30, time_scale=10)
    clock = FakeClock()
    faults = Faults(settings, clock, random.Random(0))
    before = clock.monotonic()
    with pytest.raises(SpotifyError) as caught:
        await faults.inject()
    assert caught.value.status == 504
    assert clock.monotonic() - before == pytest.approx(3.0)


async def test_server_error_bodies_look_like_spotify() -> None:
    settings = SimulatorSettings(error_rate=1.0)
    faults = Faults(settings, FakeClock(), random.Random(0))
    with pytest.raises(SpotifyError) as caught:
        await faults.inject()
    assert caught.value.status in (500, 502, 503)
    assert caught.value.body()["error"]["status"] == caught.value.status
    assert caught.value.body()["error"]["message"]


async def test_fixed_latency_without_spread_is_scaled() -> None:
    settings = SimulatorSettings(latency_ms=200, latency_sigma=0, time_scale=4)
    outcomes = await run(settings, seed=0, n=5)
    assert [delay for delay, _ in outcomes] == pytest.approx([0.05] * 5, abs=1e-6)


async def test_latency_is_log_normal_around_the_median() -> None:
    settings = SimulatorSettings(latency_ms=100, latency_sigma=0.5)
    delays = [delay for delay, _ in await run(settings, seed=5, n=4000)]
    assert statistics.median(delays) == pytest.approx(0.1, rel=0.05)
    # A spread, not a constant: about 16% of draws beyond one sigma, exp(0.5) * median.
    beyond = sum(d > 0.1 * 1.6487 for d in delays) / len(delays)
    assert 0.13 < beyond < 0.19
