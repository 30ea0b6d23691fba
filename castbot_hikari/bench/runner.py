"""One benchmark run: the emulator process, the bot process (and the burner), the clicks, the figures."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, Protocol, cast

import orjson

from castbot_hikari.bench import botside
from castbot_hikari.bench.database import BenchDatabase
from castbot_hikari.bench.procs import Child, Children, burner_argv, cpu_seconds, memory_mb, python_env
from castbot_hikari.bench.profile import DISCORD_LIKE, Profile, profile_to_json
from castbot_hikari.bench.scenarios import Scenario, Strategy, shard_ranges
from castbot_hikari.bench.stats import ClickRecord, Figures, RunData, figures

START_TIMEOUT_S: Final = 300.0
BEFORE_FILE: Final = "applications-before.txt"  # beside the data file: what the world held before the run
BURNER_MAX_S: Final = 3600.0


class Watcher(Protocol):
    """Follows a run (the progress bar)."""

    def clicking(self, bot_pid: int) -> None:
        """The processes are ready and the clicks start."""
        ...

    def update(self, done: int, total: int) -> None:
        """``done`` of ``total`` clicks have settled."""
        ...


class BenchError(RuntimeError):
    """A run could not be carried out (a process died or did not start); the message names its log."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How runs are carried out.

    Attributes:
        profile: The emulator's latencies and limits.
        seed: Seed of the worlds, plans and latency draws (the same load for every strategy).
        log_dir: Where each run's process logs go.
        settle_s: Seconds to let the bot finish its start-up work after it is ready.
        result_timeout_s: Seconds after the last click to wait for every click to settle.
        bot_log_level: ``CASTBOT_LOG_LEVEL`` of the bot (INFO, as deployed).
        database_url: See the attribute.
    """

    profile: Profile = DISCORD_LIKE
    seed: int = 7
    log_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    settle_s: float = 1.0
    result_timeout_s: float = 600.0
    bot_log_level: str = "INFO"
    database_url: str | None = None
    """A PostgreSQL server whose user may create databases (runs with ``store="postgres"``: one fresh each)."""


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """A run's figures, with what is reported beside them."""

    figures: Figures
    rss_ready_mb: float
    bot_pid: int
    applications_before: int = 0
    bot_pids: tuple[int, ...] = ()


def _emu_config(scenario: Scenario, strategy: Strategy, options: RunOptions, data_dir: Path) -> dict[str, Any]:
    return {
        "world": scenario.world,
        "users": scenario.users,
        "servers": scenario.servers,
        "spread_s": scenario.spread_s,
        "clicks_per_user": scenario.clicks_per_user,
        "repeat_gap_s": list(scenario.repeat_gap_s),
        "seed": options.seed,
        "profile": profile_to_json(options.profile),
        "chain": strategy.chain,
        "data_dir": str(data_dir),
        "result_timeout_s": options.result_timeout_s,
        "shards": scenario.shards,
    }


async def _event(emu: Child, want: str, timeout: float, log: Path, progress: Watcher | None = None) -> dict[str, Any]:  # noqa: ASYNC109 - a bound on another process
    """Return the emulator process's next ``want`` event, passing progress events on."""
    stdout = emu.process.stdout
    assert stdout is not None
    async with asyncio.timeout(timeout):
        while line := await stdout.readline():
            event = cast("dict[str, Any]", orjson.loads(line))
            if event.get("event") == want:
                return event
            if event.get("event") == "progress" and progress is not None:
                progress.update(int(event["settled"]), int(event["total"]))
    msg = f"the emulator process ended before '{want}'; see {log}"
    raise BenchError(msg)


async def _send(emu: Child, command: str) -> None:
    stdin = emu.process.stdin
    assert stdin is not None
    with contextlib.suppress(ConnectionError):
        stdin.write(command.encode() + b"\n")
        await stdin.drain()


async def _bot_ready(bot: Child, log: Path, timeout: float) -> None:  # noqa: ASYNC109 - a bound on another process
    stdout = bot.process.stdout
    assert stdout is not None
    async with asyncio.timeout(timeout):
        while line := await stdout.readline():
            if line.decode().strip() == botside.READY_LINE:
                return
    msg = f"the bot process ended before it was ready; see {log}"
    raise BenchError(msg)


class _Logs:
    """The log files of one run's processes."""

    def __init__(self, directory: Path, scenario: Scenario, strategy: Strategy) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"{scenario.name}-{strategy.name}"
        self.emulator = directory / f"{stem}-emulator.log"
        self.bot = directory / f"{stem}-bot.log"
        self._handles: list[IO[bytes]] = []

    def open(self, path: Path) -> IO[bytes]:
        handle = path.open("wb")
        self._handles.append(handle)
        return handle

    def close(self) -> None:
        for handle in self._handles:
            handle.close()


async def run_one(
    scenario: Scenario, strategy: Strategy, options: RunOptions, progress: Watcher | None = None
) -> RunOutcome:
    """Carry out one run in fresh processes and a fresh data folder; every process is stopped by PID.

    Raises:
        BenchError: A process died or did not get ready in time.
    """
    logs = _Logs(options.log_dir, scenario, strategy)
    if scenario.store == "postgres" and options.database_url is None:
        msg = f"{scenario.name} runs on PostgreSQL: give --database-url or install PostgreSQL's server"
        raise BenchError(msg)
    database = BenchDatabase(options.database_url) if scenario.store == "postgres" and options.database_url else None
    try:
        with tempfile.TemporaryDirectory(prefix="castbot-bench-") as tmp:
            data_dir = Path(tmp) / "data"
            data_dir.mkdir()
            async with contextlib.AsyncExitStack() as stack:
                if database is not None:
                    await stack.enter_async_context(database)
                children = await stack.enter_async_context(Children())
                return await _run(
                    children,
                    scenario=scenario,
                    strategy=strategy,
                    options=options,
                    data_dir=data_dir,
                    logs=logs,
                    progress=progress,
                    database=database,
                )
    finally:
        logs.close()


async def _start(
    children: Children,
    *,
    scenario: Scenario,
    strategy: Strategy,
    options: RunOptions,
    data_dir: Path,
    logs: _Logs,
    database: BenchDatabase | None,
) -> tuple[Child, list[Child], list[Path]]:
    """Start the burner (busy), the emulator and the bot processes; return them and their data folders, ready."""
    cwd = data_dir.parent
    if scenario.burner:
        await children.spawn("burner", burner_argv(BURNER_MAX_S), env=python_env(), cwd=cwd, grace_s=5)
    emu = await children.spawn(
        "emulator",
        [sys.executable, "-m", "castbot_hikari.bench.emuproc"],
        env=python_env(),
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=logs.open(logs.emulator),
        grace_s=15,
    )
    await _send(emu, orjson.dumps(_emu_config(scenario, strategy, options, data_dir)).decode())
    listening = await _event(emu, "listening", START_TIMEOUT_S, logs.emulator)
    ranges = shard_ranges(scenario.shards, scenario.processes)
    if database is None:
        folders = await asyncio.to_thread(split_by_shards, data_dir, scenario.shards, ranges)
        stores = [{"CASTBOT_DATA_DIR": str(folder)} for folder in folders]
    else:
        await database.load(data_dir / botside.DATA_FILE, logs.open(logs.bot.with_name(f"{logs.bot.stem}-import.log")))
        folders = [data_dir] * len(ranges)
        stores = [database.env()] * len(ranges)
    bots: list[Child] = []
    for number, (shards, store) in enumerate(zip(ranges, stores, strict=True)):
        env = python_env(
            {
                "CASTBOT_TOKEN": listening["token"],
                "CASTBOT_API_URL": listening["rest_url"],
                "CASTBOT_LOG_LEVEL": options.bot_log_level,
                **store,
                **_shard_env(scenario, shards),
                **strategy.env,
            }
        )
        bot_log = logs.open(logs.bot if number == 0 else logs.bot.with_name(f"{logs.bot.stem}-{number}.log"))
        bots.append(
            await children.spawn(
                f"bot ({strategy.name})" + (f" {number}" if scenario.processes > 1 else ""),
                strategy.command(),
                env=env,
                cwd=cwd,
                stderr=bot_log,
                stdout=asyncio.subprocess.PIPE if strategy.prints_ready else bot_log,
                stop_signal=signal.SIGINT,
                grace_s=60,
            )
        )
    await _event(emu, "ready", START_TIMEOUT_S, logs.emulator)
    if strategy.prints_ready:
        for bot in bots:
            await _bot_ready(bot, logs.bot, START_TIMEOUT_S)
    await asyncio.sleep(options.settle_s)  # start-up work (command sync, reconciliation) finishes
    return emu, bots, folders


