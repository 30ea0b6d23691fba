"""The REST pipeline: faults, rate limits, latency, routing, auth, validation and multipart."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import hikari
import pytest
import pytest_asyncio

from castbot_hikari.testing.emulator import DiscordEmulator, Latency, RequestInfo
from tests.emulator.harness import SEED

MESSAGES = "POST /channels/{channel_id}/messages"


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp client session."""
    async with aiohttp.ClientSession() as session:
        yield session


def statuses(emu: DiscordEmulator, route: str) -> list[int]:
    """Return the statuses answered on one route template, in order."""
    return [r.status for r in emu.requests if f"{r.method} {r.route_template}" == route]


@pytest.mark.asyncio
async def test_injected_500_is_retried_by_hikari(emu: DiscordEmulator, rest: hikari.api.RESTClient) -> None:
    guild = emu.add_guild(SEED)
    rule = emu.faults.inject(method="POST", route="/guilds/{guild_id}/channels", status=500, count=1)
    channel = await rest.create_guild_text_channel(guild.id, "after-a-500")
    assert channel.name == "after-a-500"
    assert statuses(emu, "POST /guilds/{guild_id}/channels") == [500, 201]
    assert len(rule.hits) == 1
    assert rule.remaining == 0


@pytest.mark.asyncio
async def test_injected_429_retry_after_is_waited_out(emu: DiscordEmulator, rest: hikari.api.RESTClient) -> None:
    guild = emu.add_guild(SEED)
    channel_id = guild.text_channels["apply-here"]
    emu.faults.inject(method="POST", route="/channels/{channel_id}/messages", status=429, retry_after=0.3)
    await rest.create_message(channel_id, "patience")
    first, second = (r for r in emu.requests if r.route_template == "/channels/{channel_id}/messages")
    assert (first.status, second.status) == (429, 200)
    assert first.response_body == {"message": "429: Too Many Requests", "code": 0, "retry_after": 0.3, "global": False}
    assert second.t - first.t >= 0.29


@pytest.mark.asyncio
async def test_bucket_limit_sends_headers_and_hikari_respects_it(
    emu: DiscordEmulator, rest: hikari.api.RESTClient
) -> None:
    guild = emu.add_guild(SEED)
    channel_id = guild.text_channels["apply-here"]
    emu.rate_limits.set(MESSAGES, limit=2, per=0.4)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(*(rest.create_message(channel_id, f"m{n}") for n in range(5)))
    assert loop.time() - started >= 0.4  # five messages at two per 0.4 s need at least two windows
    assert sorted(m.content for m in emu.state.messages[channel_id] if m.content) == [f"m{n}" for n in range(5)]
    assert statuses(emu, MESSAGES).count(200) == 5


@pytest.mark.asyncio
async def test_rate_limit_headers_and_429_shape(emu: DiscordEmulator, http: aiohttp.ClientSession) -> None:
    guild = emu.add_guild(SEED)
    emu.rate_limits.set("GET /guilds/{guild_id}", limit=1, per=5.0)
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    url = f"{emu.rest_url}/guilds/{guild.id}"
    async with http.get(url, headers=headers) as ok:
        assert ok.status == 200
        assert ok.headers["X-RateLimit-Limit"] == "1"
        assert ok.headers["X-RateLimit-Remaining"] == "0"
        assert float(ok.headers["X-RateLimit-Reset-After"]) > 4.9
        bucket = ok.headers["X-RateLimit-Bucket"]
    async with http.get(url, headers=headers) as limited:
        assert limited.status == 429
        assert limited.headers["X-RateLimit-Bucket"] == bucket
        assert limited.headers["X-RateLimit-Scope"] == "user"
        assert limited.headers["X-RateLimit-Global"] == "false"
        assert int(limited.headers["Retry-After"]) == 5
        body = await limited.json()
        assert body["global"] is False
        assert 4.9 < body["retry_after"] <= 5.0
    other = emu.add_guild(SEED)  # buckets are per guild: another guild is not limited
    async with http.get(f"{emu.rest_url}/guilds/{other.id}", headers=headers) as fresh:
        assert fresh.status == 200


@pytest.mark.asyncio
async def test_global_limit_answers_global_429(emu: DiscordEmulator, http: aiohttp.ClientSession) -> None:
    emu.rate_limits.set_global(2, per=5.0)
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    answers: list[tuple[int, str | None]] = []
    for _ in range(3):
        async with http.get(f"{emu.rest_url}/users/@me", headers=headers) as response:
            answers.append((response.status, response.headers.get("X-RateLimit-Global")))
    assert answers == [(200, None), (200, None), (429, "true")]


