"""Persistence figures: what a durable change costs with realistic data files, start-up time, loop stalls.

The store is driven as the bot drives it (``JournaledDocument`` through ``botside``): one change is the
ops of recording an application (set the record, drop the reservation), appended to the journal and
fsynced; concurrent changes share one write (group commit). For comparison, CastBot's way (rewrite the
whole file, here made atomic and durable) is timed too. Stalls are measured with ``StallMeter``.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

import orjson

from castbot_hikari.bench import botside, documents
from castbot_hikari.bench.stall import StallMeter
from castbot_hikari.bench.stats import percentile

SIZES: Final = (("178 KB", 178_000, 75), ("5 MB", 5_000_000, 200), ("20 MB", 20_000_000, 600))
QUICK_SIZES: Final = (("178 KB", 178_000, 75), ("5 MB", 5_000_000, 200))
META: Final = "_castbotHikari"
NEVER: Final = 10**9  # compact_every that keeps snapshots out of a measurement


@dataclass(frozen=True, slots=True)
class SizeFigures:
    """Figures for one data file size (milliseconds)."""

    label: str
    megabytes: float
    servers: int
    open_ms: float
    alone: tuple[float, float]
    concurrent: tuple[float, float]
    rewrite: tuple[float, float]
    journal_stall_ms: float
    checkpoint_stall_ms: float
    close_stall_ms: float


@dataclass(frozen=True, slots=True)
class StartupFigures:
    """Start-up of the largest file with a journal to replay."""

    label: str
    journal_entries: int
    open_clean_ms: float
    open_replay_ms: float


def _p50_p99(samples: Sequence[float]) -> tuple[float, float]:
    return percentile(samples, 0.5) or 0.0, percentile(samples, 0.99) or 0.0


class Changes:
    """The ops of one recorded application each, spread over a document's servers."""

    def __init__(self, doc: dict[str, Any], seed: int = 11) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - test data
        self._ids = documents.Snowflakes(self._rng)
        self._targets: list[tuple[str, str]] = []
        for guild_id, entry in doc.items():
            configs = cast("dict[str, Any]", entry).get("applicationConfigs") if isinstance(entry, dict) else None
            if isinstance(configs, dict) and configs:
                self._targets.append((guild_id, str(next(iter(cast("dict[str, Any]", configs))))))

    def next(self) -> list[botside.Op]:
        """Return the ops of recording one more application."""
        guild_id, config_id = self._rng.choice(self._targets)
        channel_id, record = documents.application_record(self._ids, self._rng, config_id)
        reservation = f"{guild_id}:{record['userId']}:{config_id}"
        return [
            botside.set_op(guild_id, "applications", channel_id, value=record),
            botside.del_op(META, "pending", reservation),
        ]


async def _timed(document: botside.Document, ops: list[botside.Op]) -> float:
    start = time.perf_counter()
    await document.change(ops)
    return (time.perf_counter() - start) * 1000


async def change_costs(
    path: Path, changes: Changes, *, alone: int, rounds: int, concurrent: int
) -> tuple[list[float], list[float]]:
    """Return the costs (ms) of ``alone`` changes one after another and of ``rounds`` x ``concurrent`` at once."""
    document = botside.open_document(path, compact_every=NEVER)
    try:
        single = [await _timed(document, changes.next()) for _ in range(alone)]
        together: list[float] = []
        for _ in range(rounds):
            together += await asyncio.gather(*(_timed(document, changes.next()) for _ in range(concurrent)))
    finally:
        await document.close()
    return single, together


def rewrite_costs(path: Path, doc: dict[str, Any], changes: Changes, count: int) -> list[float]:
    """Return the costs (ms) of CastBot's whole-file save, made atomic and durable, per change."""
    costs: list[float] = []
    for _ in range(count):
        start = time.perf_counter()
        for op in changes.next():
            if not op.delete:
                doc[op.path[0]].setdefault("applications", {})[op.path[2]] = op.value
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as handle:
            handle.write(orjson.dumps(doc))
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
        costs.append((time.perf_counter() - start) * 1000)
    return costs


async def stalls(path: Path, changes: Changes, *, compact_every: int = 50) -> tuple[float, float, float]:
    """Return the longest loop stall (ms) during journal writes, during a checkpoint, and during close."""
    document = botside.open_document(path, compact_every=compact_every)
    async with StallMeter(0.002) as meter:
        for _ in range(compact_every - 10):
            await document.change(changes.next())
        journal = meter.longest
        meter.reset()
        for _ in range(20):  # crosses compact_every: one write is a full snapshot
            await document.change(changes.next())
        checkpoint = meter.longest
        meter.reset()
        await document.close()
        closing = meter.longest
    return journal * 1000, checkpoint * 1000, closing * 1000


