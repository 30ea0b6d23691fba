"""The emulator's in-memory Discord world: users, guilds, roles, members, channels and messages.

Everything here is plain data that tests may inspect (``emu.state``). Handlers mutate it; the
payload module turns it into Discord JSON.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, cast

from castbot_hikari.testing.emulator import permissions
from castbot_hikari.testing.emulator.ids import IdFactory

JSONObject = dict[str, Any]
"""A decoded JSON object (Discord payloads are untyped by nature)."""

GUILD_TEXT = 0
GUILD_VOICE = 2
GUILD_CATEGORY = 4
GUILD_ANNOUNCEMENT = 5
SUPPORTED_CHANNEL_TYPES = frozenset({GUILD_TEXT, GUILD_VOICE, GUILD_CATEGORY, GUILD_ANNOUNCEMENT})


class Overwrite(TypedDict):
    """A permission overwrite as stored: ``type`` 0 role / 1 member, ``allow``/``deny`` as ints."""

    id: int
    type: int
    allow: int
    deny: int


def iso_now() -> str:
    """Return the current UTC time as Discord's ISO-8601 timestamp."""
    return datetime.datetime.now(tz=datetime.UTC).isoformat(timespec="microseconds")


@dataclass(slots=True)
class UserState:
    """A Discord user."""

    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    avatar: str | None = None


@dataclass(slots=True)
class RoleState:
    """A guild role; the @everyone role's id is the guild id."""

    id: int
    name: str
    permissions: int
    position: int
    color: int = 0
    hoist: bool = False
    managed: bool = False
    mentionable: bool = False
    bot_id: int | None = None


@dataclass(slots=True)
class MemberState:
    """A guild member (``roles`` excludes @everyone, as in Discord payloads)."""

    user_id: int
    nick: str | None
    roles: list[int]
    joined_at: str


@dataclass(slots=True)
class ChannelState:
    """A guild channel."""

    id: int
    guild_id: int
    type: int
    name: str
    position: int
    parent_id: int | None = None
    topic: str | None = None
    permission_overwrites: list[Overwrite] = field(default_factory=list[Overwrite])
    nsfw: bool = False
    rate_limit_per_user: int = 0
    last_message_id: int | None = None
    renames: list[float] = field(default_factory=list[float])


@dataclass(slots=True)
class MessageState:
    """A message in a channel, or an ephemeral interaction response (which lives only there).

    ``mentions``, ``mention_roles`` and ``mention_everyone`` are whom it pings, computed from its
    content and ``allowed_mentions`` as Discord does (see :mod:`~castbot_hikari.testing.emulator.mentions`).
    """

    id: int
    channel_id: int
    guild_id: int | None
    author: UserState
    content: str
    flags: int = 0
    components: list[JSONObject] = field(default_factory=list[JSONObject])
    embeds: list[JSONObject] = field(default_factory=list[JSONObject])
    allowed_mentions: JSONObject | None = None
    mentions: list[UserState] = field(default_factory=list[UserState])
    mention_roles: list[int] = field(default_factory=list[int])
    mention_everyone: bool = False
    timestamp: str = field(default_factory=iso_now)
    edited_timestamp: str | None = None
    type: int = 0
    webhook_id: int | None = None
    application_id: int | None = None
    attachments: list[JSONObject] = field(default_factory=list[JSONObject])
    files: dict[str, bytes] = field(default_factory=dict[str, bytes])
    """The uploaded bytes of ``attachments``, by file name (tests read what a user would download)."""

    @property
    def author_id(self) -> int:
        """The author's user id."""
        return self.author.id

    @property
    def pings_anyone(self) -> bool:
        """Whether the message pings a user, a role, @everyone or @here."""
        return bool(self.mentions or self.mention_roles or self.mention_everyone)

    def __getitem__(self, key: str) -> Any:  # noqa: ANN401 - a JSON value
        """Return a field of the message's Discord JSON (``message["content"]``, ``["author"]["id"]``)."""
        from castbot_hikari.testing.emulator import payloads  # noqa: PLC0415 - payloads imports this module

        return payloads.message(self)[key]

    def find_component(self, custom_id: str) -> JSONObject | None:
        """Return the message's component (button, select...) with ``custom_id``, or ``None``."""
        return next((c for c in iter_components(self.components) if c.get("custom_id") == custom_id), None)

    def is_disabled(self, custom_id: str) -> bool:
        """Return whether the component with ``custom_id`` is disabled (Discord's default: enabled).

        Raises:
            KeyError: If the message has no component with that custom id.
        """
        component = self.find_component(custom_id)
        if component is None:
            msg = f"message {self.id} has no component with custom_id {custom_id!r}"
            raise KeyError(msg)
        return bool(component.get("disabled", False))


