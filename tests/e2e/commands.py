"""Running ``castbot-hikari`` as an operator does: a separate process, settings from the environment only."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

TOKEN = base64.b64encode(b"444444444444444444").decode().rstrip("=") + ".GabcDe.secretsecretsecret"
COMMAND_TIMEOUT = 120.0  # a safety net for a hung command, not a timing assertion


@dataclass(frozen=True)
class Result:
    """What a finished command printed and returned."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        """Return stderr's lines."""
        return self.err.splitlines()


def environment(**settings: str) -> dict[str, str]:
    """Return this process's environment without any ``CASTBOT_*`` setting, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASTBOT_")}
    env.update(settings)
    return env


def closed_port_url() -> str:
    """Return an API URL on 127.0.0.1 where nothing listens (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/v10"


def as_ordinary_user() -> list[str]:
    """Return a command prefix under which file permissions apply (root ignores them), or skip the test."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a folder read-only for the bot")
    # Dropping these capabilities makes root obey the permission bits, as any other user does.
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]


def castbot(*args: str, cwd: Path, env: Mapping[str, str] | None = None, prefix: Sequence[str] = ()) -> Result:
    """Run ``python -m castbot_hikari ARGS`` to the end and return what it printed."""
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "castbot_hikari", *args],
        cwd=cwd,
        env=dict(env) if env is not None else environment(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


async def start(*args: str, cwd: Path, env: Mapping[str, str]) -> asyncio.subprocess.Process:
    """Start ``python -m castbot_hikari ARGS`` in the background, stdout and stderr piped together."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "castbot_hikari",
        *args,
        cwd=cwd,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def stop(proc: asyncio.subprocess.Process, signum: int = signal.SIGINT) -> tuple[int, str]:
    """Stop a started command the way a terminal would (Ctrl-C), kill it only if it hangs; return code, output."""
    if proc.returncode is None:
        proc.send_signal(signum)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=COMMAND_TIMEOUT)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, (out or b"").decode()


async def read_until(proc: asyncio.subprocess.Process, marker: str, seen: list[str]) -> None:
    """Read the started command's output line by line until a line contains ``marker`` (bounded)."""
    assert proc.stdout is not None
    async with asyncio.timeout(COMMAND_TIMEOUT):
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise AssertionError(f"the command ended before printing {marker!r}: {''.join(seen)}")
            seen.append(line)
            if marker in line:
                return
