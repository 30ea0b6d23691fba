"""Discord-like latencies and rate limits for the emulator, and the floor they set on a run's wall time.

The latencies are the brief's (channel create 0.5-1.0 s, messages 0.3-0.8 s, member fetch 50-150 ms).
The global limit is Discord's documented 50 requests/s per bot (interaction callbacks and interaction
webhooks are exempt). Discord publishes no per-route numbers, so the route buckets are assumptions in
the range Discord's headers show: 5 per 2 s per interaction webhook (webhook id + token), 5 per 5 s per
channel for messages, 10 per 1 s per guild for channel creation and for member fetches (Discord's
documented channel limit, 500 per guild per day, never binds here). Each bucket is per top-level
resource and a fixed window, as in the emulator's ``RateLimitTable``.

Note: hikari reads the headers as a sliding window (one request back every ``reset_after / used``
seconds); a fixed window reports the whole window there, so once a bucket is used up hikari sends one
request per window, not ``limit``. Longer route windows would make that pacing, not Discord, set the
wall time, which is why they are kept at 1-5 s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, cast

CHANNELS: Final = "POST /guilds/{guild_id}/channels"
MESSAGES: Final = "POST /channels/{channel_id}/messages"
EDIT_ORIGINAL: Final = "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original"
FOLLOWUP: Final = "POST /webhooks/{webhook_id}/{webhook_token}"
MEMBER: Final = "GET /guilds/{guild_id}/members/{user_id}"
CALLBACK: Final = "POST /interactions/{interaction_id}/{interaction_token}/callback"

Stage = tuple[str, ...]
"""Requests one apply sends at the same time (their latencies overlap)."""

CHAINS: Final[Mapping[str, tuple[Stage, ...]]] = {
    # The defer (callback), then the progress edit alongside the channel, the welcome, the result edit.
    "deferred": ((CALLBACK,), (EDIT_ORIGINAL, CHANNELS), (MESSAGES,), (EDIT_ORIGINAL,)),
    # The old pattern: member fetch, channel, welcome, and only then the one answer (callback).
    "synchronous": ((MEMBER,), (CHANNELS,), (MESSAGES,), (CALLBACK,)),
}
"""The requests of one apply that creates a channel, in order, per strategy (``deferred-naive`` = deferred)."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """``limit`` requests per ``per`` seconds."""

    limit: int
    per: float


@dataclass(frozen=True, slots=True)
class Profile:
    """What the emulator is configured with for a run.

    Attributes:
        latencies: ``"METHOD /route"`` → (min, max) seconds, drawn uniformly.
        buckets: ``"METHOD /route"`` → its bucket, per top-level resource (guild, channel or webhook).
        global_bucket: The per-bot global limit (``None``: off).
        unlimited_global: Routes that do not count towards the global limit.
        ack_deadline: Seconds Discord waits for the first response.
    """

    latencies: Mapping[str, tuple[float, float]]
    buckets: Mapping[str, Bucket]
    global_bucket: Bucket | None
    unlimited_global: frozenset[str] = field(default_factory=lambda: frozenset({CALLBACK, EDIT_ORIGINAL, FOLLOWUP}))
    ack_deadline: float = 3.0

    def min_latency(self, route: str) -> float:
        """Return the shortest latency of ``route`` (0 when none is set)."""
        return self.latencies.get(route, (0.0, 0.0))[0]

    def counts_globally(self, route: str) -> bool:
        """Return whether ``route`` counts towards the global limit."""
        return self.global_bucket is not None and route not in self.unlimited_global

    def scaled(self, factor: float) -> Profile:
        """Return this profile with every latency multiplied by ``factor`` (for quick tests)."""
        latencies = {route: (low * factor, high * factor) for route, (low, high) in self.latencies.items()}
        return replace(self, latencies=latencies)


def with_limits(profile: Profile, which: str) -> Profile:
    """Return ``profile`` with all its limits (``discord``), the global one only (``global``) or none."""
    if which == "discord":
        return profile
    if which == "global":
        return replace(profile, buckets={})
    if which == "none":
        return replace(profile, buckets={}, global_bucket=None)
    msg = f"unknown limits {which!r}: choose discord, global or none"
    raise ValueError(msg)


DISCORD_LIKE: Final = Profile(
    latencies={
        CHANNELS: (0.5, 1.0),
        MESSAGES: (0.3, 0.8),
        EDIT_ORIGINAL: (0.3, 0.8),
        FOLLOWUP: (0.3, 0.8),
        MEMBER: (0.05, 0.15),
    },
    buckets={
        CHANNELS: Bucket(10, 1.0),
        MESSAGES: Bucket(5, 5.0),
        EDIT_ORIGINAL: Bucket(5, 2.0),
        FOLLOWUP: Bucket(5, 2.0),
        MEMBER: Bucket(10, 1.0),
    },
    global_bucket=Bucket(50, 1.0),
)


def windows_needed(requests: int, bucket: Bucket) -> float:
    """Return the least seconds between the first and the last of ``requests`` requests a bucket admits.

    The emulator's buckets slide as Discord's do: a burst of ``limit``, then one more request every
    ``per / limit`` seconds, so ``n`` requests need at least ``(n - limit) * per / limit`` seconds.
    """
    return max(0, requests - bucket.limit) * bucket.per / bucket.limit


def floor_seconds(
    chain: Sequence[Stage], applies_by_guild: Mapping[int, int], last_click_s: float, profile: Profile
) -> float:
    """Return the least wall time (from the first click) in which every planned apply can finish.

    Only Discord's side is counted (latencies and rate limits), never the bot's own work, so no bot can
    beat it. With ``m_i`` the shortest latency of stage ``i`` (the longest minimum among its parallel
    requests), ``M(a..b)`` the sum of ``m_a..m_b`` and ``W(n, bucket) = (ceil(n / limit) - 1) * per``
    (see ``windows_needed``), the floor is the largest of:

    1. the last click plus its own chain: ``t_last + M(all stages)``;
    2. the global bucket: all ``N = applies * (global requests per apply)`` must pass it; the first is
       counted no earlier than ``M(0..f-1)`` plus its own shortest latency (``f``: the first stage with a
       global request; the emulator applies the latency before counting), the last window opens
       ``W(N, global)`` later, and the apply whose request is counted last still has ``M(l+1..end)``
       to go (``l``: the last stage with a global request: an apply's last global request is there);
    3. each route bucket likewise, with ``N`` what one resource receives: for a guild route the
       busiest guild's applies times the route's uses per apply; for a channel or webhook route one
       apply's own uses (each apply has its own channel and token).

    Args:
        chain: The stages of one apply that creates a channel (``CHAINS``).
        applies_by_guild: Applies that create a channel, per guild (one per distinct applicant).
        last_click_s: Seconds from the first click to the last.
        profile: The emulator's configured latencies and limits.
    """
    stage_min = [max(profile.min_latency(route) for route in stage) for stage in chain]

    def first_counted(stage: int, routes: Sequence[str]) -> float:
        return sum(stage_min[:stage]) + min(profile.min_latency(route) for route in routes)

    terms = [last_click_s + sum(stage_min)]
    total = sum(applies_by_guild.values())
    if total == 0:
        return 0.0
    if profile.global_bucket is not None:
        stages = [i for i, stage in enumerate(chain) if any(profile.counts_globally(r) for r in stage)]
        if stages:
            per_apply = sum(1 for stage in chain for route in stage if profile.counts_globally(route))
            waiting = windows_needed(total * per_apply, profile.global_bucket)
            counted = [route for route in chain[stages[0]] if profile.counts_globally(route)]
            terms.append(first_counted(stages[0], counted) + waiting + sum(stage_min[stages[-1] + 1 :]))
    busiest = max(applies_by_guild.values())
    for route, bucket in profile.buckets.items():
        uses = [i for i, stage in enumerate(chain) if route in stage]
        if not uses:
            continue
        per_apply = sum(stage.count(route) for stage in chain)
        requests = busiest * per_apply if "{guild_id}" in route else per_apply
        waiting = windows_needed(requests, bucket)
        terms.append(first_counted(uses[0], [route]) + waiting + sum(stage_min[uses[-1] + 1 :]))
    return max(terms)


def profile_to_json(profile: Profile) -> dict[str, object]:
    """Return ``profile`` as JSON (it is passed to the emulator process)."""
    return {
        "latencies": {route: list(pair) for route, pair in profile.latencies.items()},
        "buckets": {route: [b.limit, b.per] for route, b in profile.buckets.items()},
        "global": None if profile.global_bucket is None else [profile.global_bucket.limit, profile.global_bucket.per],
        "unlimited_global": sorted(profile.unlimited_global),
        "ack_deadline": profile.ack_deadline,
    }


def profile_from_json(raw: Mapping[str, object]) -> Profile:
    """Return the profile ``profile_to_json`` wrote."""
    latencies = cast("Mapping[str, Sequence[float]]", raw["latencies"])
    buckets = cast("Mapping[str, Sequence[float]]", raw["buckets"])
    global_ = cast("Sequence[float] | None", raw["global"])
    return Profile(
        latencies={route: (float(pair[0]), float(pair[1])) for route, pair in latencies.items()},
        buckets={route: Bucket(int(pair[0]), float(pair[1])) for route, pair in buckets.items()},
        global_bucket=None if global_ is None else Bucket(int(global_[0]), float(global_[1])),
        unlimited_global=frozenset(cast("Sequence[str]", raw["unlimited_global"])),
        ack_deadline=float(cast("float", raw["ack_deadline"])),
    )
