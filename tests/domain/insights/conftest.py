"""The sample snapshot's facts, for tests that need no database."""

from __future__ import annotations

import pytest

from backbeat.domain.insights import SnapshotFacts
from tests.domain.insights.samples import snapshot_row


@pytest.fixture
def facts() -> SnapshotFacts:
    return SnapshotFacts.from_row(snapshot_row())
