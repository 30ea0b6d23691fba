"""Per-apply save cost against the data file's size: journal (this bot) vs whole-file rewrite (CastBot).

Prints, for a small and a CastBot-sized (5 MB) playerData.json, the cost of one durable change (fsync
included) with this bot's journal and with a whole-file atomic rewrite, and the ratio between sizes.
Run: ``nox -s bench`` or ``python -m benchmarks.save_cost [--changes N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from castbot_hikari.castbot.journal import JournaledDocument, set_op


def castbot_like(target_bytes: int) -> dict[str, Any]:
    """Return a playerData-shaped document of about ``target_bytes``."""
    doc: dict[str, Any] = {}
    guild = 0
    while len(orjson.dumps(doc)) < target_bytes:
        guild += 1
        gid = str(1_300_000_000_000_000_000 + guild)
        doc[gid] = {
            "players": {str(10**17 + n): {"age": 20 + n % 30, "pronouns": "they/them"} for n in range(60)},
            "applicationConfigs": {f"config_{guild}_1": {"buttonText": "Apply", "channelFormat": "📝%name%-app"}},
            "applications": {
                str(10**18 + guild * 1000 + n): {
                    "userId": str(10**17 + n),
                    "channelId": str(10**18 + guild * 1000 + n),
                    "configId": f"config_{guild}_1",
                    "displayName": f"Player {n}",
                    "channelName": f"📝player{n}-app",
                    "createdAt": "2026-08-01T10:22:31.123Z",
                    "rankings": {"1": 3, "2": 5},
                }
                for n in range(100)
            },
        }
    return doc


def whole_file_save(path: Path, doc: dict[str, Any]) -> None:
    """CastBot's way, made atomic and durable: serialise everything, temp file, fsync, replace."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(orjson.dumps(doc))
        os.fsync(handle.fileno())
    os.replace(tmp, path)


async def journal_costs(path: Path, doc: dict[str, Any], changes: int) -> list[float]:
    document = JournaledDocument.open(path, empty=doc, compact_every=10**9)  # no snapshot inside the loop
    costs: list[float] = []
    for n in range(changes):
        start = time.perf_counter()
        await document.change([set_op("bench", "applications", str(n), value={"userId": str(n), "n": n})])
        costs.append((time.perf_counter() - start) * 1000)
    await document.close()
    return costs


def rewrite_costs(path: Path, doc: dict[str, Any], changes: int) -> list[float]:
    costs: list[float] = []
    for n in range(changes):
        start = time.perf_counter()
        doc.setdefault("bench", {}).setdefault("applications", {})[str(n)] = {"userId": str(n), "n": n}
        whole_file_save(path, doc)
        costs.append((time.perf_counter() - start) * 1000)
    return costs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=100, help="durable changes per measurement (default 100)")
    args = parser.parse_args(argv)
    rows: list[tuple[str, float, float, float]] = []
    medians: dict[tuple[str, str], float] = {}
    for label, size in (("178 KB", 178_000), ("5 MB", 5_000_000)):
        doc = castbot_like(size)
        actual = len(orjson.dumps(doc)) / 1e6
        for method in ("journal", "whole-file rewrite"):
            with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
                path = Path(tmp) / "playerData.json"
                if method == "journal":
                    costs = asyncio.run(journal_costs(path, orjson.loads(orjson.dumps(doc)), args.changes))
                else:
                    costs = rewrite_costs(path, orjson.loads(orjson.dumps(doc)), args.changes)
            ordered = sorted(costs)
            p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
            medians[(method, label)] = statistics.median(costs)
            rows.append((f"{method:<19} {label:>6} ({actual:.2f} MB)", statistics.median(costs), p99, max(costs)))
    out = sys.stdout
    out.write(f"Per-change durable save cost, {args.changes} changes each (fsync included), ms\n")
    out.write(f"{'method / file size':<38}{'p50':>9}{'p99':>9}{'max':>9}\n")
    for name, p50, p99, worst in rows:
        out.write(f"{name:<38}{p50:9.2f}{p99:9.2f}{worst:9.2f}\n")
    for method in ("journal", "whole-file rewrite"):
        ratio = medians[(method, "5 MB")] / medians[(method, "178 KB")]
        out.write(f"{method}: p50 at 5 MB / p50 at 178 KB = {ratio:.2f}x\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