@pytest.mark.asyncio
async def test_interaction_callback_has_no_bucket_headers(emu: DiscordEmulator, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{emu.rest_url}/interactions/1/token/callback", json={"type": 5}) as response:
        assert response.status == 404
        assert (await response.json())["code"] == 10062
        assert "X-RateLimit-Bucket" not in response.headers


@pytest.mark.asyncio
async def test_unserved_route_is_a_loud_404(
    emu: DiscordEmulator, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    with caplog.at_level(logging.WARNING, logger="castbot_hikari.testing.emulator.rest"):
        async with http.get(f"{emu.rest_url}/guilds/1/bans", headers=headers) as response:
            body = await response.json()
    assert response.status == 404
    assert "emulator has no route for GET /guilds/1/bans" in body["message"]
    assert "no route for GET /guilds/1/bans" in caplog.text
    assert emu.requests[-1].route_template is None


@pytest.mark.asyncio
async def test_bot_routes_need_the_bot_token(emu: DiscordEmulator, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{emu.rest_url}/users/@me", headers={"Authorization": "Bot wrong"}) as response:
        assert response.status == 401
        assert await response.json() == {"message": "401: Unauthorized", "code": 0}


@pytest.mark.asyncio
async def test_strict_mode_rejects_bodies_the_spec_rejects(http: aiohttp.ClientSession) -> None:
    async with DiscordEmulator(strict=True) as emu:
        guild = emu.add_guild(SEED)
        url = f"{emu.rest_url}/channels/{guild.text_channels['apply-here']}/messages"
        headers = {"Authorization": f"Bot {emu.bot_token}"}
        async with http.post(url, json={"content": 5}, headers=headers) as response:
            body = await response.json()
        assert response.status == 400
        assert body["code"] == 50035
        assert emu.validation_errors
        assert emu.validation_errors[0].startswith(f"POST /channels/{guild.text_channels['apply-here']}/messages: ")


@pytest.mark.asyncio
async def test_latency_and_fault_predicates(emu: DiscordEmulator, rest: hikari.api.RESTClient) -> None:
    first, second = emu.add_guild(SEED), emu.add_guild(SEED)
    emu.latency.set("GET /guilds/{guild_id}", Latency.fixed(0.15))

    def only_second(request: RequestInfo) -> bool:
        return request.params["guild_id"] == str(second.id)

    emu.faults.inject(
        method="GET", route="/guilds/{guild_id}", status=403, code=50001, message="Missing Access", match=only_second
    )
    assert (await rest.fetch_guild(first.id)).name == "ORG 1"
    with pytest.raises(hikari.ForbiddenError):
        await rest.fetch_guild(second.id)
    assert all(r.duration >= 0.15 for r in emu.requests)
    with pytest.raises(KeyError, match="serves no route"):
        emu.latency.set("GET /guilds/{guild_id}/bans", Latency.fixed(1.0))


@pytest.mark.asyncio
async def test_multipart_payload_json_is_parsed_and_validated(
    emu: DiscordEmulator, rest: hikari.api.RESTClient
) -> None:
    guild = emu.add_guild(SEED)
    channel_id = guild.text_channels["apply-here"]
    attachment = hikari.Bytes(b"season 14 rules", "rules.txt")
    message = await rest.create_message(channel_id, "with a file", attachment=attachment)
    assert message.content == "with a file"
    assert emu.requests[-1].body is not None
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_uploaded_files_become_attachments_and_edits_keep_or_replace_them(
    emu: DiscordEmulator, rest: hikari.api.RESTClient
) -> None:
    guild = emu.add_guild(SEED)
    channel_id = guild.text_channels["apply-here"]
    sent = await rest.create_message(channel_id, "export", attachment=hikari.Bytes(b"a,b\n1,2\n", "answers.csv"))
    (stored,) = emu.state.messages[channel_id]
    assert [a.filename for a in sent.attachments] == ["answers.csv"]
    assert sent.attachments[0].size == 8
    assert stored.files == {"answers.csv": b"a,b\n1,2\n"}
    await rest.edit_message(channel_id, sent.id, "kept")  # no attachments field: they stay
    assert stored.files == {"answers.csv": b"a,b\n1,2\n"}
    await rest.edit_message(channel_id, sent.id, attachment=hikari.Bytes(b"new", "other.txt"))
    assert list(stored.files) == ["other.txt"]
    assert [a["filename"] for a in stored.attachments] == ["other.txt"]
    await rest.edit_message(channel_id, sent.id, attachments=None)
    assert stored.attachments == []
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_an_attachment_naming_an_upload_that_was_not_sent_is_refused(
    emu: DiscordEmulator, http: aiohttp.ClientSession
) -> None:
    guild = emu.add_guild(SEED)
    channel_id = guild.text_channels["apply-here"]
    form = aiohttp.FormData()
    form.add_field("payload_json", '{"content": "x", "attachments": [{"id": 1, "filename": "gone.csv"}]}')
    form.add_field("files[0]", b"data", filename="here.csv")
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    async with http.post(f"{emu.rest_url}/channels/{channel_id}/messages", data=form, headers=headers) as response:
        assert response.status == 400
        assert (await response.json())["code"] == 50035
    assert emu.state.messages.get(channel_id, []) == []
