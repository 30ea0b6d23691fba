"""Processes started for a run are stopped by PID, also when the run is cancelled; /proc readings."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from castbot_hikari.bench.procs import Child, Children, burner_argv, cpu_seconds, memory_mb, python_env


@pytest.mark.asyncio
async def test_children_are_stopped_when_the_run_is_cancelled(tmp_path: Path) -> None:
    started = asyncio.Event()
    spawned: list[Child] = []

    async def run() -> None:
        async with Children() as children:
            spawned.append(await children.spawn("burner", burner_argv(120), env=python_env(), cwd=tmp_path))
            started.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(run())
    await asyncio.wait_for(started.wait(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert spawned[0].process.returncode is not None  # stopped and reaped, not left burning


@pytest.mark.asyncio
async def test_stop_kills_a_child_that_ignores_its_signal(tmp_path: Path) -> None:
    script = (
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(60)"
    )
    async with Children() as children:
        child = await children.spawn(
            "stubborn",
            ["python3", "-c", script],
            env=python_env(),
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            grace_s=0.5,
        )
        assert child.process.stdout is not None
        await asyncio.wait_for(child.process.stdout.readline(), 60)
        assert await children.stop(child) == -9


def test_proc_readings_of_this_process() -> None:
    assert cpu_seconds(os.getpid()) > 0
    assert memory_mb(os.getpid(), "VmHWM") >= memory_mb(os.getpid(), "VmRSS") > 1
    with pytest.raises(LookupError):
        memory_mb(os.getpid(), "VmNothing")


def test_the_bot_never_inherits_castbot_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASTBOT_TOKEN", "from-a-developer-env")
    env = python_env({"CASTBOT_DATA_DIR": "/x"})
    assert "CASTBOT_TOKEN" not in env
    assert env["CASTBOT_DATA_DIR"] == "/x"
