"""The fault suite: every test here injects one fault into a running system and records what it
saw with the `reliability` fixture. Long variants run with `--long-faults`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.report import Finding, Findings, write

FINDINGS = Findings()


@pytest.fixture
def reliability(request: pytest.FixtureRequest) -> Iterator[list[Finding]]:
    """Append a `Finding`; it is kept only if the test passes."""
    found: list[Finding] = []
    yield found
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.passed:
        for finding in found:
            finding.test = request.node.nodeid
            FINDINGS.items.append(finding)


@pytest.fixture
def long_faults(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--long-faults"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = session.config.getoption("--reliability-report")
    if target and FINDINGS.items:
        write(FINDINGS, Path(target))
