"""What the benchmark shows: a progress bar on stderr, tables on stdout, the JSON file and the plot."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, TextIO

import orjson

from castbot_hikari.bench.scenarios import Scenario
from castbot_hikari.bench.stats import Figures, Ratios, ratios, scenarios_json

BAR_WIDTH: Final = 30
ACK_NOTE: Final = (
    "ack = INTERACTION_CREATE dispatched -> the bot's callback received, measured by the emulator process's own "
    "event loop, which also serves every REST request and fires the clicks (its largest lag is shown); the "
    "benchmark waits in a third process. final = dispatch -> the final message visible (only clicks that got one). "
    "wall = first click -> last result; floor = the least wall time Discord's latencies and rate limits allow. "
    "unsettled = clicks with neither a final message nor a refused answer when the run was cut off (ack "
    "percentiles are over the answered clicks; wall is then a lower bound). "
    "cpu/apply = bot CPU seconds during the run / applications recorded (after the bot's drain on stop)."
)


class ProgressBar:
    """A one-line progress bar (redrawn on a terminal, a line per quarter elsewhere)."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._tty = out.isatty()
        self._label = ""
        self._started = 0.0
        self._quarter = -1

    def start(self, label: str) -> None:
        """Begin a bar for one run."""
        self._label = label
        self._started = time.monotonic()
        self._quarter = -1
        if not self._tty:
            self._out.write(f"{label}: started\n")
            self._out.flush()

    def clicking(self, bot_pid: int) -> None:
        """Note the bot's PID (for py-spy) as the clicks start."""
        self._label = f"{self._label.split(' ')[0]} (bot {bot_pid})"
        if not self._tty:
            self._out.write(f"{self._label}: clicking\n")
            self._out.flush()

    def update(self, done: int, total: int) -> None:
        """Show ``done`` of ``total`` settled clicks."""
        filled = done * BAR_WIDTH // max(1, total)
        line = (
            f"{self._label:<36} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} "
            f"{time.monotonic() - self._started:5.1f} s"
        )
        if self._tty:
            self._out.write(f"\r{line}")
        elif (quarter := done * 4 // max(1, total)) > self._quarter:
            self._quarter = quarter
            self._out.write(line + "\n")
        self._out.flush()

    def finish(self, note: str = "") -> None:
        """End the bar's line."""
        if self._tty:
            self._out.write(f"  {note}\n" if note else "\n")
        elif note:
            self._out.write(f"{self._label}: {note}\n")
        self._out.flush()


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} ms" if value < 100 else f"{value:,.0f} ms"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _times(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "inf" if math.isinf(value) else f"{value:,.1f}x"


COLUMNS: Final = (
    "strategy",
    "clicks",
    "past 3 s",
    "ack p50",
    "ack p99",
    "ack max",
    "final p50",
    "final p99",
    "finals",
    "unsettled",
    "completed",
    "dup",
    "wall",
    "floor",
    "cpu/apply",
    "peak RSS",
    "429s",
    "emu lag",
)


def _row(strategy: str, fig: Figures) -> list[str]:
    cpu = "-" if fig.cpu_s_per_apply is None else f"{fig.cpu_s_per_apply * 1000:.1f} ms"
    return [
        strategy,
        str(fig.clicks),
        f"{fig.past_3s} ({fig.failed_rate:.0%})",
        _ms(fig.ack_ms.get("p50")),
        _ms(fig.ack_ms.get("p99")),
        _ms(fig.ack_ms.get("max")),
        _s(fig.final_s.get("p50")),
        _s(fig.final_s.get("p99")),
        str(fig.finals),
        str(fig.unsettled),
        str(fig.completed),
        str(fig.duplicates),
        ("> " if fig.unsettled else "") + _s(fig.wall_s),
        _s(fig.floor_s),
        cpu,
        f"{fig.peak_rss_mb:.0f} MB",
        str(fig.rate_limited),
        _ms(fig.emulator_lag_max_ms),
    ]


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Return rows as aligned text lines (first column left, the others right-aligned)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row))
        for row in rows
    ]


def load_rows(by_strategy: Mapping[str, Figures]) -> list[str]:
    """Return the aligned table of one scenario's strategies, header first."""
    return table([COLUMNS, *(_row(strategy, fig) for strategy, fig in by_strategy.items())])


def ratio_line(found: Ratios, synchronous: Figures, deferred: Figures) -> str:
    """Return the line comparing the synchronous pattern with the deferred bot."""
    return (
        f"synchronous / deferred: failed rate {_times(found.failed_rate)} "
        f"({synchronous.failed_rate:.1%} vs {deferred.failed_rate:.1%}), ack p99 {_times(found.ack_p99)} "
        f"({_ms(synchronous.ack_ms.get('p99'))} vs {_ms(deferred.ack_ms.get('p99'))})"
    )


