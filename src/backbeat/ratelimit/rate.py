"""Rates, priorities and operation classes: the vocabulary of the limiter."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

OpClass = Literal["read", "write", "batch"]
OP_CLASSES: tuple[OpClass, ...] = ("read", "write", "batch")

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*s?\s*$")


class Priority(IntEnum):
    """Lower value, more urgent. HIGH is interactive; NORMAL scheduled batch; LOW retries/bulk."""

    HIGH = 0
    NORMAL = 1
    LOW = 2


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `limit` grants in any rolling `period` seconds."""

    limit: int
    period: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.period <= 0:
            raise ValueError(
                f"a rate needs limit ≥ 1 and period > 0, got {self.limit}/{self.period}"
            )

    @classmethod
    def parse(cls, text: str) -> Rate:
        """`"80/30"` or `"80/30s"`: 80 per 30 seconds."""
        match = _RATE.match(text)
        if not match:
            raise ValueError(f"expected LIMIT/SECONDS such as 80/30, got {text!r}")
        return cls(int(match.group(1)), float(match.group(2)))

    @classmethod
    def min_interval(cls, seconds: float) -> Rate:
        """One call per `seconds`: a minimum interval is a window of one."""
        return cls(1, seconds)

    def __str__(self) -> str:
        return f"{self.limit}/{self.period:g}s"
