"""The root of every error backbeat raises on purpose.

Subclasses carry data, not just messages, so the API can map them to status codes in one place.
"""


class BackbeatError(Exception):
    """Base of all errors raised by backbeat."""


class ConfigurationError(BackbeatError):
    """Settings that cannot work together, or a value that cannot be parsed."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem
