"""The processes a benchmark run starts (emulator, bot, burner), stopped by PID; /proc readings of them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, Self

logger = logging.getLogger(__name__)

PIPE_LIMIT: Final = 256 * 1024 * 1024  # the emulator process reports a run's records in one line
_TICKS: Final = os.sysconf("SC_CLK_TCK")


@dataclass(slots=True)
class Child:
    """One started process and how to stop it."""

    name: str
    process: asyncio.subprocess.Process
    stop_signal: signal.Signals
    grace_s: float

    @property
    def pid(self) -> int:
        """Return the process id."""
        return self.process.pid


class Children:
    """Processes started for one run; every one is stopped by its PID on exit, error or Ctrl-C included.

    Each child gets its own session, so a Ctrl-C in the terminal reaches only this process, which then
    stops the children in reverse order of start (the bot before the emulator it talks to).
    """

    def __init__(self) -> None:
        self._children: list[Child] = []

    async def spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        stdin: int | None = None,
        stdout: int | IO[bytes] | None = None,
        stderr: int | IO[bytes] | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        grace_s: float = 30.0,
    ) -> Child:
        """Start ``argv`` and remember it for stopping."""
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=dict(env),
            cwd=cwd,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            limit=PIPE_LIMIT,
        )
        child = Child(name, process, stop_signal, grace_s)
        self._children.append(child)
        logger.info("started %s pid=%d", name, process.pid)
        return child

    async def stop(self, child: Child) -> int | None:
        """Stop one child by its PID (its stop signal, then SIGKILL after its grace); return its exit code."""
        if child in self._children:
            self._children.remove(child)
        process = child.process
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, child.stop_signal)
            try:
                await asyncio.wait_for(process.wait(), child.grace_s)
            except TimeoutError:
                logger.warning("%s pid=%d did not stop in %.0f s: killing it", child.name, child.pid, child.grace_s)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGKILL)
                await process.wait()
        return process.returncode

    async def stop_all(self) -> None:
        """Stop every child still running, the last started first."""
        for child in reversed(list(self._children)):
            await self.stop(child)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        # Shielded: on Ctrl-C the run's task is cancelled, and the children must still be stopped.
        await asyncio.shield(self.stop_all())


def cpu_seconds(pid: int) -> float:
    """Return the user plus system CPU seconds process ``pid`` has used (``/proc/<pid>/stat``)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime and stime, fields 14 and 15 of stat(5)


def memory_mb(pid: int, field: str = "VmHWM") -> float:
    """Return a memory figure of ``/proc/<pid>/status`` in MB: ``VmHWM`` (peak RSS) or ``VmRSS``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    msg = f"/proc/{pid}/status has no {field}"
    raise LookupError(msg)


def python_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return this environment without the bot's own settings (a developer's .env must not leak in)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CASTBOT_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def burner_argv(seconds: float) -> list[str]:
    """Return the command of a neighbour process that burns one core for at most ``seconds``."""
    return [sys.executable, "-m", "castbot_hikari.bench.burner", "--seconds", f"{seconds:.0f}"]
