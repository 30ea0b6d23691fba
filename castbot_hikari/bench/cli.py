"""``castbot-hikari bench``: the old synchronous pattern against the deferred bot, under the same load.

Sections: ``load`` (scenarios x strategies, each in fresh emulator and bot processes), ``persistence``
(the data store's costs with realistic files), ``stores`` (one apply's cost in the JSON store and in
PostgreSQL, alone and in a burst), ``memory`` (the bot's RSS with 165 realistic servers) and ``processes``
(the burst against 4 shards in 1, 2 and 4 bot processes: Discord's per-bot limits).
This module imports only the standard library at the top, so ``castbot-hikari --help`` stays light.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import tempfile
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from castbot_hikari.bench.report import ProgressBar
    from castbot_hikari.bench.runner import RunOptions
    from castbot_hikari.bench.scenarios import Scenario
    from castbot_hikari.bench.stats import Figures

SECTIONS = ("load", "persistence", "stores", "memory", "processes")
SCENARIO_NAMES = ("burst", "storm", "steady", "busy")
STRATEGY_NAMES = ("deferred", "synchronous", "deferred-naive")
# Seconds after the last click that a run waits for every click to settle: --quick cuts the tails off.
QUICK_CUTOFF_S = 30.0
FULL_CUTOFF_S = 120.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the benchmark's options to its subcommand parser."""
    parser.add_argument(
        "sections",
        nargs="*",
        metavar="SECTION",
        help=f"any of {', '.join(SECTIONS)} (default: all; with --quick: load)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="300 clicks over 25 servers, burst and busy, deferred and synchronous only; clicks "
        f"not settled {QUICK_CUTOFF_S:.0f} s after the last click are cut off",
    )
    parser.add_argument("--scenario", action="append", choices=SCENARIO_NAMES, help="run only this scenario (repeat)")
    parser.add_argument("--strategy", action="append", choices=STRATEGY_NAMES, help="run only this strategy (repeat)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the load figures as JSON")
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="plot the ack-latency distributions")
    parser.add_argument(
        "--limits",
        choices=("discord", "global", "none"),
        default="discord",
        help="rate limits: Discord-like route buckets and the global 50/s (default), the global "
        "limit only, or none (to tell their effect from the design's)",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated load (default 7)")
    parser.add_argument("--logs", type=Path, default=None, help="folder for the processes' logs (default: temp)")
    parser.add_argument(
        "--store",
        choices=("json", "postgres", "both"),
        default="both",
        help="processes section: a JSON data folder per process, one PostgreSQL database for all (sharing "
        "Discord's limits through it), or both (default; PostgreSQL only where its server is installed)",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        default=None,
        help="stores section: the PostgreSQL database to time (default: CASTBOT_DATABASE_URL; its applies table "
        "is used); processes section: a server whose user may create databases (default: a throwaway cluster "
        "in a temp folder, on 127.0.0.1)",
    )


def _chosen(args: argparse.Namespace) -> tuple[list[str], list[Scenario], list[str]]:
    from castbot_hikari.bench.scenarios import DEFAULT_STRATEGIES, FULL, QUICK, QUICK_STRATEGIES  # noqa: PLC0415

    unknown = [name for name in args.sections if name not in SECTIONS]
    if unknown:
        msg = f"unknown section {unknown[0]!r}: choose from {', '.join(SECTIONS)}"
        raise ValueError(msg)
    sections: list[str] = list(args.sections) or (["load"] if args.quick else list(SECTIONS))
    scenarios = [s for s in (QUICK if args.quick else FULL) if not args.scenario or s.name in args.scenario]
    strategies: list[str] = list(args.strategy or (QUICK_STRATEGIES if args.quick else DEFAULT_STRATEGIES))
    return sections, scenarios, strategies


async def run_load(
    scenarios: Sequence[Scenario], strategies: Sequence[str], options: RunOptions, bar: ProgressBar
) -> dict[str, dict[str, Figures]]:
    """Run every scenario with every strategy, one after another; return the figures."""
    from castbot_hikari.bench.runner import run_one  # noqa: PLC0415
    from castbot_hikari.bench.scenarios import STRATEGIES  # noqa: PLC0415

    results: dict[str, dict[str, Figures]] = {}
    for scenario in scenarios:
        for name in strategies:
            bar.start(f"{scenario.name}/{name}")
            outcome = await run_one(scenario, STRATEGIES[name], options, bar)
            bar.finish(f"bot pid {outcome.bot_pid}, wall {outcome.figures.wall_s or 0:.1f} s")
            results.setdefault(scenario.name, {})[name] = outcome.figures
    return results


async def run_memory(options: RunOptions, bar: ProgressBar, out: TextIO) -> dict[str, Figures]:
    """Run the burst over 165 realistic servers with the shipped bot and print its memory figures."""
    from castbot_hikari.bench import report  # noqa: PLC0415
    from castbot_hikari.bench.emuproc import REALISTIC_MEMBERS  # noqa: PLC0415
    from castbot_hikari.bench.runner import run_one  # noqa: PLC0415
    from castbot_hikari.bench.scenarios import MEMORY, STRATEGIES  # noqa: PLC0415

    bar.start("memory/deferred")
    outcome = await run_one(MEMORY, STRATEGIES["deferred"], options, bar)
    bar.finish()
    fig = outcome.figures
    out.write(
        f"\nMemory (the bot as shipped): {MEMORY.servers} servers of 30 channels, 20 roles and "
        f"{REALISTIC_MEMBERS[0]}-{REALISTIC_MEMBERS[1]} members (those GUILD_CREATE delivers with the GUILDS intent:"
        f" all of a server up to hikari's large_threshold of 250, else the bot only), a 3.65 MB data file with "
        f"{outcome.applications_before:,} past applications\n"
        f"  RSS after start-up {outcome.rss_ready_mb:.0f} MB; peak RSS after a {fig.clicks:,}-click burst "
        f"{fig.peak_rss_mb:.0f} MB\n"
    )
    out.write("\n".join("  " + line for line in report.load_rows({"deferred": fig})) + "\n")
    return {"deferred": fig}


async def run_processes(
    options: RunOptions, bar: ProgressBar, out: TextIO, err: TextIO, stores: Sequence[str]
) -> dict[str, Figures]:
    """Run the burst against 4 shards in 1, 2 and 4 processes per store and print what Discord's limits saw."""
    from castbot_hikari.bench import report  # noqa: PLC0415
    from castbot_hikari.bench.runner import run_one  # noqa: PLC0415
    from castbot_hikari.bench.scenarios import PROCESSES, STRATEGIES  # noqa: PLC0415

    results: dict[str, Figures] = {}
    scenarios = [s for s in PROCESSES if s.store in stores]
    async with contextlib.AsyncExitStack() as stack:
        if "postgres" in stores and options.database_url is None:
            url = await stack.enter_async_context(_throwaway_postgres(err))
            options = dataclasses.replace(options, database_url=url)
            if url is None:
                scenarios = [s for s in scenarios if s.store != "postgres"]
        for scenario in scenarios:
            bar.start(f"{scenario.name}/deferred")
            outcome = await run_one(scenario, STRATEGIES["deferred"], options, bar)
            bar.finish(f"bot pids {', '.join(map(str, outcome.bot_pids))}")
            results[scenario.name] = outcome.figures
    out.write(report.render_processes(scenarios, results))
    return results


@contextlib.asynccontextmanager
async def _throwaway_postgres(err: TextIO) -> AsyncGenerator[str | None]:
    """Start a PostgreSQL cluster in a temp folder for the run (``None``: no server installed, said once)."""
    from castbot_hikari.testing.pgcluster import START_HINT, find_bin_dir, start_cluster  # noqa: PLC0415

    bin_dir = find_bin_dir()
    if bin_dir is None:
        err.write(f"processes: the PostgreSQL runs are left out: {START_HINT}\n")
        yield None
        return
    cluster = await asyncio.to_thread(start_cluster, bin_dir)
    err.write(f"processes: a throwaway PostgreSQL on 127.0.0.1:{cluster.port} (pid {cluster.pid})\n")
    try:
        yield cluster.url()
    finally:
        await asyncio.to_thread(cluster.stop)


async def bench(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run the chosen sections and print their tables; return the exit code."""
    from castbot_hikari.bench import persistence, profile, report  # noqa: PLC0415
    from castbot_hikari.bench.runner import RunOptions  # noqa: PLC0415

    sections, scenarios, strategies = _chosen(args)
    with_processes = bool({"load", "memory", "processes"} & set(sections))
    log_dir = args.logs or Path(tempfile.mkdtemp(prefix="castbot-bench-logs-") if with_processes else ".")
    options = RunOptions(
        profile=profile.with_limits(profile.DISCORD_LIKE, args.limits),
        seed=args.seed,
        log_dir=log_dir,
        result_timeout_s=QUICK_CUTOFF_S if args.quick else FULL_CUTOFF_S,
    )
    bar = report.ProgressBar(err)
    err.write(
        f"castbot-hikari bench: {', '.join(sections)}" + (f"; process logs in {log_dir}\n" if with_processes else "\n")
    )
    results: dict[str, dict[str, Figures]] = {}
    if "load" in sections:
        results = await run_load(scenarios, strategies, options, bar)
        out.write(report.render_load(scenarios, results))
    if "persistence" in sections:
        err.write("persistence: generating data files and timing the store…\n")
        sizes, startup = await persistence.run_persistence(persistence.QUICK_SIZES if args.quick else persistence.SIZES)
        out.write(persistence.render_persistence(sizes, startup))
    if "stores" in sections:
        from castbot_hikari.bench import stores  # noqa: PLC0415

        err.write("stores: timing one apply in each store…\n")
        database_url = args.database_url or os.environ.get("CASTBOT_DATABASE_URL") or None
        figures = await stores.run_stores(database_url)
        skipped = None if database_url else "postgres: not timed (give --database-url or CASTBOT_DATABASE_URL)"
        out.write(stores.render_stores(figures, skipped=skipped))
    if "memory" in sections:
        results["memory"] = await run_memory(options, bar, out)
    if "processes" in sections:
        kinds = ("json", "postgres") if args.store == "both" else (args.store,)
        results["processes"] = await run_processes(
            dataclasses.replace(options, database_url=args.database_url), bar, out, err, kinds
        )
    if args.json is not None:
        report.write_json(args.json, results)
    if args.plot is not None:
        report.write_plot(
            args.plot, {name: figs for name, figs in results.items() if name not in ("memory", "processes")}
        )
    out.flush()
    return 0


async def _guarded(args: argparse.Namespace) -> int:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await bench(args)


def main(args: argparse.Namespace) -> int:
    """Run the benchmark from parsed arguments (Ctrl-C and SIGTERM stop every process it started)."""
    from castbot_hikari.bench.runner import BenchError  # noqa: PLC0415

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    try:
        return asyncio.run(_guarded(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.stderr.write("\ncastbot-hikari bench: interrupted; every process it started was stopped\n")
        return 130
    except (BenchError, ValueError, ImportError) as exc:
        sys.stderr.write(f"castbot-hikari bench: error: {exc}\n")
        return 1
