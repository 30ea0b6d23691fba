"""Click plans: a storm's repeated clicks, the applies per guild the floor counts, the options chosen."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import orjson

from castbot_hikari.bench import cli as bench_cli
from castbot_hikari.bench.runner import BEFORE_FILE, split_by_shards
from castbot_hikari.bench.scenarios import FULL, QUICK, applies_by_guild, last_click_s, repeat_clicks, shard_ranges
from castbot_hikari.castbot.document import DATA_FILE
from castbot_hikari.cli import build_parser


def test_repeat_clicks_follow_each_user_at_the_given_gaps() -> None:
    plan = [(0.0, 1, 10, "apply_a"), (0.5, 2, 20, "apply_b")]
    clicks = repeat_clicks(plan, 3, (0.1, 0.2), random.Random(1))
    assert len(clicks) == 6
    assert clicks == sorted(clicks)
    for user in (10, 20):
        times = [t for t, _, u, _ in clicks if u == user]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert len(times) == 3
        assert all(0.1 <= gap <= 0.2 for gap in gaps)


def test_applies_by_guild_counts_distinct_identities() -> None:
    plan = [(0.0, 1, 10, "apply_a"), (0.1, 1, 10, "apply_a"), (0.2, 1, 11, "apply_a"), (0.3, 2, 10, "apply_a")]
    assert applies_by_guild(plan) == {1: 2, 2: 1}
    assert last_click_s(plan) == 0.3
    assert last_click_s([]) == 0.0


def test_scenarios_match_the_brief() -> None:
    by_name = {s.name: s for s in FULL}
    assert (by_name["burst"].clicks, by_name["burst"].servers, by_name["burst"].spread_s) == (1000, 75, 1.0)
    assert (by_name["storm"].users, by_name["storm"].clicks_per_user) == (100, 10)
    assert by_name["steady"].clicks / by_name["steady"].spread_s == 20
    assert by_name["busy"].burner
    assert not by_name["burst"].burner
    assert [(s.name, s.clicks, s.servers) for s in QUICK] == [("burst", 300, 25), ("busy", 300, 25)]


def test_quick_runs_the_load_of_two_scenarios_with_two_strategies() -> None:
    args = build_parser().parse_args(["bench", "--quick", "--json", "out.json"])
    sections, scenarios, strategies = bench_cli._chosen(args)  # pyright: ignore[reportPrivateUsage]
    assert sections == ["load"]
    assert [s.name for s in scenarios] == ["burst", "busy"]
    assert strategies == ["deferred", "synchronous"]


def test_filters_and_sections() -> None:
    args = build_parser().parse_args(
        ["bench", "persistence", "load", "--scenario", "storm", "--strategy", "synchronous"]
    )
    sections, scenarios, strategies = bench_cli._chosen(args)  # pyright: ignore[reportPrivateUsage]
    assert sections == ["persistence", "load"]
    assert [s.name for s in scenarios] == ["storm"]
    assert strategies == ["synchronous"]


def test_shards_split_into_contiguous_ranges_covering_each_once() -> None:
    assert shard_ranges(4, 1) == [(0, 1, 2, 3)]
    assert shard_ranges(4, 2) == [(0, 1), (2, 3)]
    assert shard_ranges(4, 4) == [(0,), (1,), (2,), (3,)]
    assert shard_ranges(5, 2) == [(0, 1, 2), (3, 4)]


def test_each_process_gets_the_servers_of_its_shards_and_every_other_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    guilds = [str((n << 22) + 7) for n in range(8)]  # shard n % 4
    data: dict[str, Any] = {"/meta": {"journalSeq": 0}}
    for gid in guilds:
        data[gid] = {"applications": {"a": {}}}
    (data_dir / DATA_FILE).write_bytes(orjson.dumps(data))
    folders = split_by_shards(data_dir, 4, shard_ranges(4, 2))
    parts = [orjson.loads((folder / DATA_FILE).read_bytes()) for folder in folders]
    assert [sorted(k for k in part if k.isdigit()) for part in parts] == [
        sorted(g for g in guilds if (int(g) >> 22) % 4 in (0, 1)),
        sorted(g for g in guilds if (int(g) >> 22) % 4 in (2, 3)),
    ]
    assert all(part["/meta"] == {"journalSeq": 0} for part in parts)
    assert [(folder / BEFORE_FILE).read_text() for folder in folders] == ["4", "4"]
