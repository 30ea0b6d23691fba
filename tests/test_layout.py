"""The layout's promises: `run` stays free of the emulator, and no import runs backwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import sys
import castbot_hikari.cli as cli
cli.build_parser().parse_args(["run"])
import castbot_hikari.app
heavy = sorted(m for m in sys.modules if m.startswith(("castbot_hikari.testing", "jsonschema")))
print(",".join(heavy))
"""


def test_run_imports_neither_the_emulator_nor_jsonschema() -> None:
    """What `castbot-hikari run` loads (its parser and the app) holds no emulator module and no jsonschema."""
    found = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120)
    assert found.stdout.strip() == ""


def test_no_import_runs_backwards() -> None:
    """The import-linter contracts of pyproject.toml hold (layers top to bottom; the emulator stands alone)."""
    linted = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert linted.returncode == 0, linted.stdout[-3000:]
