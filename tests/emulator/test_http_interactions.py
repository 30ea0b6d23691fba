"""Interactions delivered to an interactions endpoint URL: signed POSTs, the reply as initial response."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncGenerator

import hikari
import lightbulb
import orjson
import pytest
from aiohttp import web
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from castbot_hikari.testing.emulator import DiscordEmulator, Interaction
from tests.emulator.endpoints import Reply, loopback_socket, rest_bot, scripted_endpoint, url_of
from tests.emulator.harness import SEED, TIMEOUT, FakeClock, running_bot

EPHEMERAL = hikari.MessageFlag.EPHEMERAL
DEFERRED = hikari.ResponseType.DEFERRED_MESSAGE_CREATE


def kinds(inter: Interaction) -> list[str]:
    """Return the interaction's timeline kinds, in order."""
    return [kind for _, kind, _ in inter.timeline]


def detail(inter: Interaction, kind: str) -> dict[str, object]:
    """Return the detail of the interaction's first timeline entry of ``kind``."""
    return next(d for _, k, d in inter.timeline if k == kind)


async def replied(inter: Interaction) -> Interaction:
    """Wait until the endpoint's reply (or its failure) was recorded."""
    return await inter.wait_until(lambda i: {"http_replied", "http_failed"} & set(kinds(i)) != set(), what="replied")


def json_reply(payload: object, status: int = 200) -> Reply:
    """Return a scripted reply that always answers ``payload``."""

    async def reply(_: bytes) -> web.StreamResponse:
        return web.json_response(payload, status=status)

    return reply


async def no_content(_: bytes) -> web.StreamResponse:
    """Answer 204, as hikari's RESTBot does once lightbulb answered through the callback route."""
    return web.Response(status=204)


def message_reply(content: str) -> Reply:
    """Return a scripted reply answering every interaction with a type 4 message."""
    return json_reply({"type": 4, "data": {"content": content}})


# ---- a real hikari RESTBot -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_rest_bot_defers_in_its_http_reply_then_edits_the_original(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(SEED)
    outcome: asyncio.Queue[BaseException | None] = asyncio.Queue()

    async def on_component(
        interaction: hikari.ComponentInteraction,
    ) -> AsyncGenerator[hikari.api.InteractionDeferredBuilder]:
        yield interaction.build_deferred_response(DEFERRED).set_flags(EPHEMERAL)
        try:
            # The edit may only follow once Discord has the HTTP reply; waiting for the emulator's
            # record of it keeps the test free of that race (which exists on Discord too).
            await emu.interactions[interaction.id].wait_acked()
            await interaction.edit_initial_response(f"✅ done: {interaction.custom_id}")
        except Exception as exc:  # reported to the test, which asserts on it
            outcome.put_nowait(exc)
        else:
            outcome.put_nowait(None)

    async with rest_bot(emu, lambda bot: bot.set_listener(hikari.ComponentInteraction, on_component)) as (_, url):
        emu.set_interaction_endpoints([url])
        inter = await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1")
        assert await asyncio.wait_for(outcome.get(), TIMEOUT) is None
    assert kinds(inter) == ["dispatched", "http_replied", "acked", "original_edited"]
    assert detail(inter, "dispatched") == {"endpoint": url}
    assert detail(inter, "http_replied") == {"status": 200, "type": 5}
    assert detail(inter, "acked") == {"type": 5, "flags": 64}
    assert (inter.ack_type, inter.ephemeral, inter.loading) == (5, True, False)
    assert inter.content == "✅ done: apply_config_1"
    assert inter.ack_latency is not None
    assert not inter.failed
    assert emu.gateway.sessions == {}  # no gateway at all: a RESTBot only serves HTTP
    assert emu.validation_errors == []


