"""`backbeat demo`, run as a user runs it (a small fleet, sped up): every job done, 0 × 429,
no window over the simulated app's limit, interactive searches measured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SUMMARY = {
    "users",
    "jobs_succeeded",
    "jobs_failed",
    "upstream_calls",
    "http_429",
    "max_in_window",
    "limit",
    "interactive_p99_ms",
    "elapsed_s",
}


def test_the_demo_runs_the_apps_jobs_without_a_429(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "backbeat.cli.main", "demo", "--users", "12",
               "--time-scale", "60", "--exit", "--json"]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert set(summary) >= SUMMARY
    assert summary["users"] == 12
    assert summary["jobs_succeeded"] == 24  # a library scan and an ingest per user
    assert (summary["jobs_failed"], summary["http_429"]) == (0, 0)
    assert 0 < summary["max_in_window"] <= summary["limit"]
    assert summary["upstream_calls"] > 24
    assert summary["interactive_p99_ms"] > 0
    assert not list(tmp_path.iterdir())  # the demo's database and queues were temporary
