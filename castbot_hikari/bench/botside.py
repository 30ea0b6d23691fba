"""Every import of the bot's internals that the benchmark needs, in one module.

The rest of ``castbot_hikari.bench`` talks to the bot only through this module (and through the
``castbot-hikari run`` command), so that moving the bot's modules means fixing the imports here only.
It also holds the bench-only **synchronous** strategy: the real app with the Apply click handled the
way CastBot did before the deferred design (fetch the member, run the whole apply, then answer with
one ephemeral type-4 message), using the real ``ApplicationService``. The shipped bot is not changed.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, cast

import hikari

from castbot_hikari.app import EXTENSIONS, App, build_app
from castbot_hikari.apply import custom_ids, render
from castbot_hikari.apply.model import Applicant, ApplyKey
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.document import DATA_FILE, META
from castbot_hikari.castbot.journal import DataFiles, JournaledDocument, Op, del_op, load, set_op
from castbot_hikari.core import naming
from castbot_hikari.core.ids import GuildId, UserId
from castbot_hikari.core.permissions import BOT_REQUIRED
from castbot_hikari.logs import configure_logging
from castbot_hikari.sandbox import SandboxOptions, plan_clicks, seed_servers
from castbot_hikari.settings import Settings, SettingsError
from castbot_hikari.testing.emulator import DiscordEmulator, Guild, Interaction

Document = JournaledDocument
"""The bot's journaled JSON document (the data store)."""

__all__ = [
    "BOT_PERMISSIONS",
    "DATA_FILE",
    "READY_LINE",
    "Document",
    "Op",
    "count_applications",
    "del_op",
    "is_final",
    "is_final_text",
    "open_document",
    "outcome_kind",
    "parse_topic_marker",
    "plan_sandbox_clicks",
    "run_bench_bot",
    "sandbox_world",
    "set_op",
]

logger = logging.getLogger(__name__)

READY_LINE: Final = "castbot-bench-bot: ready"
"""Printed on stdout by the bench bot once its Apply handling is in place."""
BOT_PERMISSIONS: Final = int(BOT_REQUIRED)
_APPLY_EXTENSION: Final = next(path for path in EXTENSIONS if path.rsplit(".", 1)[-1] == "apply")
_EPHEMERAL: Final = hikari.MessageFlag.EPHEMERAL


# ---- the emulator side: seeding, planning, reading what users saw -----------------------------------


def sandbox_world(
    emu: DiscordEmulator, users: int, servers: int, seed: int
) -> tuple[list[Guild], dict[str, Any], SandboxOptions]:
    """Seed ``servers`` sandbox servers with room for ``users`` distinct applicants; return them and the data."""
    options = SandboxOptions(clicks=users, servers=servers, seed=seed, double_click_share=0.0)
    guilds, data = seed_servers(emu, options)
    return guilds, data, options


def plan_sandbox_clicks(
    guilds: Sequence[Guild], data: dict[str, Any], users: int, spread_s: float, seed: int
) -> list[tuple[float, int, int, str]]:
    """Return the sandbox's plan of one click each by ``users`` distinct users within ``spread_s``."""
    options = SandboxOptions(
        clicks=users, servers=len(guilds), seed=seed, double_click_share=0.0, spread_seconds=spread_s
    )
    return plan_clicks(guilds, data, options)


def parse_topic_marker(topic: str | None) -> tuple[int, str] | None:
    """Return the (user, config) identity an application channel's topic carries, if any."""
    found = naming.parse_topic_marker(topic)
    return None if found is None else (int(found[0]), str(found[1]))


def is_final_text(content: object) -> bool:
    """Return whether a response's content is a final message (not empty, not the progress line)."""
    return isinstance(content, str) and bool(content) and content not in render.PROGRESS_TEXTS


def is_final(inter: Interaction) -> bool:
    """Return whether the applicant sees a final message (not the loading state nor the progress line)."""
    return inter.ack_type is not None and not inter.loading and is_final_text(inter.content)