async def measure_size(label: str, size: int, servers: int, folder: Path, *, samples: int = 200) -> SizeFigures:
    """Return every figure for one file size, in a fresh file each."""
    doc = documents.castbot_document(size, servers)
    raw = orjson.dumps(doc)
    path = folder / botside.DATA_FILE
    path.write_bytes(raw)
    start = time.perf_counter()
    await (botside.open_document(path)).close()
    open_ms = (time.perf_counter() - start) * 1000
    changes = Changes(doc)
    single, together = await change_costs(path, changes, alone=samples, rounds=5, concurrent=200)
    rewrite = await asyncio.to_thread(rewrite_costs, folder / "castbot-style.json", orjson.loads(raw), changes, 20)
    path.write_bytes(raw)
    path.with_name(path.name + ".journal").unlink(missing_ok=True)
    journal_ms, checkpoint_ms, close_ms = await stalls(path, changes)
    return SizeFigures(
        label,
        len(raw) / 1e6,
        servers,
        open_ms,
        _p50_p99(single),
        _p50_p99(together),
        _p50_p99(rewrite),
        journal_ms,
        checkpoint_ms,
        close_ms,
    )


async def measure_startup(label: str, size: int, servers: int, folder: Path, entries: int = 5000) -> StartupFigures:
    """Return the open time of a file of ``size`` bytes, clean and with ``entries`` journal entries to replay."""
    doc = documents.castbot_document(size, servers)
    path = folder / botside.DATA_FILE
    path.write_bytes(orjson.dumps(doc))
    path.with_name(path.name + ".journal").unlink(missing_ok=True)
    start = time.perf_counter()
    document = botside.open_document(path, compact_every=NEVER)
    clean = (time.perf_counter() - start) * 1000
    changes = Changes(doc)
    for _ in range(entries // 500):
        await asyncio.gather(*(document.change(changes.next()) for _ in range(500)))
    # Abandoned, not closed, as after a crash: close() would fold the journal into a snapshot.
    await document.abandon()
    start = time.perf_counter()
    replayed = botside.open_document(path, compact_every=NEVER)
    replay = (time.perf_counter() - start) * 1000
    await replayed.close()
    return StartupFigures(label, entries, clean, replay)


async def run_persistence(
    sizes: Sequence[tuple[str, int, int]] = SIZES, folder: Path | None = None
) -> tuple[list[SizeFigures], StartupFigures]:
    """Measure every size, then the start-up of the largest (in a temp folder on the working disk)."""
    with tempfile.TemporaryDirectory(prefix="castbot-bench-store-", dir=folder or Path.cwd()) as tmp:
        results: list[SizeFigures] = []
        for label, size, servers in sizes:
            target = Path(tmp) / label.replace(" ", "")
            target.mkdir()
            results.append(await measure_size(label, size, servers, target))
        label, size, servers = sizes[-1]
        startup_dir = Path(tmp) / "startup"
        startup_dir.mkdir()
        return results, await measure_startup(label, size, servers, startup_dir)


def render_persistence(sizes: Sequence[SizeFigures], startup: StartupFigures) -> str:
    """Return the persistence table."""
    from castbot_hikari.bench.report import table  # noqa: PLC0415 - report imports stats only; keeps this light

    def pair(values: tuple[float, float]) -> str:
        return f"{values[0]:.2f} / {values[1]:.2f}"

    header = (
        "file",
        "servers",
        "open",
        "change alone p50/p99",
        "200 at once p50/p99",
        "whole-file rewrite p50/p99",
        "stall: journal",
        "checkpoint",
        "close",
    )
    rows = [header] + [
        (
            f"{s.label} ({s.megabytes:.2f} MB)",
            str(s.servers),
            f"{s.open_ms:.0f} ms",
            pair(s.alone) + " ms",
            pair(s.concurrent) + " ms",
            pair(s.rewrite) + " ms",
            f"{s.journal_stall_ms:.1f} ms",
            f"{s.checkpoint_stall_ms:.1f} ms",
            f"{s.close_stall_ms:.1f} ms",
        )
        for s in sizes
    ]
    lines = [
        "",
        "Persistence: one durable change = the journal line of recording an application, fsynced",
        *("  " + line for line in table(rows)),
        f"  start-up with {startup.label}: open {startup.open_clean_ms:.0f} ms clean, "
        f"{startup.open_replay_ms:.0f} ms with {startup.journal_entries:,} journal entries to replay",
        "  stall = the longest event-loop stall a 2 ms ticker saw (journal writes alone; the write that is a "
        "checkpoint snapshot; close's final snapshot).",
        "  open blocks the loop for its whole time (start-up only).",
        "",
    ]
    return "\n".join(lines)