def render_load(scenarios: Sequence[Scenario], results: Mapping[str, Mapping[str, Figures]]) -> str:
    """Return the load tables, one per scenario, with the ratios and the note on how ack is measured."""
    lines: list[str] = []
    for scenario in scenarios:
        by_strategy = results.get(scenario.name)
        if not by_strategy:
            continue
        lines += ["", f"{scenario.name}: {scenario.summary}"]
        lines += ["  " + line for line in load_rows(by_strategy)]
        if "synchronous" in by_strategy and "deferred" in by_strategy:
            sync, deferred = by_strategy["synchronous"], by_strategy["deferred"]
            lines.append("  " + ratio_line(ratios(sync, deferred), sync, deferred))
    lines += ["", ACK_NOTE, ""]
    return "\n".join(lines)


def _processes_label(scenario: Scenario) -> str:
    per = scenario.shards // scenario.processes
    shards = f"{per} shard{'s' if per > 1 else ''}"
    return f"{scenario.processes} ({shards} each)" if scenario.processes > 1 else f"1 ({shards})"


def render_processes(scenarios: Sequence[Scenario], results: Mapping[str, Figures]) -> str:
    """Return the processes section: what several processes of one bot earn at Discord's per-bot limits."""
    rows = [
        [
            "store",
            "processes",
            "clicks",
            "past 3 s",
            "ack p99",
            "completed",
            "dup",
            "last result",
            "cpu/apply",
            "429s",
            "invalid",
            "emu lag",
        ]
    ]
    for scenario in scenarios:
        fig = results.get(scenario.name)
        if fig is None:
            continue
        rows.append(
            [
                scenario.store,
                _processes_label(scenario),
                str(fig.clicks),
                str(fig.past_3s),
                _ms(fig.ack_ms.get("p99")),
                str(fig.completed),
                str(fig.duplicates),
                ("> " if fig.unsettled else "") + _s(fig.wall_s),
                "-" if fig.cpu_s_per_apply is None else f"{fig.cpu_s_per_apply * 1000:.1f} ms",
                str(fig.rate_limited),
                str(fig.invalid),
                _ms(fig.emulator_lag_max_ms),
            ]
        )
    lines = [
        "",
        "Processes: the burst (1,000 clicks, 75 servers, 1 s) against 4 shards split over bot processes, with a "
        "JSON data folder each (each pacing itself) or one PostgreSQL database (sharing Discord's global limit "
        "through it); 429s and invalid requests (401, 403, 429: Discord bans at 10,000 in 10 minutes) as the "
        "emulator counted them",
        *("  " + line for line in table(rows)),
    ]
    return "\n".join(lines) + "\n"


def write_json(path: Path, results: Mapping[str, Mapping[str, Figures]]) -> None:
    """Write ``{"scenarios": {name: {strategy: figures}}}``."""
    path.write_bytes(orjson.dumps(scenarios_json(results), option=orjson.OPT_INDENT_2) + b"\n")


def write_plot(path: Path, results: Mapping[str, Mapping[str, Figures]]) -> None:
    """Plot each scenario's ack-latency distributions (one curve per strategy) into a PNG.

    Raises:
        ImportError: matplotlib is not installed (``pip install 'castbot-hikari[bench]'``).
    """
    import matplotlib as mpl  # noqa: PLC0415 - optional dependency, only for --plot

    mpl.use("Agg")
    from matplotlib import pyplot as plt  # noqa: PLC0415

    names = [name for name, by_strategy in results.items() if by_strategy]
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 3.2 * max(1, len(names))), squeeze=False)
    for axis, name in zip(axes[:, 0], names, strict=True):
        for strategy, figs in results[name].items():
            samples = sorted(max(value, 0.01) for value in figs.ack_samples_ms)
            if samples:  # over all clicks: a curve ending below 1 means clicks never answered
                shares = [(n + 1) / figs.clicks for n in range(len(samples))]
                axis.step(samples, shares, where="post", label=f"{strategy} ({len(samples)} of {figs.clicks} answered)")
        axis.axvline(3000, color="red", linestyle="--", linewidth=1, label="3 s: This interaction failed")
        axis.set_xscale("log")
        axis.set_xlabel("ack latency (ms, log scale)")
        axis.set_ylabel("share of clicks")
        axis.set_title(f"{name}: ack latency distribution")
        axis.grid(visible=True, which="both", alpha=0.3)
        axis.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)  # pyright: ignore[reportUnknownMemberType] - matplotlib's **kwargs are untyped
    plt.close(fig)
