"""The percentile, ratio and figure maths, and the exact shape of the --json file."""

from __future__ import annotations

import math
import re
from pathlib import Path

import orjson
import pytest

from castbot_hikari.bench import report
from castbot_hikari.bench.stats import ClickRecord, RunData, figures, percentile, ratio, ratios, scenarios_json

FIGURE_KEYS = {
    "clicks",
    "completed",
    "past_3s",
    "duplicates",
    "ack_ms",
    "final_s",
    "wall_s",
    "floor_s",
    "cpu_s_per_apply",
    "peak_rss_mb",
}


def test_percentile_is_nearest_rank() -> None:
    hundred = [float(n) for n in range(100, 0, -1)]
    assert percentile(hundred, 0.5) == 50
    assert percentile(hundred, 0.99) == 99
    assert percentile(hundred, 1.0) == 100
    assert percentile([float(n) for n in range(1, 1001)], 0.99) == 990
    assert percentile([7.0], 0.99) == 7
    assert percentile([], 0.5) is None


def test_ratio_handles_zero_and_missing() -> None:
    assert ratio(10.0, 4.0) == 2.5
    assert ratio(3.0, 0.0) == math.inf
    assert ratio(0.0, 0.0) is None
    assert ratio(None, 1.0) is None
    assert ratio(1.0, None) is None


def _deferred_click(t: float, ack: float, final: float) -> ClickRecord:
    return ClickRecord(t=t, ack=ack, accepted=True, ack_type=5, final=final, kind="created")


def test_figures_of_a_run() -> None:
    records = [
        _deferred_click(0.0, 0.002, 1.5),
        _deferred_click(0.5, 0.004, 2.5),
        ClickRecord(t=0.7, ack=4.0, accepted=False, ack_type=None, final=None, kind=None),  # answered too late
        ClickRecord(t=0.9, ack=None, accepted=False, ack_type=None, final=None, kind=None),  # never answered
    ]
    fig = figures(RunData(records, completed=3, duplicates=1, floor_s=2.2, cpu_s=0.3, peak_rss_mb=80.0))
    assert (fig.clicks, fig.past_3s, fig.unanswered, fig.finals, fig.duplicates) == (4, 2, 1, 2, 1)
    assert fig.ack_ms == {"p50": 4.0, "p99": 4000.0, "max": 4000.0}
    assert fig.final_s == {"p50": 1.5, "p99": 2.5}
    assert fig.wall_s == pytest.approx(4.7)  # the late answer at 0.7 + 4.0 is the last result
    assert fig.cpu_s_per_apply == pytest.approx(0.1)
    assert fig.failed_rate == 0.5
    assert fig.results == {"created": 2}
    assert fig.ack_types == {"5": 2}


def test_figures_without_completed_applies_have_no_cpu_per_apply() -> None:
    fig = figures(RunData([], completed=0, duplicates=0, floor_s=0.0, cpu_s=1.0, peak_rss_mb=50.0))
    assert fig.cpu_s_per_apply is None
    assert fig.ack_ms == {"p50": None, "p99": None, "max": None}
    assert fig.wall_s is None


def test_ratios_are_synchronous_over_deferred() -> None:
    deferred = figures(
        RunData([_deferred_click(0.0, 0.002, 1.0), _deferred_click(0.1, 0.004, 1.0)], 2, 0, 1.0, 0.1, 60.0)
    )
    late = ClickRecord(t=0.0, ack=4.0, accepted=False, ack_type=None, final=None, kind=None)
    in_time = ClickRecord(t=0.0, ack=2.0, accepted=True, ack_type=4, final=2.0, kind="created")
    synchronous = figures(RunData([late, in_time], 2, 0, 1.0, 0.1, 60.0))
    found = ratios(synchronous, deferred)
    assert found.ack_p99 == pytest.approx(4000.0 / 4.0)
    assert found.failed_rate == math.inf  # 50% failed against none
    assert ratios(deferred, deferred).failed_rate is None


def test_json_has_exactly_the_documented_shape(tmp_path: Path) -> None:
    fig = figures(RunData([_deferred_click(0.0, 0.002, 1.0)], 1, 0, 1.1, 0.01, 61.23))
    path = tmp_path / "bench.json"
    report.write_json(path, {"burst": {"deferred": fig, "synchronous": fig}, "storm": {"deferred": fig}})
    loaded = orjson.loads(path.read_bytes())
    assert set(loaded) == {"scenarios"}
    assert set(loaded["scenarios"]) == {"burst", "storm"}
    assert set(loaded["scenarios"]["burst"]) == {"deferred", "synchronous"}
    entry = loaded["scenarios"]["burst"]["deferred"]
    assert set(entry) == FIGURE_KEYS
    assert set(entry["ack_ms"]) == {"p50", "p99", "max"}
    assert set(entry["final_s"]) == {"p50", "p99"}
    assert entry["ack_ms"]["p50"] == 2.0
    assert entry["peak_rss_mb"] == 61.2
    assert loaded == scenarios_json({"burst": {"deferred": fig, "synchronous": fig}, "storm": {"deferred": fig}})


def test_load_table_names_who_measures_the_ack() -> None:
    from castbot_hikari.bench.scenarios import QUICK

    fig = figures(RunData([_deferred_click(0.0, 0.002, 1.0)], 1, 0, 1.1, 0.01, 61.0))
    text = report.render_load(QUICK, {"burst": {"deferred": fig, "synchronous": fig}})
    assert "synchronous / deferred: failed rate" in text
    assert "emulator process's own event loop" in text
    assert "busy" not in text.split("ack =")[0]  # scenarios without figures are left out


def test_plot_is_written(tmp_path: Path) -> None:
    fig = figures(RunData([_deferred_click(0.0, 0.002, 1.0), _deferred_click(0.0, 0.01, 1.0)], 2, 0, 1.1, 0.01, 61.0))
    path = tmp_path / "ack.png"
    report.write_plot(path, {"burst": {"deferred": fig, "synchronous": fig}})
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_processes_table_shows_each_store_and_process_count_with_its_429s() -> None:
    from castbot_hikari.bench.scenarios import PROCESSES

    fig = figures(RunData([_deferred_click(0.0, 0.002, 1.0)], 1, 0, 1.1, 0.01, 61.0, rate_limited=7, invalid=7))
    text = report.render_processes(PROCESSES, {"burst-2p": fig, "burst-4p-pg": fig})
    rows = [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.startswith("  ")]
    assert rows[0][:2] == ["store", "processes"]
    assert [row[0] for row in rows[1:]] == ["json", "postgres"]  # runs without figures are left out
    assert "2 (2 shards each)" in text
    assert "4 (1 shard each)" in text
    assert all(len(row) == len(rows[0]) for row in rows)
    assert [row[-3:-1] for row in rows[1:]] == [["7", "7"], ["7", "7"]]  # 429s, invalid
