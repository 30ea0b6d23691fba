"""A tiny real run: 20 clicks over 2 servers with both strategies, every process on 127.0.0.1 and stopped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from castbot_hikari.bench.profile import DISCORD_LIKE
from castbot_hikari.bench.runner import RunOptions, run_one
from castbot_hikari.bench.scenarios import STRATEGIES, Scenario
from castbot_hikari.bench.stats import Figures

TINY = Scenario("tiny", users=20, servers=2, spread_s=0.5, summary="20 clicks over 2 servers")


class Seen:
    """Records what the run reported while it went on."""

    def __init__(self) -> None:
        self.pids: list[int] = []
        self.updates: list[tuple[int, int]] = []

    def clicking(self, bot_pid: int) -> None:
        self.pids.append(bot_pid)

    def update(self, done: int, total: int) -> None:
        self.updates.append((done, total))


def _sane(fig: Figures) -> None:
    assert fig.clicks == 20
    assert fig.completed == 20  # every applicant got a channel and a record, whatever they saw
    assert fig.duplicates == 0
    assert fig.unanswered == 0  # every click got a callback, in time or not
    assert fig.finals == fig.clicks - fig.past_3s  # in time means a final message; late means none
    p50, p99, worst = (fig.ack_ms[key] for key in ("p50", "p99", "max"))
    assert p50 is not None
    assert p99 is not None
    assert worst is not None
    assert 0 < p50 <= p99 <= worst
    assert fig.wall_s is not None
    assert fig.wall_s >= fig.floor_s > 0  # the floor is a floor
    assert fig.cpu_s_per_apply is not None
    assert fig.cpu_s_per_apply > 0
    assert fig.peak_rss_mb > 20


@pytest.mark.asyncio
@pytest.mark.parametrize(("strategy", "ack_type"), [("deferred", "5"), ("synchronous", "4")])
async def test_a_tiny_run_produces_sane_figures(tmp_path: Path, strategy: str, ack_type: str) -> None:
    options = RunOptions(profile=DISCORD_LIKE.scaled(0.05), log_dir=tmp_path, settle_s=0.2, result_timeout_s=120)
    seen = Seen()
    outcome = await run_one(TINY, STRATEGIES[strategy], options, seen)
    fig = outcome.figures
    _sane(fig)
    # The strategy really is in place: the shipped bot defers (5); the synchronous one answers once (4).
    assert set(fig.ack_types) <= {ack_type}
    assert sum(fig.ack_types.values()) == fig.clicks - fig.past_3s
    assert seen.pids == [outcome.bot_pid]
    assert seen.updates[-1] == (20, 20)
    with pytest.raises(ProcessLookupError):  # the bot was stopped (and reaped) by the run
        os.kill(outcome.bot_pid, 0)
    assert (tmp_path / f"tiny-{strategy}-bot.log").read_text()