class Ping(lightbulb.SlashCommand, name="ping", description="Reply with pong"):
    """A trivial slash command."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        """Answer the command."""
        await ctx.respond("pong", ephemeral=True)


@pytest.mark.asyncio
async def test_lightbulb_on_a_rest_bot_answers_by_callback_then_replies_204(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(SEED)

    def setup(bot: hikari.RESTBot) -> None:
        client = lightbulb.client_from_app(bot)
        client.register(Ping)
        bot.add_startup_callback(client.start)
        bot.add_shutdown_callback(client.stop)

    async with rest_bot(emu, setup) as (_, url):
        assert [c["name"] for c in emu.state.commands[None]] == ["ping"]
        emu.set_interaction_endpoints([url])
        inter = await emu.slash_command(guild.id, guild.members["zoe"], "ping")
        await inter.wait_until(lambda i: "http_replied" in kinds(i), what="replied")
    assert kinds(inter) == ["dispatched", "acked", "http_replied"]
    assert detail(inter, "http_replied") == {"status": 204, "type": None}
    assert (inter.ack_type, inter.content, inter.ephemeral) == (4, "pong", True)
    assert not inter.failed
    callbacks = [r for r in emu.requests if r.route_template and r.route_template.endswith("/callback")]
    assert [r.status for r in callbacks] == [200]  # lightbulb answered through the callback route
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_checking_a_rest_bot_endpoint_shows_hikari_answers_400_to_a_bad_signature(
    emu: DiscordEmulator,
) -> None:
    async with rest_bot(emu, lambda _: None) as (_, url):
        check = await emu.verify_endpoint(url)
    assert check.pong
    # hikari 2.6.0 answers 400 where Discord's documentation asks for 401.
    assert check.bad_signature_status == 400
    assert not check.accepted


# ---- the wire format ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_post_is_signed_over_timestamp_and_body_with_the_published_key(
    emu: DiscordEmulator, rest: hikari.api.RESTClient
) -> None:
    guild = emu.add_guild(SEED)
    async with scripted_endpoint(message_reply("hello")) as endpoint:
        emu.set_interaction_endpoints([endpoint.url])
        inter = await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1")
        await inter.wait_acked()
        application = await rest.fetch_application()
    (post,) = endpoint.received
    assert post.headers["Content-Type"] == "application/json"
    timestamp = post.headers["X-Signature-Timestamp"].encode()
    key = VerifyKey(bytes.fromhex(emu.public_key))
    key.verify(timestamp + post.body, bytes.fromhex(post.headers["X-Signature-Ed25519"]))
    with pytest.raises(BadSignatureError):
        key.verify(b"0" + post.body, bytes.fromhex(post.headers["X-Signature-Ed25519"]))
    assert orjson.loads(post.body) == inter.payload
    assert application.public_key == bytes.fromhex(emu.public_key)
    assert (inter.ack_type, inter.content) == (4, "hello")


def test_without_pynacl_the_emulator_still_works_but_cannot_sign(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nacl", None)
    monkeypatch.setitem(sys.modules, "nacl.signing", None)
    emu = DiscordEmulator(validate=False)
    assert emu.state.verify_key == "0" * 64
    with pytest.raises(RuntimeError, match="PyNaCl"):
        _ = emu.public_key
    with pytest.raises(RuntimeError, match="PyNaCl"):
        emu.set_interaction_endpoints(["http://127.0.0.1:9/"])
    emu.set_interaction_endpoints([])  # back to the gateway needs no key


def test_the_key_pair_follows_the_seed() -> None:
    first, second, other = DiscordEmulator(seed=11), DiscordEmulator(seed=11), DiscordEmulator(seed=12)
    assert first.public_key == second.public_key != other.public_key
    assert first.state.verify_key == first.public_key


@pytest.mark.asyncio
async def test_modal_reply_then_submission_both_go_over_http(emu: DiscordEmulator) -> None:
    modal = {
        "type": 9,
        "data": {
            "custom_id": "apply_modal",
            "title": "Apply",
            "components": [{"type": 1, "components": [{"type": 4, "custom_id": "why", "label": "Why?", "style": 1}]}],
        },
    }

    async def reply(body: bytes) -> web.StreamResponse:
        payload = orjson.loads(body)
        if payload["type"] == 3:
            return web.json_response(modal)
        answer = payload["data"]["components"][0]["components"][0]["value"]
        return web.json_response({"type": 4, "data": {"content": f"got {answer}", "flags": 64}})

    guild = emu.add_guild(SEED)
    async with scripted_endpoint(reply) as endpoint:
        emu.set_interaction_endpoints([endpoint.url])
        click = await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1")
        await click.wait_acked()
        submission = await emu.submit_modal(click, {"why": "fun"})
        await submission.wait_acked()
    assert click.ack_type == 9
    assert (submission.content, submission.ephemeral) == ("got fun", True)
    assert len(endpoint.received) == 2


# ---- what the reply does to the interaction -----------------------------------------------------


@pytest.mark.asyncio
async def test_error_status_fails_the_interaction_and_a_later_callback_gets_10062(
    emu: DiscordEmulator, rest: hikari.api.RESTClient
) -> None:
    guild = emu.add_guild(SEED)
    async with scripted_endpoint(json_reply({"message": "boom"}, status=500)) as endpoint:
        emu.set_interaction_endpoints([endpoint.url])
        inter = await replied(await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1"))
    assert inter.failed
    assert inter.http_failure == "status 500"
    with pytest.raises(hikari.NotFoundError) as late:
        await rest.create_interaction_response(inter.id, inter.token, DEFERRED, flags=EPHEMERAL)
    assert late.value.code == 10062
    assert kinds(inter) == ["dispatched", "http_replied", "http_failed", "ack_rejected"]
    assert detail(inter, "ack_rejected")["reason"] == "failed"


@pytest.mark.asyncio
async def test_empty_reply_then_a_callback_within_the_deadline_acks(
    emu: DiscordEmulator, rest: hikari.api.RESTClient
) -> None:
    guild = emu.add_guild(SEED)
    async with scripted_endpoint(no_content) as endpoint:
        emu.set_interaction_endpoints([endpoint.url])
        inter = await replied(await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1"))
        await rest.create_interaction_response(inter.id, inter.token, DEFERRED, flags=EPHEMERAL)
    assert kinds(inter) == ["dispatched", "http_replied", "acked"]
    assert detail(inter, "http_replied") == {"status": 204, "type": None}
    assert (inter.ack_type, inter.loading, inter.failed) == (5, True, False)


@pytest.mark.asyncio
async def test_empty_reply_and_no_callback_fails_at_the_deadline(clock: FakeClock) -> None:
    async with DiscordEmulator(clock=clock, seed=7) as emu, scripted_endpoint(no_content) as endpoint:
        guild = emu.add_guild(SEED)
        emu.set_interaction_endpoints([endpoint.url])
        inter = await replied(await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1"))
        assert not inter.failed  # a callback may still come
        clock.advance(3.01)
        assert inter.failed
        assert inter.http_failure is None


@pytest.mark.asyncio
async def test_reply_after_the_deadline_is_rejected_like_a_late_callback(clock: FakeClock) -> None:
    async def slow(_: bytes) -> web.StreamResponse:
        clock.advance(3.5)
        return web.json_response({"type": 5, "data": {"flags": 64}})

    async with DiscordEmulator(clock=clock, seed=7) as emu, scripted_endpoint(slow) as endpoint:
        guild = emu.add_guild(SEED)
        emu.set_interaction_endpoints([endpoint.url])
        inter = await replied(await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1"))
    assert inter.failed
    assert inter.ack_type is None
    assert inter.timeline[-1][1:] == ("ack_rejected", {"reason": "late", "type": 5, "age": 3.5})


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (json_reply({"type": 1}), "invalid reply: 50035 Invalid Form Body"),
        (json_reply({"type": 4, "data": {}}), "invalid reply: 50006 Cannot send an empty message"),
        (json_reply([4]), "reply is not a JSON object"),
    ],
)
async def test_invalid_reply_body_fails_the_interaction(emu: DiscordEmulator, reply: Reply, reason: str) -> None:
    guild = emu.add_guild(SEED)
    async with scripted_endpoint(reply) as endpoint:
        emu.set_interaction_endpoints([endpoint.url])
        inter = await replied(await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1"))
    assert inter.failed
    assert inter.http_failure == reason


@pytest.mark.asyncio
async def test_text_reply_fails_the_interaction(emu: DiscordEmulator) -> None:
    async def text(_: bytes) -> web.StreamResponse:
        return web.Response(text="ok")

    guild = emu.add_guild(SEED)
    async with scripted_endpoint(text) as endpoint:
        emu.set_interaction_endpoints([endpoint.url])
        inter = await replied(await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1"))
    assert inter.http_failure == "reply is not a JSON object"
    assert detail(inter, "http_replied") == {"status": 200, "type": None}


@pytest.mark.asyncio
async def test_no_reply_within_the_timeout_fails_the_interaction(emu: DiscordEmulator) -> None:
    release = asyncio.Event()

    async def hang(_: bytes) -> web.StreamResponse:
        await release.wait()
        return web.Response(status=204)

    guild = emu.add_guild(SEED)
    async with scripted_endpoint(hang) as endpoint:
        emu.set_interaction_endpoints([endpoint.url], timeout=0.2)
        inter = await replied(await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1"))
        release.set()
    assert inter.failed
    assert inter.http_failure == "timeout"
    assert kinds(inter) == ["dispatched", "http_failed"]


@pytest.mark.asyncio
async def test_unreachable_endpoint_fails_the_interaction(emu: DiscordEmulator) -> None:
    sock = loopback_socket()  # bound, never listening: connections are refused
    try:
        guild = emu.add_guild(SEED)
        emu.set_interaction_endpoints([url_of(sock)])
        inter = await replied(await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1"))
    finally:
        sock.close()
    assert inter.http_failure == "connection error: ClientConnectorError"


# ---- several endpoints, and the gateway beside them ---------------------------------------------


@pytest.mark.asyncio
async def test_endpoints_take_turns_and_the_random_spread_follows_its_seed(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(SEED)
    user = guild.members["kevin_a"]

    async def spread(count: int) -> list[object]:
        clicks = [await emu.click(guild.id, user, f"b{n}") for n in range(count)]
        for inter in clicks:
            await inter.wait_acked()
        return [detail(i, "dispatched")["endpoint"] for i in clicks]

    async with scripted_endpoint(message_reply("a")) as a, scripted_endpoint(message_reply("b")) as b:
        urls = [a.url, b.url]
        emu.set_interaction_endpoints(urls)
        assert await spread(4) == [a.url, b.url, a.url, b.url]
        emu.set_interaction_endpoints(urls, strategy="random", seed=3)
        first = await spread(8)
        emu.set_interaction_endpoints(urls, strategy="random", seed=3)
        again = await spread(8)
    assert first == again
    assert set(first) == {a.url, b.url}
    assert len(a.received) + len(b.received) == 20


@pytest.mark.asyncio
async def test_only_interactions_move_to_the_endpoint(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(SEED)
    async with running_bot(emu) as running, scripted_endpoint(message_reply("over http")) as endpoint:
        await running.wait_guild(guild.id)
        emu.set_interaction_endpoints([endpoint.url])
        assert emu.interaction_endpoints == (endpoint.url,)
        inter = await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1")
        await inter.wait_acked()
        seen = asyncio.create_task(
            running.bot.wait_for(
                hikari.GuildChannelCreateEvent, timeout=TIMEOUT, predicate=lambda e: e.channel.name == "after-the-click"
            )
        )
        await running.bot.rest.create_guild_text_channel(guild.id, "after the click")
        await seen  # the gateway still carries every other event
        sent = [f["t"] for s in emu.gateway.sessions.values() for f in s.buffer]
        emu.set_interaction_endpoints([])
        back = await emu.click(guild.id, guild.members["zoe"], "apply_config_1")
        await back.wait_until(lambda i: i.content is not None)
    assert "INTERACTION_CREATE" not in sent
    assert "CHANNEL_CREATE" in sent
    assert inter.content == "over http"
    assert detail(back, "dispatched") == {"connected": True}
    assert back.content == "✅ done: apply_config_1"
    assert len(endpoint.received) == 1


# ---- Discord's check of an endpoint URL ---------------------------------------------------------


@pytest.mark.asyncio
async def test_verify_endpoint_wants_a_pong_and_401_for_a_bad_signature(emu: DiscordEmulator) -> None:
    key = VerifyKey(bytes.fromhex(emu.public_key))

    async def careful(body: bytes) -> web.StreamResponse:
        headers = endpoint.received[-1].headers
        try:
            key.verify(headers["X-Signature-Timestamp"].encode() + body, bytes.fromhex(headers["X-Signature-Ed25519"]))
        except BadSignatureError:
            return web.Response(status=401, text="invalid request signature")
        return web.json_response({"type": 1})

    async with scripted_endpoint(careful) as endpoint, scripted_endpoint(json_reply({"type": 1})) as careless:
        good = await emu.verify_endpoint(endpoint.url)
        bad = await emu.verify_endpoint(careless.url)
    assert (good.pong, good.bad_signature_status, good.accepted) == (True, 401, True)
    assert (bad.pong, bad.bad_signature_status, bad.accepted) == (True, 200, False)
    ping = orjson.loads(endpoint.received[0].body)
    assert (ping["type"], ping["application_id"]) == (1, str(emu.application_id))


@pytest.mark.asyncio
async def test_verify_endpoint_reports_an_unreachable_url(emu: DiscordEmulator) -> None:
    sock = loopback_socket()
    try:
        check = await emu.verify_endpoint(url_of(sock))
    finally:
        sock.close()
    assert check.error == "connection error: ClientConnectorError"
    assert not check.accepted


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1:8080/", "https://127.0.0.1:8443/", "http://localhost:8080/", "http://127.0.0.1/"]
)
def test_endpoints_must_be_plain_http_on_127_0_0_1(url: str) -> None:
    emu = DiscordEmulator(validate=False)
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        emu.set_interaction_endpoints([url])
    assert emu.interaction_endpoints == ()
