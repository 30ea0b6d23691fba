"""The deployment recipes: the container image and the systemd unit run what the README says they run.

No container engine runs here, so the Dockerfile is checked by reading it (and linted by hadolint in
``nox -s lint``); the unit is parsed, and verified by ``systemd-analyze`` where it is installed.
"""

from __future__ import annotations

import configparser
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from castbot_hikari.app import DRAIN_SECONDS
from castbot_hikari.cli import ExitCode

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
UNIT = ROOT / "deploy" / "castbot-hikari.service"


def instructions(path: Path) -> list[tuple[str, str]]:
    """Return a Dockerfile's (INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical]


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Return the instructions of the last build stage."""
    last = max(i for i, (name, _) in enumerate(steps) if name == "FROM")
    return steps[last:]


def test_the_image_builds_from_the_package_and_python_3_11() -> None:
    steps = instructions(DOCKERFILE)
    bases = [args.split()[0] for name, args in steps if name == "FROM"]
    assert bases
    assert all(base.startswith("python:3.11-") for base in bases)  # requires-python = ">=3.11"
    copied = [args.split() for name, args in steps if name == "COPY" and "--from" not in args]
    sources = {source for parts in copied for source in parts[:-1]}
    assert {"pyproject.toml", "README.md", "castbot_hikari", "extensions"} <= sources
    assert all((ROOT / source).exists() for source in sources)
    installs = [args for name, args in steps if name == "RUN" and "pip install" in args]
    assert any(args.rstrip().endswith(" .") for args in installs)  # the package itself, from the sources


def test_the_image_runs_the_bot_as_a_non_root_user_with_the_data_folder_as_a_volume() -> None:
    steps = final_stage(instructions(DOCKERFILE))
    users = [args for name, args in steps if name == "USER"]
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")
    last_run = max(i for i, (name, _) in enumerate(steps) if name == "RUN")
    assert max(i for i, (name, _) in enumerate(steps) if name == "USER") > last_run
    (created,) = [args for name, args in steps if name == "RUN" and "useradd" in args]
    assert f"--uid {users[-1].split(':')[0]} " in created
    env = " ".join(args for name, args in steps if name == "ENV")
    assert "CASTBOT_DATA_DIR=/data" in env
    (volume,) = [json.loads(args) for name, args in steps if name == "VOLUME"]
    assert volume == ["/data"]
    (entrypoint,) = [json.loads(args) for name, args in steps if name == "ENTRYPOINT"]
    (command,) = [json.loads(args) for name, args in steps if name == "CMD"]
    assert [*entrypoint, *command] == ["castbot-hikari", "run"]
    assert ("STOPSIGNAL", "SIGTERM") in steps  # hikari stops cleanly on SIGINT and SIGTERM


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment, method-assign]  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser


def test_the_unit_runs_the_bot_unprivileged_and_restarts_only_what_a_restart_can_fix() -> None:
    service = unit()["Service"]
    program, *args = shlex.split(service["ExecStart"])
    assert (Path(program).name, args) == ("castbot-hikari", ["run"])
    assert service["User"] not in ("root", "0")
    assert service["Restart"] == "on-failure"
    prevented = {int(code) for code in service["RestartPreventExitStatus"].split()}
    assert prevented == {ExitCode.USAGE, ExitCode.DATA, ExitCode.TOKEN_REFUSED}
    assert ExitCode.DISCORD_UNREACHABLE not in prevented
    assert service["KillSignal"] in ("SIGTERM", "SIGINT")
    assert int(service["TimeoutStopSec"]) > DRAIN_SECONDS  # running applies get their time, then the snapshot
    data_dir = service["Environment"].removeprefix("CASTBOT_DATA_DIR=")
    assert data_dir.startswith(service["ReadWritePaths"] + "/")
    assert data_dir.startswith(f"/var/lib/{service['StateDirectory']}/")
    assert service["EnvironmentFile"].startswith("/etc/")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    text = UNIT.read_text()
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    # verify insists that the program exists: point it at this interpreter for the check.
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(exec_start, f"ExecStart={sys.executable} -m castbot_hikari run"))
    verified = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr == ""  # unknown keys are only warned about


def test_ci_installs_postgresql_when_missing_and_runs_nox() -> None:
    script = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    lines = [line.strip() for line in script.splitlines()]
    assert "python3 -m nox" in lines
    assert any("apt-get install -y" in line and "postgresql" in line for line in lines)
    assert "/usr/lib/postgresql/*/bin/initdb" in script
