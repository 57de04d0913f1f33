from tests.faults.report import Finding, Findings


def test_findings_render_each_fault_with_its_counts() -> None:
    findings = Findings(
        [Finding("Redis restarted", "FLUSHALL mid-scan", {"http_429": 0, "jobs": [3, 4]})]
    )
    text = findings.render()
    assert "## Redis restarted" in text
    assert "| http_429 | 0 |" in text
    assert "| jobs | [3, 4] |" in text