@dataclass(slots=True)
class GuildState:
    """A guild with its roles, members and (ordered) channel ids."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, RoleState] = field(default_factory=dict[int, RoleState])
    members: dict[int, MemberState] = field(default_factory=dict[int, MemberState])
    channel_ids: list[int] = field(default_factory=list[int])
    features: list[str] = field(default_factory=list[str])
    locale: str = "en-US"
    joined_at: str = field(default_factory=iso_now)


@dataclass(frozen=True, slots=True)
class GuildSeed:
    """Describe a guild to create with :meth:`DiscordEmulator.add_guild`.

    Attributes:
        name: Guild name.
        categories: Category channel names.
        text_channels: Top-level text channel names (normalised like Discord does).
        roles: Extra role names (no permissions unless ``role_permissions`` says so).
        members: ``(username, display name)`` pairs of human members.
        bot_permissions: Permissions of the bot's managed role; the bot also has @everyone's.
        everyone_permissions: Permissions of @everyone.
        role_permissions: Optional ``{role name: permission bits}``.
        member_roles: Optional ``{username: [role names]}``.
        mentionable_roles: Names of roles anyone may ping (others need MENTION_EVERYONE).
        features: Guild feature strings (e.g. ``"COMMUNITY"``).
        locale: The guild's preferred locale.
    """

    name: str
    categories: Sequence[str] = ()
    text_channels: Sequence[str] = ()
    roles: Sequence[str] = ()
    members: Sequence[tuple[str, str]] = ()
    bot_permissions: int = permissions.DEFAULT_BOT
    everyone_permissions: int = permissions.DEFAULT_EVERYONE
    role_permissions: Mapping[str, int] = field(default_factory=dict[str, int])
    member_roles: Mapping[str, Sequence[str]] = field(default_factory=dict[str, Sequence[str]])
    mentionable_roles: Sequence[str] = ()
    features: Sequence[str] = ()
    locale: str = "en-US"


@dataclass(frozen=True, slots=True)
class Guild:
    """Ids of a seeded guild, by name (what tests use to address things)."""

    id: int
    categories: Mapping[str, int]
    text_channels: Mapping[str, int]
    roles: Mapping[str, int]
    members: Mapping[str, int]
    bot_role_id: int

    @property
    def everyone_role_id(self) -> int:
        """The @everyone role id, which equals the guild id."""
        return self.id


class EmulatorState:
    """All emulated Discord data, indexed for the REST handlers.

    Attributes:
        users: Users by id (the bot included).
        guilds: Guilds by id.
        channels: Guild channels by id.
        messages: Messages per channel id, in creation order (index them like Discord JSON:
            ``message["content"]``, or use the attributes).
        commands: Application commands per guild id (``None`` for global commands).
        bot: The bot user.
        app_owner: The user owning the bot's application.
        bot_token: The token the bot must present (REST ``Authorization: Bot ...`` and IDENTIFY).
        verify_key: The application's Ed25519 public key, hex (HTTP interactions are signed with it).
        interactions_endpoint_url: The application's interactions endpoint URL, if one is set.
        dm_channels: The bot's DM channel id with each user it has one with.
    """

    def __init__(self, ids: IdFactory, bot: UserState) -> None:
        self.ids = ids
        self.bot = bot
        self.bot_token = ids.bot_token(bot.id)
        self.users: dict[int, UserState] = {bot.id: bot}
        self.app_owner = UserState(ids.snowflake(), "emulator_developer", "Emulator Developer")
        self.users[self.app_owner.id] = self.app_owner
        self.guilds: dict[int, GuildState] = {}
        self.channels: dict[int, ChannelState] = {}
        self.messages: dict[int, list[MessageState]] = {}
        self._message_index: dict[int, MessageState] = {}
        self.commands: dict[int | None, list[JSONObject]] = {}
        self.verify_key = "0" * 64
        self.interactions_endpoint_url: str | None = None
        self.dm_channels: dict[int, int] = {}

    def dm_channel(self, user_id: int) -> int:
        """Return the bot's DM channel id with ``user_id``, opening one the first time."""
        channel_id = self.dm_channels.get(user_id)
        if channel_id is None:
            channel_id = self.dm_channels[user_id] = self.ids.snowflake()
            self.messages[channel_id] = []
        return channel_id

    def guild_channels(self, guild_id: int) -> list[ChannelState]:
        """Return a guild's channels in creation order."""
        guild = self.guilds[guild_id]
        return [self.channels[cid] for cid in guild.channel_ids]

    def add_message(self, message: MessageState) -> None:
        """Store a message at the end of its channel."""
        self.messages.setdefault(message.channel_id, []).append(message)
        self._message_index[message.id] = message

    def find_message(self, channel_id: int, message_id: int) -> MessageState | None:
        """Return a stored message of a channel, if any."""
        message = self._message_index.get(message_id)
        return message if message is not None and message.channel_id == channel_id else None

    def remove_message(self, message: MessageState) -> bool:
        """Remove a stored message; return whether it was stored."""
        if self._message_index.pop(message.id, None) is None:
            return False
        self.messages[message.channel_id].remove(message)
        return True

    def add_user(self, username: str, global_name: str | None = None, *, bot: bool = False) -> UserState:
        """Create a user."""
        user = UserState(self.ids.snowflake(), username, global_name, bot=bot)
        self.users[user.id] = user
        return user

    def add_channel(self, guild_id: int, type_: int, name: str, **fields: Any) -> ChannelState:  # noqa: ANN401
        """Create a channel in a guild (no checks: handlers validate first)."""
        guild = self.guilds[guild_id]
        siblings = [c for c in self.guild_channels(guild_id) if c.parent_id == fields.get("parent_id")]
        position = fields.pop("position", None)
        channel = ChannelState(
            self.ids.snowflake(), guild_id, type_, name, len(siblings) if position is None else position, **fields
        )
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        guild.channel_ids.append(channel.id)
        return channel

    def remove_channel(self, channel_id: int) -> ChannelState:
        """Delete a channel and its messages."""
        channel = self.channels.pop(channel_id)
        for message in self.messages.pop(channel_id, ()):
            self._message_index.pop(message.id, None)
        self.guilds[channel.guild_id].channel_ids.remove(channel_id)
        return channel

    def add_member(self, guild_id: int, user: UserState, roles: Sequence[int] = ()) -> MemberState:
        """Add a user to a guild."""
        member = MemberState(user.id, None, list(roles), iso_now())
        self.guilds[guild_id].members[user.id] = member
        return member

    def seed_guild(self, seed: GuildSeed) -> Guild:
        """Create a guild from a seed, with the bot as a member holding its managed role."""
        owner = self.add_user(f"{seed.name.lower().replace(' ', '_')}_owner", "Owner")
        guild = GuildState(self.ids.snowflake(), seed.name, owner.id, features=list(seed.features))
        guild.locale = seed.locale
        self.guilds[guild.id] = guild
        guild.roles[guild.id] = RoleState(guild.id, "@everyone", seed.everyone_permissions, 0)
        bot_role = RoleState(self.ids.snowflake(), self.bot.username, seed.bot_permissions, 1, managed=True)
        bot_role.bot_id = self.bot.id
        guild.roles[bot_role.id] = bot_role
        roles = self._seed_roles(guild, seed)
        self.add_member(guild.id, owner)
        self.add_member(guild.id, self.bot, [bot_role.id])
        members: dict[str, int] = {}
        for username, display in seed.members:
            user = self.add_user(username, display)
            wanted = seed.member_roles.get(username, ())
            self.add_member(guild.id, user, [roles[name] for name in wanted])
            members[username] = user.id
        categories = {name: self.add_channel(guild.id, GUILD_CATEGORY, name).id for name in seed.categories}
        texts = {
            normalise_name(name, GUILD_TEXT): self.add_channel(
                guild.id, GUILD_TEXT, normalise_name(name, GUILD_TEXT)
            ).id
            for name in seed.text_channels
        }
        return Guild(guild.id, categories, texts, roles, members, bot_role.id)

    def _seed_roles(self, guild: GuildState, seed: GuildSeed) -> dict[str, int]:
        roles: dict[str, int] = {}
        for position, name in enumerate(seed.roles, start=2):
            role = RoleState(self.ids.snowflake(), name, seed.role_permissions.get(name, 0), position)
            role.mentionable = name in seed.mentionable_roles
            guild.roles[role.id] = role
            roles[name] = role.id
        return roles


def iter_components(components: Sequence[JSONObject]) -> Iterator[JSONObject]:
    """Yield every component depth-first (rows, their children, a label's component, accessories)."""
    for component in components:
        yield component
        yield from iter_components(component.get("components") or [])
        for key in ("component", "accessory"):
            child = component.get(key)
            if isinstance(child, dict):
                yield from iter_components([cast("JSONObject", child)])


def normalise_name(name: str, channel_type: int) -> str:
    """Normalise a channel name the way Discord does for text-like channels.

    Text and announcement channel names are lowercased and runs of whitespace become one ``-``
    (emoji and other characters are kept). Category and voice names are kept as given.
    """
    if channel_type not in (GUILD_TEXT, GUILD_ANNOUNCEMENT):
        return name
    return "-".join(name.lower().split())
