"""Injected unreliability: log-normal latency, hung requests and 5xx, from a seeded random source
so a run can be replayed exactly; and targeted faults (`POST /_sim/faults`) that fail one
endpoint after a number of calls, so a test can break a job at a chosen step."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from backbeat.clock import Clock
from backbeat.config import SimulatorSettings
from backbeat.simulator.errors import SpotifyError

# What Spotify's gateway answers for each; clients see these bodies in the wild.
SERVER_ERRORS: tuple[tuple[int, str], ...] = (
    (500, "Server error"),
    (502, "Bad gateway"),
    (503, "Service unavailable"),
)


@dataclass
class TargetedFault:
    """Let `after` calls of `endpoint` through, then fail the next `times` with `status`."""

    endpoint: str
    status: int = 503
    after: int = 0
    times: int = 1


class Faults:
    """Called after a request was admitted, before it is served."""

    def __init__(self, settings: SimulatorSettings, clock: Clock, rng: random.Random) -> None:
        self.settings = settings
        self.clock = clock
        self.rng = rng
        self.targets: list[TargetedFault] = []

    def target(self, fault: TargetedFault) -> None:
        self.targets.append(fault)

    def clear_targets(self) -> None:
        self.targets.clear()

    def targeted(self, endpoint: str) -> None:
        """Count one call of `endpoint` against the targeted faults; raise the first due."""
        for fault in self.targets:
            if fault.endpoint != endpoint:
                continue
            if fault.after > 0:
                fault.after -= 1
            elif fault.times > 0:
                fault.times -= 1
                raise SpotifyError(fault.status, "Injected fault")

    def latency(self) -> float:
        """One latency draw in simulated seconds; the median is `latency_ms`."""
        median = self.settings.latency_ms / 1000
        if median <= 0:
            return 0.0
        # The median of a log-normal is exp(mu).
        return self.rng.lognormvariate(math.log(median), self.settings.latency_sigma)

    async def inject(self) -> None:
        settings = self.settings
        delay = self.latency()
        if delay > 0:
            await self.clock.sleep(settings.scaled(delay))
        # One draw decides both faults, so their rates are exactly the configured shares.
        draw = self.rng.random()
        if draw < settings.timeout_rate:
            # A hung upstream: the gateway gives up after `timeout_seconds`.
            await self.clock.sleep(settings.scaled(settings.timeout_seconds))
            raise SpotifyError(504, "Gateway timeout")
        if draw < settings.timeout_rate + settings.error_rate:
            status, message = self.rng.choice(SERVER_ERRORS)
            raise SpotifyError(status, message)
