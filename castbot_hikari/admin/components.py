"""Discord shapes of the ``/apps`` commands: the Apply card, the setup message, modals and buttons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import hikari
from hikari.components import InteractiveButtonTypesT

from castbot_hikari.admin import custom_ids as admin_ids
from castbot_hikari.admin.custom_ids import SetupPart
from castbot_hikari.admin.model import CATEGORY_LIMIT, MAX_DESCRIPTION, MAX_FORMAT, MAX_TITLE, Card, CardState
from castbot_hikari.admin.setup import SetupDraft
from castbot_hikari.apply import custom_ids
from castbot_hikari.castbot.config import DEFAULT_CHANNEL_FORMAT, ApplicationConfig, ButtonStyle
from castbot_hikari.core.ids import GuildId

Rows = Sequence[hikari.api.ComponentBuilder]
MAX_OPTIONS: Final = 25
POST_MODAL_TITLE: Final = "Post an Apply button"
EDIT_MODAL_TITLE: Final = "Edit the Apply button"
_STYLES: Final[dict[ButtonStyle, InteractiveButtonTypesT]] = {
    ButtonStyle.PRIMARY: hikari.ButtonStyle.PRIMARY,
    ButtonStyle.SECONDARY: hikari.ButtonStyle.SECONDARY,
    ButtonStyle.SUCCESS: hikari.ButtonStyle.SUCCESS,
    ButtonStyle.DANGER: hikari.ButtonStyle.DANGER,
}
_COLOURS: Final = {
    ButtonStyle.PRIMARY: 0x5865F2,
    ButtonStyle.SECONDARY: 0x4F545C,
    ButtonStyle.SUCCESS: 0x3BA55C,
    ButtonStyle.DANGER: 0xED4245,
}


def card_embed(card: Card) -> hikari.Embed:
    """Return the Apply card's embed: the title, the description, and a footer once closed."""
    embed = hikari.Embed(title=card.title, description=card.description or None, colour=_COLOURS[card.style])
    if card.state is CardState.CLOSED:
        embed.set_footer("🔒 Applications are closed.")
    elif card.state is CardState.DELETED:
        embed.set_footer("Applications closed.")
    return embed


def card_rows(card: Card) -> Rows:
    """Return the Apply card's one button ``apply_<configId>`` (disabled unless applications are open)."""
    row = hikari.impl.MessageActionRowBuilder()
    row.add_interactive_button(
        _STYLES[card.style], custom_ids.apply_button(card.config_id), label=card.label, is_disabled=not card.enabled
    )
    return [row]


def _text_row(
    custom_id: str, label: str, *, style: hikari.TextInputStyle, value: str, required: bool, max_length: int
) -> hikari.impl.ModalActionRowBuilder:
    row = hikari.impl.ModalActionRowBuilder()
    row.add_text_input(
        custom_id, label, style=style, value=value or hikari.UNDEFINED, required=required, max_length=max_length
    )
    return row


def _text_rows(title: str, description: str, channel_format: str) -> Rows:
    # Lengths are also checked server-side: a client can send anything.
    return [
        _text_row(
            admin_ids.TITLE_INPUT,
            "Title",
            style=hikari.TextInputStyle.SHORT,
            value=title,
            required=True,
            max_length=MAX_TITLE,
        ),
        _text_row(
            admin_ids.DESCRIPTION_INPUT,
            "Description (optional)",
            style=hikari.TextInputStyle.PARAGRAPH,
            value=description,
            required=False,
            max_length=MAX_DESCRIPTION,
        ),
        _text_row(
            admin_ids.FORMAT_INPUT,
            "Channel name format (must contain %name%)",
            style=hikari.TextInputStyle.SHORT,
            value=channel_format,
            required=True,
            max_length=MAX_FORMAT,
        ),
    ]


def post_modal() -> Rows:
    """Return the ``/apps post`` modal's inputs."""
    return _text_rows("", "", DEFAULT_CHANNEL_FORMAT)


def edit_modal(config: ApplicationConfig) -> Rows:
    """Return the edit modal's inputs, filled with the config's current text."""
    return _text_rows(config.title, config.description, config.channel_format)


def _category_row(draft: SetupDraft) -> hikari.impl.MessageActionRowBuilder:
    row = hikari.impl.MessageActionRowBuilder()
    custom_id = admin_ids.setup(draft.session_id, SetupPart.CATEGORY)
    chosen = draft.category.id if draft.category else None
    if not 0 < len(draft.categories) <= MAX_OPTIONS:
        # A text select holds 1-25 options; beyond that Discord's own category picker is the only way.
        placeholder = f"Category: {draft.category.name}" if draft.category else "Category for application channels"
        row.add_channel_menu(
            custom_id, channel_types=[hikari.ChannelType.GUILD_CATEGORY], placeholder=placeholder[:150], min_values=1
        )
        return row
    menu = row.add_text_menu(custom_id, placeholder="Category for application channels", min_values=1)
    for category in draft.categories:
        menu.add_option(
            category.name[:100] or str(category.id),
            str(category.id),
            description=f"{category.used}/{CATEGORY_LIMIT} channels used",
            is_default=category.id == chosen,
        )
    return row


def setup_rows(draft: SetupDraft) -> Rows:
    """Return the setup message's selects and its Post button (disabled until the setup is ready)."""
    sid = draft.session_id
    where = f"Post in: #{draft.channel.name}" if draft.channel else "Channel where the button is posted"
    channel = hikari.impl.MessageActionRowBuilder().add_channel_menu(
        admin_ids.setup(sid, SetupPart.CHANNEL),
        channel_types=[hikari.ChannelType.GUILD_TEXT, hikari.ChannelType.GUILD_NEWS],
        placeholder=where[:150],
        min_values=1,
    )
    style_row = hikari.impl.MessageActionRowBuilder()
    styles = style_row.add_text_menu(admin_ids.setup(sid, SetupPart.STYLE), placeholder="Button style", min_values=1)
    for style in ButtonStyle:
        styles.add_option(style.value, style.value, is_default=style is draft.style)
    role = hikari.impl.MessageActionRowBuilder().add_select_menu(
        hikari.ComponentType.ROLE_SELECT_MENU,
        admin_ids.setup(sid, SetupPart.ROLE),
        placeholder=(f"Production role: @{draft.role.name}" if draft.role else "Production role (optional)")[:150],
        min_values=0,
    )
    buttons = (
        hikari.impl.MessageActionRowBuilder()
        .add_interactive_button(
            hikari.ButtonStyle.SUCCESS, admin_ids.setup(sid, SetupPart.POST), label="Post", is_disabled=not draft.ready
        )
        .add_interactive_button(hikari.ButtonStyle.SECONDARY, admin_ids.setup(sid, SetupPart.CANCEL), label="Cancel")
    )
    return [channel, _category_row(draft), style_row, role, buttons]


def delete_rows(confirm_id: str) -> Rows:
    """Return the delete confirmation's buttons."""
    row = (
        hikari.impl.MessageActionRowBuilder()
        .add_interactive_button(hikari.ButtonStyle.DANGER, confirm_id, label="Delete")
        .add_interactive_button(hikari.ButtonStyle.SECONDARY, admin_ids.DELETE_CANCEL, label="Keep it")
    )
    return [row]


def retry_rows(guild_id: GuildId) -> Rows:
    """Return the Stop button of a running retry-pending batch."""
    row = hikari.impl.MessageActionRowBuilder().add_interactive_button(
        hikari.ButtonStyle.DANGER, admin_ids.retry_stop(guild_id), label="Stop"
    )
    return [row]
