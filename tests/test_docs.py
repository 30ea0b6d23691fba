"""The README says what the code does: the Quick start, exit codes, settings, messages and applicant texts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from castbot_hikari.apply import render
from castbot_hikari.apply.model import ApplyOutcome, Failure, Rejection, Welcome
from castbot_hikari.cli import ExitCode
from castbot_hikari.core.ids import ChannelId, RoleId, UserId
from castbot_hikari.settings import VARIABLES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SOURCE = " ".join(" ".join(path.read_text().split()) for path in sorted((ROOT / "castbot_hikari").rglob("*.py")))


def section(title: str) -> str:
    """Return the README's text under a ``##`` heading, up to the next one."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def test_the_quick_start_works_on_a_stock_debian_python() -> None:
    """Debian and Ubuntu refuse `pip install` outside a virtual environment (externally-managed-environment)."""
    commands = re.findall(r"```bash\n(.*?)```", section("Quick start"), flags=re.DOTALL)
    assert commands
    for command in commands[:2]:  # install and run the sandbox; run the checks
        assert command.startswith("python3 -m venv .venv && .venv/bin/python -m pip install ")
    pips = re.findall(r"(\S+) -m pip install", section("Quick start"))
    assert pips
    assert set(pips) == {".venv/bin/python"}
    assert "Python 3.11 or newer" in section("Quick start")
    assert 'requires-python = ">=3.11"' in (ROOT / "pyproject.toml").read_text()


def test_the_exit_code_table_is_the_code() -> None:
    rows = dict(re.findall(r"^\| (\d+) \| (.+) \|$", section("Exit codes"), flags=re.MULTILINE))
    assert sorted(int(code) for code in rows) == sorted(int(code) for code in ExitCode)


def test_every_setting_is_documented() -> None:
    table = section("Configuration")
    example = (ROOT / ".env.example").read_text()
    for name, _, _ in VARIABLES:
        assert f"| `{name}` |" in table
        assert f"\n{name}=" in example


@pytest.mark.parametrize(
    "message",
    [
        "there is no data file",
        "is missing but its journal",
        "is in use by another castbot-hikari process",
        "cannot write in the data folder",
        "cannot write the journal",
        "is a file, not a folder",
        "must be a JSON object",
        "is not valid JSON",
        "was written by a newer castbot-hikari",
        "Discord refused CASTBOT_TOKEN (401 Unauthorized)",
        "CASTBOT_TOKEN starts with 'Bot '",
        "CASTBOT_TOKEN is malformed",
        "could not reach the Discord API at",
        "already holds",
        "save failed path=",
        "the changes saved since the last snapshot are in",
        "the data file or its journal is gone",
        "PROBLEMS FOUND:",
        "(CASTBOT_METRICS_HOST/PORT)",
        "CASTBOT_SHARD_IDS needs CASTBOT_SHARD_COUNT",
    ],
)
def test_each_troubleshooting_message_is_one_the_code_prints(message: str) -> None:
    assert message in section("Troubleshooting")
    assert message in SOURCE


def test_what_the_applicant_sees_is_what_the_renderer_writes() -> None:
    shown = README[README.index("### What the applicant sees") : README.index("## Reliability")]
    texts = [render.PROGRESS_CREATING]
    texts += [render.apply_outcome(ApplyOutcome.rejected(reason, ChannelId(1))) for reason in Rejection]
    texts += [render.apply_outcome(ApplyOutcome.failed(reason, "ref")) for reason in Failure]
    for text in texts:
        first = text.split("\n", 1)[0].split("<#", 1)[0]
        assert first in shown
    welcome = render.welcome(Welcome(UserId(11), "Season 15", RoleId(22)))
    for line in welcome.replace("<@11>", "@applicant").replace("<@&22>", "@Production").splitlines():
        assert f"> {line}" in shown


def test_the_data_folder_readme_names_only_files_that_exist() -> None:
    text = (ROOT / "data" / "README.md").read_text()
    named = re.findall(r"`([\w./-]+\.json)`", text)
    assert "samples/playerData.sample.json" in named
    for name in named:
        assert name == "playerData.json" or (ROOT / "data" / name).is_file(), name
    assert "DATA.md" not in text  # the shared notes are not part of the repository


def _named_tests(text: str) -> list[tuple[str, str]]:
    """Return (file, name prefix) for every test the text names: ``file.py::name``, ``::name`` after it, or a file."""
    named: list[tuple[str, str]] = []
    current = ""
    for token in re.findall(r"`((?:test_\w+\.py)?(?:::\w+…?)?)`", text):
        file, _, name = token.partition("::")
        current = file or current
        if current:
            named.append((current, name.rstrip("…")))
    return named


def test_every_test_the_reliability_table_names_exists() -> None:
    table = section("Reliability")
    named = _named_tests(table)
    assert len(named) > 40  # the table is the contract: it names the tests that prove each row
    files = {path.name: path for path in (ROOT / "tests").rglob("test_*.py")}
    for file, name in named:
        assert file in files, f"{file} is named in the Reliability table but does not exist"
        if name:
            source = files[file].read_text()
            assert re.search(rf"def {re.escape(name)}", source), f"{file}::{name} does not exist"


def test_what_the_applicant_reads_in_the_channel_is_what_the_renderer_writes() -> None:
    from castbot_hikari.questions import render as questions_render
    from castbot_hikari.questions.model import Kind, Outcome

    shown = section("The application in the channel")
    for kind, number in (
        (Kind.STARTED, 1),
        (Kind.ANSWER_SAVED, 1),
        (Kind.POSTED, 2),
        (Kind.COMPLETED, None),
        (Kind.WITHDRAWN, None),
        (Kind.RESUMED, 2),
        (Kind.NOT_YOURS, None),
    ):
        text = questions_render.outcome(Outcome(kind, number, 3 if number else None))
        assert text in shown, text
    for label in ("Start", "Answer", "Next", "Complete", "Withdraw", "Resume"):
        assert f"**{label}**" in shown
