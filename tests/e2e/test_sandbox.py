"""The sandbox (the README's main job) runs end to end and reports honestly."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from castbot_hikari.sandbox import SandboxOptions, run_sandbox


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
