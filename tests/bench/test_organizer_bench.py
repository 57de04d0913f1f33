"""`backbeat bench organizer` runs end to end and reports what it measured (the timing goal
itself is the benchmark's, not a test's)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from backbeat.cli.main import app


def test_the_organizer_bench_reports_a_clean_run() -> None:
    args = ["bench", "organizer", "--users", "4", "--time-scale", "60", "--workers", "4", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["http_429"], report["failed_users"]) == (0, 0)
    assert report["elapsed_s"] > 0
    assert report["planned_s"] > 0
    assert report["binding_class"] in ("read", "write", "batch")
    for op_class, count in report["max_in_window"].items():
        assert count <= report["limits"][op_class]
