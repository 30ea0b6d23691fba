"""Both stores behind one face, so the same repository tests run against each (``stores`` fixture)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
import pytest_asyncio

from castbot_hikari.admin.ports import ConfigRepository, GuildSettings
from castbot_hikari.admin.store import JsonConfigRepository, JsonGuildSettings
from castbot_hikari.apply.model import ApplyKey
from castbot_hikari.apply.ports import ApplicationRepository, Leases
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.config import ApplicationConfig
from castbot_hikari.castbot.document import CONFIGS
from castbot_hikari.core.ids import ConfigId
from castbot_hikari.pg.store import PostgresStore
from castbot_hikari.pg.transfer import import_document
from tests.apply.fakes import CONFIG, GUILD, castbot_config
from tests.conftest import write_player_data

OWNER_A = "host:1:aaaa"
OWNER_B = "host:2:bbbb"


class Repository(ApplicationRepository, Leases, Protocol):
    """What each store gives the apply flow."""


@dataclass
class Stores:
    """Two processes' views of one store (the JSON file has one process: both are the same object).

    Attributes:
        a: Owner ``OWNER_A``'s repository.
        b: Owner ``OWNER_B``'s repository.
    """

    kind: str
    a: Repository
    b: Repository
    configs: ConfigRepository
    settings: GuildSettings
    pg: PostgresStore | None = None

    async def raw_config(self, config_id: ConfigId = CONFIG) -> dict[str, Any] | None:
        """Return the config's CastBot object as stored (with the keys this bot does not model)."""
        if self.pg is not None:
            return await self.pg.pool.fetchval(
                "SELECT data FROM configs WHERE guild_id = $1 AND config_id = $2", int(GUILD), str(config_id)
            )
        assert isinstance(self.a, JsonApplicationRepository)
        return self.a.document.doc[str(GUILD)][CONFIGS].get(config_id)

    async def expire(self, key: ApplyKey) -> None:
        """Make ``key``'s reservation count as its process's gone (PG: its lease ran out; JSON: callers pass
        a ``now_ms`` past ``stale_after_ms``, and every other owner is gone anyway)."""
        if self.pg is not None:
            await self.pg.pool.execute(
                "UPDATE applies SET lease_until = now() - interval '1 second' WHERE guild_id = $1 AND user_id = $2"
                " AND config_id = $3 AND state = 'reserved'",
                int(key.guild_id),
                int(key.user_id),
                str(key.config_id),
            )


def seeded_config() -> ApplicationConfig:
    """Return the config every contract test starts with."""
    return ApplicationConfig.from_castbot(GUILD, CONFIG, castbot_config())


def seed_document() -> dict[str, Any]:
    """Return the playerData.json every contract test starts with: one config, and keys this bot ignores."""
    return {
        str(GUILD): {
            "players": {"1": {"age": 24}},
            "tribes": {"t1": {"name": "Red"}},
            CONFIGS: {CONFIG: castbot_config()},
            "applications": {},
        },
        "environmentConfig": {"liveDiscordLogging": True},
    }


@pytest_asyncio.fixture(params=["json", "postgres"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    """The store under test, with one config, as two processes see it."""
    if request.param == "json":
        write_player_data(tmp_path, seed_document())
        repo = JsonApplicationRepository.open(tmp_path, fsync=False)
        configs = JsonConfigRepository(repo.document)
        yield Stores("json", repo, repo, configs, JsonGuildSettings(repo.document))
        await repo.close()
        return
    url: str = request.getfixturevalue("pg_url")
    a = await PostgresStore.connect(url, owner=OWNER_A, max_size=4)
    b = await PostgresStore.connect(url, owner=OWNER_B, max_size=4)
    async with a.pool.acquire() as conn:
        await import_document(conn, seed_document())
    yield Stores("postgres", a, b, a.configs, a.guild_settings, pg=a)
    await a.close()
    await b.close()
