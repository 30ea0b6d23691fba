"""The sandbox (the README's main job) runs end to end and reports honestly."""

from __future__ import annotations

import argparse
import dataclasses
import io
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from castbot_hikari import cli, sandbox
from castbot_hikari.apply import render
from castbot_hikari.apply.model import ApplyOutcome, Failure, Rejection
from castbot_hikari.core.ids import ChannelId
from castbot_hikari.sandbox import SandboxOptions, SandboxReport, Verdict, render_report, result_kind, run_sandbox


@pytest.mark.asyncio
async def test_sandbox_answers_every_click_without_duplicates(tmp_path: Path) -> None:
    out = io.StringIO()
    options = SandboxOptions(
        clicks=20,
        servers=3,
        channel_latency=(0.0, 0.05),
        message_latency=(0.0, 0.05),
        data_dir=tmp_path,
        spread_seconds=0.2,
    )
    report = await run_sandbox(options, out=out)
    assert report.ok, out.getvalue()
    assert report.clicks == 20
    assert report.acked == 20
    assert report.duplicates == 0
    assert report.invalid_requests == 0
    assert sum(report.results.values()) == 20
    assert report.channels_created == report.results["created"] == report.applications_recorded
    doc = orjson.loads((tmp_path / "playerData.json").read_bytes())
    recorded = sum(len(g["applications"]) for k, g in doc.items() if k.isdigit())
    assert recorded == report.applications_recorded
    assert "OK: every click was acknowledged and answered" in out.getvalue()


def figures(**changes: Any) -> SandboxReport:
    """Return the report of a run where all went well, with ``changes``."""
    good = SandboxReport(
        clicks=100,
        acked=100,
        ack_p50_ms=2.0,
        ack_p99_ms=40.0,
        ack_max_ms=50.0,
        failed_interactions=0,
        results=Counter({"created": 90, "already in progress": 10}),
        no_result=0,
        channels_created=90,
        duplicates=0,
        applications_recorded=90,
        data_file=Path("playerData.json"),
        validation_errors=0,
        invalid_requests=0,
        seconds=3.0,
    )
    return dataclasses.replace(good, **changes)


def test_a_good_run_is_ok() -> None:
    report = figures()
    assert report.problems == []
    assert report.verdict is Verdict.OK
    assert "OK: every click was acknowledged and answered (ack p99 within 1000 ms)" in render_report(report)


def test_acks_near_discords_limit_are_a_problem() -> None:
    report = figures(ack_p50_ms=2400.0, ack_p99_ms=2700.0, ack_max_ms=2700.0)  # the 1,000-click run
    assert report.verdict is Verdict.PROBLEMS  # before: "OK", 0.3 s short of "This interaction failed"
    (problem,) = report.problems
    assert problem.startswith("acknowledgements too slow: p99 2700 ms is above 1000 ms")
    assert f"PROBLEMS FOUND:\n  - {problem}" in render_report(report)
    assert figures(ack_p99_ms=1000.0).verdict is Verdict.OK  # the threshold itself still passes


def test_a_failed_apply_is_a_problem_with_its_reason() -> None:
    full = render.apply_outcome(ApplyOutcome.failed(Failure.CATEGORY_FULL, "abcd1234"))
    kind = result_kind(full)
    assert kind == "failed: category full"
    report = figures(results=Counter({"created": 92, kind: 8}))
    assert report.verdict is Verdict.PROBLEMS  # before: "OK" with "result: failed 8" in the table
    (problem,) = report.problems
    assert problem == (
        "8 applies failed although every simulated server lets every apply succeed (failed: category full 8)"
    )


@pytest.mark.parametrize("reason", list(Failure))
def test_every_failure_message_has_its_kind(reason: Failure) -> None:
    text = render.apply_outcome(ApplyOutcome.failed(reason, "ref"))
    assert result_kind(text) == f"failed: {reason.value.replace('_', ' ')}"


def test_expected_answers_are_not_failures() -> None:
    assert result_kind(render.apply_outcome(ApplyOutcome.rejected(Rejection.ALREADY_APPLIED, ChannelId(5)))) == (
        "already applied"
    )
    assert result_kind(render.apply_outcome(ApplyOutcome.rejected(Rejection.IN_PROGRESS))) == "already in progress"
    assert result_kind(render.apply_outcome(ApplyOutcome.rejected(Rejection.CLOSED))) == "refused: closed"
    assert figures(results=Counter({"created": 1, "refused: closed": 1})).verdict is Verdict.PROBLEMS


@pytest.mark.parametrize(("verdict", "code"), [(Verdict.OK, 0), (Verdict.PROBLEMS, 1), (Verdict.INTERRUPTED, 130)])
def test_the_verdict_is_the_exit_code(monkeypatch: pytest.MonkeyPatch, verdict: Verdict, code: int) -> None:
    def finished(_: argparse.Namespace) -> Verdict:
        return verdict

    monkeypatch.setattr(sandbox, "main", finished)
    assert cli.main(["sandbox"]) == code
