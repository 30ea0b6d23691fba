"""Gateway sessions: sequence numbers, the resume buffer, READY/GUILD_CREATE and member chunks."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Final, cast

from castbot_hikari.testing.emulator import payloads
from castbot_hikari.testing.emulator.state import EmulatorState, GuildState, JSONObject

GUILDS_INTENT: Final = 1 << 0
GUILD_MEMBERS_INTENT: Final = 1 << 1
GUILD_PRESENCES_INTENT: Final = 1 << 8
GUILD_MESSAGES_INTENT: Final = 1 << 9
DIRECT_MESSAGES_INTENT: Final = 1 << 12
_EVENT_INTENTS: Final = {
    "CHANNEL_CREATE": GUILDS_INTENT,
    "CHANNEL_UPDATE": GUILDS_INTENT,
    "CHANNEL_DELETE": GUILDS_INTENT,
    "GUILD_UPDATE": GUILDS_INTENT,
    "GUILD_ROLE_CREATE": GUILDS_INTENT,
    "MESSAGE_CREATE": GUILD_MESSAGES_INTENT,
    "MESSAGE_UPDATE": GUILD_MESSAGES_INTENT,
    "MESSAGE_DELETE": GUILD_MESSAGES_INTENT,
}
RESUME_BUFFER: Final = 10_000
CHUNK_SIZE: Final = 1000

Frame = JSONObject
Sender = Callable[[Frame], None]


class Session:
    """One gateway session (survives reconnects until invalidated).

    Attributes:
        session_id: The id READY announced.
        shard: ``(shard_id, shard_count)``.
        intents: Intents from IDENTIFY.
        seq: Last sequence number dispatched.
        sender: Queues a frame on the live connection; ``None`` while disconnected.
        invalid: Set when the session can no longer be resumed.
    """

    def __init__(self, session_id: str, shard: tuple[int, int], intents: int, large_threshold: int) -> None:
        self.session_id = session_id
        self.shard = shard
        self.intents = intents
        self.large_threshold = large_threshold
        self.seq = 0
        self.buffer: collections.deque[Frame] = collections.deque(maxlen=RESUME_BUFFER)
        self.sender: Sender | None = None
        self.invalid = False
        self.ready = asyncio.Event()

    def covers(self, guild_id: int | None) -> bool:
        """Whether this session's shard receives events of ``guild_id``.

        Discord's rule: shard ``(guild_id >> 22) % shard_count``; DMs (``None``) go to shard 0.
        """
        shard_id, count = self.shard
        if guild_id is None:
            return shard_id == 0
        return (guild_id >> 22) % count == shard_id

    def wants(self, event: str, guild_id: int | None) -> bool:
        """Whether the session's intents ask for ``event`` (DM messages need DIRECT_MESSAGES)."""
        intent = _EVENT_INTENTS.get(event)
        if guild_id is None and intent == GUILD_MESSAGES_INTENT:
            intent = DIRECT_MESSAGES_INTENT
        return intent is None or bool(self.intents & intent)

    def dispatch(self, event: str, data: JSONObject) -> Frame:
        """Number an event, keep it for RESUME, and send it if connected."""
        self.seq += 1
        frame: Frame = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.buffer.append(frame)
        if self.sender is not None:
            self.sender(frame)
        return frame

    def replay_after(self, seq: int) -> list[Frame] | None:
        """Return buffered events after ``seq``, or ``None`` if some were already discarded."""
        if seq > self.seq:
            return None
        missed = [frame for frame in self.buffer if frame["s"] > seq]
        first = missed[0]["s"] if missed else self.seq + 1
        return missed if first == seq + 1 else None


def ready_payload(state: EmulatorState, session: Session, resume_url: str) -> JSONObject:
    """Return READY's data: the bot user, guilds as unavailable, session and application."""
    guild_ids = [gid for gid in state.guilds if session.covers(gid)]
    return {
        "v": 10,
        "user": payloads.my_user(state.bot),
        "guilds": [{"id": str(gid), "unavailable": True} for gid in guild_ids],
        "session_id": session.session_id,
        "session_type": "normal",
        "resume_gateway_url": resume_url,
        "shard": list(session.shard),
        "application": {"id": str(state.bot.id), "flags": payloads.APPLICATION_FLAGS},
        "user_settings": {},
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": ["emulator"],
        "_trace": ['["castbot-emulator",{"micros":0}]'],
    }


def guild_create(state: EmulatorState, session: Session, guild: GuildState, *, initial: bool) -> JSONObject:
    """Return a GUILD_CREATE for this session.

    Members: only the bot's own unless the session has GUILD_PRESENCES and the guild is not larger
    than its ``large_threshold`` (what Discord does).
    """
    small = len(guild.members) <= session.large_threshold
    if session.intents & GUILD_PRESENCES_INTENT and small:
        member_ids = list(guild.members)
    else:
        member_ids = [state.bot.id] if state.bot.id in guild.members else []
    members = [payloads.member(guild.members[uid], state.users[uid]) for uid in member_ids]
    payload = payloads.gateway_guild(state, guild, members=members, initial=initial)
    payload["large"] = not small
    return payload


def member_chunks(state: EmulatorState, request: JSONObject) -> list[JSONObject]:
    """Answer op 8 REQUEST_GUILD_MEMBERS with GUILD_MEMBERS_CHUNK payloads."""
    guild = state.guilds.get(int(request["guild_id"]))
    if guild is None:
        return []
    wanted = [int(str(uid)) for uid in cast("list[object]", request.get("user_ids") or [])]
    if wanted:
        found = [uid for uid in wanted if uid in guild.members]
        not_found = [str(uid) for uid in wanted if uid not in guild.members]
    else:
        query = str(request.get("query") or "").lower()
        limit = int(request.get("limit") or 0)
        found = [uid for uid in guild.members if state.users[uid].username.lower().startswith(query)]
        found = found[:limit] if limit else found
        not_found = []
    groups = [found[i : i + CHUNK_SIZE] for i in range(0, len(found), CHUNK_SIZE)] or [[]]
    chunks: list[JSONObject] = []
    for index, group in enumerate(groups):
        chunk: JSONObject = {
            "guild_id": str(guild.id),
            "members": [payloads.member(guild.members[uid], state.users[uid]) for uid in group],
            "chunk_index": index,
            "chunk_count": len(groups),
            "not_found": not_found if index == 0 else [],
        }
        if request.get("nonce") is not None:
            chunk["nonce"] = request["nonce"]
        chunks.append(chunk)
    return chunks
