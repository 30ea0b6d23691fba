"""One "process" of the multi-process PostgreSQL tests: ``python -m tests.contract.pg_worker URL OWNER TASK``.

It connects, prints ``ready``, waits for a line on stdin (so every worker starts its task at once), does the
task and prints one JSON line with what it got. Tasks: ``migrate``, ``reserve N``, ``outbox``, ``hold``
(reserve one key, print, then keep the lease renewed until killed).
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg
import orjson

from castbot_hikari.apply.model import ApplyKey, Won
from castbot_hikari.core.ids import ConfigId, GuildId, UserId
from castbot_hikari.pg.migrate import migrate
from castbot_hikari.pg.store import PostgresStore

GUILD = GuildId(111111111111111111)
CONFIG = ConfigId("config_1781015852414_1")


def key_of(user: int) -> ApplyKey:
    return ApplyKey(GUILD, UserId(user), CONFIG)


def say(value: object) -> None:
    sys.stdout.write(orjson.dumps(value).decode() + "\n")
    sys.stdout.flush()


async def wait_for_go() -> None:
    say("ready")
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def run(url: str, owner: str, task: str, arg: int) -> None:
    if task == "migrate":
        conn = await asyncpg.connect(url)
        await wait_for_go()
        say(await migrate(conn))
        await conn.close()
        return
    store = await PostgresStore.connect(url, owner=owner, max_size=10, lease_s=30)
    await wait_for_go()
    if task == "reserve":
        results = await asyncio.gather(
            *(store.reserve(key_of(user), owner=owner, now_ms=0, stale_after_ms=0) for user in range(1, arg + 1))
        )
        say([user for user, result in zip(range(1, arg + 1), results, strict=True) if isinstance(result, Won)])
    elif task == "outbox":
        sent: list[str] = []
        while items := await store.list_outbox():
            for item in items:
                sent.append(item.notice_id)
                await store.drop_notice(item.notice_id)
                await asyncio.sleep(0)  # let the other process's claims interleave
        say(sent)
    elif task == "hold":
        key = key_of(arg)
        say(isinstance(await store.reserve(key, owner=owner, now_ms=0, stale_after_ms=0), Won))
        while True:  # a live process: renews its lease until it is killed
            await store.renew(key, owner=owner)
            await asyncio.sleep(1)
    await store.close()


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0))
