"""The global rate limiter: one upstream budget shared by every process, priority-aware and
adaptive. It imports nothing else of backbeat."""

from backbeat.ratelimit.backends import open_backend
from backbeat.ratelimit.backends.base import Backend
from backbeat.ratelimit.errors import (
    LimiterUnavailable,
    RateLimitError,
    SlotTimeout,
    UnknownApp,
    UpstreamBanned,
)
from backbeat.ratelimit.limiter import Grant, Limiter
from backbeat.ratelimit.metrics import AppMetrics, WindowMetrics
from backbeat.ratelimit.policy import SPOTIFY_CLASS_RATES, Policy, Window
from backbeat.ratelimit.rate import OpClass, Priority, Rate

__all__ = [
    "SPOTIFY_CLASS_RATES",
    "AppMetrics",
    "Backend",
    "Grant",
    "Limiter",
    "LimiterUnavailable",
    "OpClass",
    "Policy",
    "Priority",
    "Rate",
    "RateLimitError",
    "SlotTimeout",
    "UnknownApp",
    "UpstreamBanned",
    "Window",
    "WindowMetrics",
    "open_backend",
]