def _shard_env(scenario: Scenario, shards: tuple[int, ...]) -> dict[str, str]:
    if scenario.shards == 1:
        return {}
    return {"CASTBOT_SHARD_COUNT": str(scenario.shards), "CASTBOT_SHARD_IDS": f"{shards[0]}-{shards[-1]}"}


def split_by_shards(data_dir: Path, shards: int, ranges: list[tuple[int, ...]]) -> list[Path]:
    """Give each process a data folder holding the servers of its shards (one process per JSON folder).

    With one process the emulator's folder is used as it is. Keys that are not servers go to every folder.
    """
    if len(ranges) == 1:
        (data_dir / BEFORE_FILE).write_text(str(botside.count_applications(data_dir)))
        return [data_dir]
    data = cast("dict[str, Any]", orjson.loads((data_dir / botside.DATA_FILE).read_bytes()))
    folders: list[Path] = []
    for number, owned in enumerate(ranges):
        folder = data_dir.parent / f"data-{number}"
        folder.mkdir()
        part = {key: value for key, value in data.items() if not key.isdigit() or (int(key) >> 22) % shards in owned}
        (folder / botside.DATA_FILE).write_bytes(orjson.dumps(part))
        (folder / BEFORE_FILE).write_text(str(botside.count_applications(folder)))
        folders.append(folder)
    return folders


async def _run(
    children: Children,
    *,
    scenario: Scenario,
    strategy: Strategy,
    options: RunOptions,
    data_dir: Path,
    logs: _Logs,
    progress: Watcher | None,
    database: BenchDatabase | None,
) -> RunOutcome:
    emu, bots, folders = await _start(
        children,
        scenario=scenario,
        strategy=strategy,
        options=options,
        data_dir=data_dir,
        logs=logs,
        database=database,
    )
    rss_ready = sum(memory_mb(bot.pid, "VmRSS") for bot in bots)
    cpu_before = sum(cpu_seconds(bot.pid) for bot in bots)
    if progress is not None:
        progress.clicking(bots[0].pid)
    await _send(emu, "go")
    result = await _event(emu, "result", options.result_timeout_s + scenario.spread_s + 120, logs.emulator, progress)
    cpu_used = sum(cpu_seconds(bot.pid) for bot in bots) - cpu_before
    peak = max(memory_mb(bot.pid, "VmHWM") for bot in bots)
    for bot in bots:
        await children.stop(bot)  # SIGINT: the bot drains and writes its final snapshot
    await _send(emu, "stop")
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(emu.process.wait(), 15)  # it exits by itself; stop() then only reaps it
    await children.stop(emu)
    if database is None:
        before = sum(int((folder / BEFORE_FILE).read_text()) for folder in folders)
        after = sum([await asyncio.to_thread(botside.count_applications, folder) for folder in folders])
    else:
        before, after = database.imported, await database.count_applications()
    data = RunData(
        records=[ClickRecord(**record) for record in result["records"]],
        completed=after - before,
        duplicates=int(result["duplicates"]),
        floor_s=float(result["floor_s"]),
        cpu_s=cpu_used,
        peak_rss_mb=peak,
        emulator_lag_max_ms=float(result["lag_max_ms"]),
        rate_limited=int(result["rate_limited"]),
        requests=int(result["requests"]),
        invalid=int(result.get("invalid", 0)),
    )
    return RunOutcome(figures(data), rss_ready, bots[0].pid, before, tuple(bot.pid for bot in bots))
