"""Shared fixtures: a data folder seeded with one CastBot config, and a repository over it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import orjson
import pytest
import pytest_asyncio
from hypothesis import settings as hypothesis_settings

from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.document import DATA_FILE
from castbot_hikari.testing.pgcluster import START_HINT, Cluster, find_bin_dir, start_cluster
from tests.apply.fakes import CONFIG, GUILD, castbot_config


def write_player_data(data_dir: Path, doc: dict[str, object]) -> Path:
    """Write a playerData.json as CastBot would have left it."""
    path = data_dir / DATA_FILE
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data folder holding one guild with one Apply config and some keys this bot does not know."""
    write_player_data(
        tmp_path,
        {
            str(GUILD): {
                "players": {"1": {"age": 24}},
                "tribes": {"t1": {"name": "Red"}},
                "applicationConfigs": {CONFIG: castbot_config()},
                "applications": {},
            },
            "environmentConfig": {"liveDiscordLogging": True},
        },
    )
    return tmp_path


@pytest_asyncio.fixture
async def repo(data_dir: Path) -> AsyncIterator[JsonApplicationRepository]:
    """A JSON repository over ``data_dir`` (fsync off: these tests check logic, not disks)."""
    repository = JsonApplicationRepository.open(data_dir, fsync=False)
    yield repository
    await repository.close()


# Property tests: 400 examples by default; HYPOTHESIS_PROFILE=long (HYPOTHESIS_MAX_EXAMPLES, default 20,000)
# for long runs, e.g. before a release: HYPOTHESIS_PROFILE=long nox -s tests -- tests/apply/test_apply_properties.py
hypothesis_settings.register_profile("default", max_examples=400)
hypothesis_settings.register_profile("long", max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "20000")))
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster | str]:
    """A throwaway PostgreSQL cluster for this test session (or ``CASTBOT_TEST_DATABASE_URL``'s server).

    Without server binaries the tests that need it are skipped, saying how to get one; under CI
    (``CI`` set) they fail instead, so a CI machine without PostgreSQL can never pass silently.
    """
    if url := os.environ.get("CASTBOT_TEST_DATABASE_URL"):
        yield url
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail(START_HINT)
        pytest.skip(START_HINT)
    cluster = start_cluster(bin_dir)
    try:
        yield cluster
    finally:
        cluster.stop()


def _admin_url(cluster: Cluster | str) -> str:
    return cluster if isinstance(cluster, str) else cluster.url()


def _with_database(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _in_thread(url: str, statement: str) -> None:
    """Run one statement on a loop of its own in a thread: a sync fixture, usable from async fixtures too."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _admin(url, statement)).result(timeout=60)


@pytest.fixture
def pg_url(pg_cluster: Cluster | str) -> Iterator[str]:
    """A fresh, empty database on the test cluster for one test; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    _in_thread(_admin_url(pg_cluster), f'CREATE DATABASE "{name}"')
    yield _with_database(_admin_url(pg_cluster), name)
    _in_thread(_admin_url(pg_cluster), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
