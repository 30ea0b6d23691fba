"""The floor the rate limits and latencies set, and the profile the emulator is given."""

from __future__ import annotations

import pytest

from castbot_hikari.bench.emuproc import apply_profile
from castbot_hikari.bench.profile import (
    CHAINS,
    CHANNELS,
    DISCORD_LIKE,
    EDIT_ORIGINAL,
    MEMBER,
    MESSAGES,
    Bucket,
    Profile,
    floor_seconds,
    profile_from_json,
    profile_to_json,
    windows_needed,
    with_limits,
)
from castbot_hikari.testing.emulator import DiscordEmulator

LATENCIES = {CHANNELS: (0.5, 1.0), MESSAGES: (0.3, 0.8), EDIT_ORIGINAL: (0.3, 0.8), MEMBER: (0.05, 0.15)}
NO_LIMITS = Profile(latencies=LATENCIES, buckets={}, global_bucket=None)


def test_windows_needed_counts_the_refills_after_the_burst() -> None:
    bucket = Bucket(50, 1.0)
    assert windows_needed(0, bucket) == 0
    assert windows_needed(50, bucket) == 0
    assert windows_needed(51, bucket) == pytest.approx(0.02)
    assert windows_needed(2000, bucket) == pytest.approx(39.0)
    assert windows_needed(11, Bucket(10, 10.0)) == pytest.approx(1.0)


def test_without_limits_the_floor_is_the_last_click_plus_its_chain() -> None:
    # deferred: callback 0, then max(progress edit 0.3, channel 0.5), welcome 0.3, result edit 0.3
    assert floor_seconds(CHAINS["deferred"], {1: 3}, 1.0, NO_LIMITS) == pytest.approx(2.1)
    # synchronous: member 0.05, channel 0.5, welcome 0.3, the answer 0
    assert floor_seconds(CHAINS["synchronous"], {1: 3}, 1.0, NO_LIMITS) == pytest.approx(1.85)


def test_the_global_limit_sets_the_floor_of_a_big_burst() -> None:
    profile = Profile(latencies=LATENCIES, buckets={}, global_bucket=Bucket(50, 1.0))
    by_guild = {guild: 1000 // 75 + (guild < 1000 % 75) for guild in range(75)}
    assert sum(by_guild.values()) == 1000
    # 2 global requests per apply: 2,000 need 40 windows; the first is counted after 0.5 s (the channel's
    # latency), and after the last (a welcome at the latest) the result edit still takes 0.3 s.
    assert floor_seconds(CHAINS["deferred"], by_guild, 1.0, profile) == pytest.approx(0.5 + 39 + 0.3)
    # 3 per apply (member fetch too): 3,000 need 60 windows; first after 0.05 s; nothing after the welcome.
    assert floor_seconds(CHAINS["synchronous"], by_guild, 1.0, profile) == pytest.approx(0.05 + 59)


def test_a_guild_bucket_counts_the_busiest_guild() -> None:
    profile = Profile(latencies=LATENCIES, buckets={CHANNELS: Bucket(10, 1.0)}, global_bucket=None)
    # 25 channels in one guild: a burst of 10, then one every 0.1 s, the last 1.5 s after the first (counted
    # after 0.5 s), then the welcome and the result edit (0.6 s). The latency term is only 1.0 + 1.1.
    assert floor_seconds(CHAINS["deferred"], {1: 25, 2: 5}, 1.0, profile) == pytest.approx(0.5 + 1.5 + 0.6)


def test_channel_and_webhook_buckets_count_one_apply_only() -> None:
    profile = Profile(
        latencies=LATENCIES, buckets={MESSAGES: Bucket(1, 100.0), EDIT_ORIGINAL: Bucket(1, 100.0)}, global_bucket=None
    )
    # Every apply has its own channel (one welcome) and token, but two edits on that token: one extra window,
    # after the progress edit (its own 0.3 s, though the channel beside it takes 0.5 s); nothing follows.
    floor = floor_seconds(CHAINS["deferred"], {1: 500}, 0.0, profile)
    assert floor == pytest.approx(0.3 + 100)


def test_no_applies_no_floor() -> None:
    assert floor_seconds(CHAINS["deferred"], {}, 5.0, DISCORD_LIKE) == 0.0


def test_profile_survives_json_and_limits_can_be_switched_off() -> None:
    assert profile_from_json(profile_to_json(DISCORD_LIKE)) == DISCORD_LIKE
    assert with_limits(DISCORD_LIKE, "global").buckets == {}
    assert with_limits(DISCORD_LIKE, "global").global_bucket == DISCORD_LIKE.global_bucket
    assert with_limits(DISCORD_LIKE, "none").global_bucket is None
    with pytest.raises(ValueError, match="unknown limits"):
        with_limits(DISCORD_LIKE, "some")


def test_every_profile_route_is_served_by_the_emulator() -> None:
    emu = DiscordEmulator(validate=False)
    apply_profile(emu, DISCORD_LIKE)  # raises KeyError naming the route on a typo
    chained = {route for chain in CHAINS.values() for stage in chain for route in stage}
    assert chained <= emu.routes
