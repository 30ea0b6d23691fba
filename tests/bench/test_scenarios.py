"""Click plans: a storm's repeated clicks, the applies per guild the floor counts, the options chosen."""

from __future__ import annotations

import itertools
import random

from castbot_hikari.bench import cli as bench_cli
from castbot_hikari.bench.scenarios import FULL, QUICK, applies_by_guild, last_click_s, repeat_clicks
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
