"""Readiness: started, every shard of the process connected, the store answering (and a probe that hangs or
raises counts as not answering)."""

from __future__ import annotations

import asyncio
from unittest import mock

import hikari
import pytest

from castbot_hikari.monitoring import health as health_module
from castbot_hikari.monitoring.health import Health

pytestmark = pytest.mark.asyncio


def shard(*, connected: bool) -> mock.Mock:
    return mock.Mock(spec=hikari.api.GatewayShard, is_connected=connected)


async def answering() -> bool:
    return True


async def test_ready_only_once_started_with_every_shard_connected_and_the_store_answering() -> None:
    shards = {0: shard(connected=True), 1: shard(connected=False)}
    store_ok = True

    async def store() -> bool:
        return store_ok

    health = Health(shards, store)
    assert not (await health.readiness()).ready  # shard 1 is still in its start-up window
    health.mark_started()
    assert not (await health.readiness()).ready
    shards[1].is_connected = True
    assert (await health.readiness()).ready
    store_ok = False
    readiness = await health.readiness()
    assert (readiness.ready, readiness.as_json()["store"]) == (False, "failing")
    store_ok = True
    health.mark_stopping()
    assert not (await health.readiness()).ready


async def test_connected_shards_are_not_ready_before_every_shard_started() -> None:
    health = Health({0: shard(connected=True)}, answering)
    assert (await health.readiness()).as_json() == {
        "ready": False,
        "started": False,
        "shards": {"0": "connected"},
        "store": "ok",
    }


async def test_a_probe_that_raises_or_hangs_means_not_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health_module, "PROBE_SECONDS", 0.01)

    async def raises() -> bool:
        raise RuntimeError("the database said no")

    async def hangs() -> bool:
        await asyncio.Event().wait()
        return True

    for probe in (raises, hangs):
        health = Health({0: shard(connected=True)}, probe)
        health.mark_started()
        assert not (await health.readiness()).store
