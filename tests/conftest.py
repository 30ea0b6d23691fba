"""Shared fixtures: a data folder seeded with one CastBot config, and a repository over it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
import pytest_asyncio
from hypothesis import settings as hypothesis_settings

from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.document import DATA_FILE
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
