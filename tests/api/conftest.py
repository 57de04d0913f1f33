"""Fixtures of the API tests (see `tests/api/deployment.py`)."""

from tests.api.deployment import alice, deployment

__all__ = ["alice", "deployment"]