def outcome_kind(content: str | None) -> str:
    """Classify a final message the way the sandbox does: created, in progress, already applied, failed."""
    text = content or ""
    if text.startswith("✅"):
        return "created"
    if text.startswith("⏳"):
        return "in progress"
    if text.startswith("You already have"):
        return "already applied"
    return "failed"


def count_applications(data_dir: Path) -> int:
    """Return how many applications the data folder records (snapshot plus journals; read only, no lock)."""
    loaded = load(DataFiles(data_dir / DATA_FILE, fsync=False), {}, (META, "journalSeq"))
    total = 0
    for key, guild in loaded.doc.items():
        if key.isdigit() and isinstance(guild, dict):
            applications = cast("dict[str, Any]", guild).get("applications")
            total += len(cast("dict[str, Any]", applications)) if isinstance(applications, dict) else 0
    return total


# ---- the store, for the persistence figures --------------------------------------------------------


def open_document(path: Path, *, compact_every: int = 5000) -> JournaledDocument:
    """Open ``path`` as the bot does (snapshot, journal replay, group commit, checkpoints)."""
    return JournaledDocument.open(path, empty={}, seq_path=(META, "journalSeq"), compact_every=compact_every)


# ---- the bench bot process -------------------------------------------------------------------------


def run_bench_bot(strategy: str) -> int:
    """Run the real bot from the environment with the given strategy; return the exit code.

    ``deferred`` is the bot as shipped; ``synchronous`` swaps the Apply listener for the old pattern.
    Either way ``READY_LINE`` is printed once the gateway is up and the handling is in place.
    """
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        sys.stderr.write(f"castbot-bench-bot: error: {exc}\n")
        return 2
    configure_logging(settings.log_level_number, secrets=[settings.token])
    app = build_app(settings, JsonApplicationRepository.open(settings.data_dir))

    async def on_started(_: hikari.StartedEvent) -> None:
        if strategy == "synchronous":
            await install_synchronous(app)
        sys.stdout.write(READY_LINE + "\n")
        sys.stdout.flush()

    app.bot.subscribe(hikari.StartedEvent, on_started)
    app.bot.run(check_for_updates=False, close_loop=True)
    return 0


async def install_synchronous(app: App) -> None:
    """Replace the shipped Apply listener by the synchronous one (after the extensions loaded)."""
    await app.client.unload_extensions(_APPLY_EXTENSION)

    async def on_click(event: hikari.ComponentInteractionCreateEvent) -> None:
        await synchronous_apply(app, event.interaction)

    app.bot.subscribe(hikari.ComponentInteractionCreateEvent, on_click)
    logger.warning("bench: the Apply button is answered synchronously (the pattern before deferring)")


async def synchronous_apply(app: App, inter: hikari.ComponentInteraction) -> None:
    """Answer an Apply click the old way: member fetch, the whole apply, then one type-4 message."""
    if not inter.custom_id.startswith(custom_ids.APPLY_PREFIX):
        return  # not an Apply button
    config_id = custom_ids.parse_apply(inter.custom_id)
    if config_id is None or inter.guild_id is None:
        await _answer(inter, render.BROKEN_BUTTON)
        return
    try:
        # CastBot's `guild.members.fetch(userId)`: one REST call before anything else.
        member = await app.bot.rest.fetch_member(inter.guild_id, inter.user.id)
    except hikari.HTTPError as exc:
        logger.warning("bench: member fetch failed interaction=%s error=%s", inter.id, exc)
        await _answer(inter, "❌ Error processing application request. Please try again.")
        return
    applicant = Applicant(UserId(member.id), member.username, member.display_name, str(member.display_avatar_url))
    key = ApplyKey(GuildId(inter.guild_id), UserId(inter.user.id), config_id)
    outcome = await app.service.apply(key, applicant)
    await _answer(inter, render.apply_outcome(outcome))


async def _answer(inter: hikari.ComponentInteraction, text: str) -> None:
    try:
        await inter.create_initial_response(hikari.ResponseType.MESSAGE_CREATE, text, flags=_EPHEMERAL)
    except hikari.HTTPError as exc:  # past 3 s Discord answers 10062: the user saw "This interaction failed"
        logger.info("bench: synchronous answer refused interaction=%s error=%s", inter.id, exc)
