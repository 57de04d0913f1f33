"""`backbeat bench limiter` in one run: backbeat's distributed scenario, then each baseline
under the same processes and coroutines for a shorter phase, on the same Redis. The field names
of the report are a contract read by other tools."""

from __future__ import annotations

from typing import TypedDict

from backbeat.bench.baselines import BASELINES, BaselineLoad, run_baseline
from backbeat.bench.limiter import Scenario, ScenarioResult, run_scenario
from backbeat.bench.stats import ms, percentile

BASELINE_SECONDS = 3.0  # each baseline phase lasts at most this long
GOAL_UTILIZATION = 0.97
GOAL_P50_RATIO = 1.5  # backbeat's p50 round trip at most this × limits'


class Goals(TypedDict):
    max_in_window_within_limit: bool
    utilization_at_least_0_97: bool
    p50_within_1_5x_limits: bool


class LimiterReport(TypedDict):
    limit: int
    window_s: float
    processes: int
    coroutines: int
    seconds: float
    high: bool
    budget: float
    grants: int
    high_grants: int
    max_in_window: int
    utilization: float
    acquire_round_trips: int
    acquire_p50_ms: float | None
    acquire_p99_ms: float | None
    high_calls: int
    high_timeouts: int
    high_wait_p50_ms: float | None
    high_wait_p99_ms: float | None
    baseline_seconds: float
    limits_calls: int
    limits_grants: int
    limits_p50_ms: float | None
    limits_p99_ms: float | None
    pyrate_calls: int
    pyrate_grants: int
    pyrate_p50_ms: float | None
    pyrate_p99_ms: float | None
    p50_ratio_vs_limits: float | None
    errors: list[str]
    goals: Goals


def bench_limiter(scenario: Scenario) -> LimiterReport:
    if scenario.window != int(scenario.window):
        raise ValueError("the window must be whole seconds: the unit of limits' windows")
    main = run_scenario(scenario)
    seconds = min(scenario.seconds, BASELINE_SECONDS)
    baselines = {
        kind: run_baseline(
            kind,
            scenario.redis_url,
            processes=scenario.processes,
            coroutines=scenario.coroutines,
            seconds=seconds,
            limit=scenario.limit,
            window=int(scenario.window),
        )
        for kind in BASELINES
    }
    return _report(main, seconds, baselines["limits"], baselines["pyrate"])


def _report(
    main: ScenarioResult,
    baseline_seconds: float,
    limits: list[BaselineLoad],
    pyrate: list[BaselineLoad],
) -> LimiterReport:
    scenario = main.scenario
    trips = [t for load in main.loads for t in load.round_trips]
    waits = [w for load in main.loads for w in load.high_waits]
    limits_trips = [t for load in limits for t in load.round_trips]
    pyrate_trips = [t for load in pyrate for t in load.round_trips]
    ours, theirs = percentile(trips, 50), percentile(limits_trips, 50)
    ratio = None if ours is None or not theirs else round(ours / theirs, 3)
    high_timeouts = sum(load.high_timeouts for load in main.loads)
    errors = [e for load in main.loads for e in load.errors]
    errors += [f"limits: {e}" for load in limits for e in load.errors]
    errors += [f"pyrate: {e}" for load in pyrate for e in load.errors]
    return LimiterReport(
        limit=scenario.limit,
        window_s=scenario.window,
        processes=scenario.processes,
        coroutines=scenario.coroutines,
        seconds=scenario.seconds,
        high=scenario.high,
        budget=scenario.budget,
        grants=main.grants_in_run,
        high_grants=len(waits),
        max_in_window=main.max_in_window,
        utilization=round(main.utilization, 4),
        acquire_round_trips=len(trips),
        acquire_p50_ms=ms(ours),
        acquire_p99_ms=ms(percentile(trips, 99)),
        high_calls=len(waits) + high_timeouts,
        high_timeouts=high_timeouts,
        high_wait_p50_ms=ms(percentile(waits, 50)),
        high_wait_p99_ms=ms(percentile(waits, 99)),
        baseline_seconds=baseline_seconds,
        limits_calls=len(limits_trips),
        limits_grants=sum(load.grants for load in limits),
        limits_p50_ms=ms(theirs),
        limits_p99_ms=ms(percentile(limits_trips, 99)),
        pyrate_calls=len(pyrate_trips),
        pyrate_grants=sum(load.grants for load in pyrate),
        pyrate_p50_ms=ms(percentile(pyrate_trips, 50)),
        pyrate_p99_ms=ms(percentile(pyrate_trips, 99)),
        p50_ratio_vs_limits=ratio,
        errors=errors,
        goals=Goals(
            max_in_window_within_limit=main.max_in_window <= scenario.limit,
            utilization_at_least_0_97=main.utilization >= GOAL_UTILIZATION,
            p50_within_1_5x_limits=ratio is not None and ratio <= GOAL_P50_RATIO,
        ),
    )
