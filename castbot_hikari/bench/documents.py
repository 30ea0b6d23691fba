"""Realistic CastBot ``playerData.json`` documents of a chosen size (see shared/castbot/DATA.md).

Each server carries what CastBot servers carry: players with their profile fields, tribes and
timezones, one active Apply config with questions, and the applications of past seasons with the
fields CastBot adds over a season (question progress, rankings by the production team, casting
status, do-not-cast entries). Sizes seen in production: 178 KB for 75 servers, 3.65 MB for 165.
"""

from __future__ import annotations

import random
from typing import Any, Final

import orjson

_PRONOUNS: Final = ("he/him", "she/her", "they/them", "she/they", "he/they")
_TIMEZONES: Final = ("EST", "CST", "PST", "GMT", "CET", "AEST")
_STATUS: Final = ("cast", "rejected", "tentative", "pending")
_QUESTIONS: Final = (
    "Why do you want to play?",
    "Tell us about yourself",
    "What is your strategy?",
    "Who is your favourite player?",
    "How active can you be?",
    "What would you bring to the cast?",
    "Describe your social game",
    "Anything else?",
)


class Snowflakes:
    """Snowflake-looking ids, increasing (so distinct) and reproducible."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._next = 1_300_000_000_000_000_000

    def __call__(self) -> str:
        self._next += self._rng.randint(1, 10**9)
        return str(self._next)


def _iso(rng: random.Random) -> str:
    day = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return (
        f"{day}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}Z"
    )


def apply_config(
    rng: random.Random, *, season: int, creator: str, target_channel: str, category: str, role: str | None
) -> dict[str, Any]:
    """Return an active CastBot Apply config with questions."""
    created = 1_781_015_852_414 + season * 86_400_000
    questions: list[dict[str, Any]] = [
        {
            "id": f"question_{rng.getrandbits(64):016x}",
            "order": n + 1,
            "questionTitle": title,
            "questionText": f"{title} Take your time and be honest.",
            "questionStyle": 2,
            "imageURL": "",
            "createdAt": created,
        }
        for n, title in enumerate(rng.sample(_QUESTIONS, rng.randint(4, 8)))
    ]
    questions.append(
        {
            "id": f"question_{rng.getrandbits(64):016x}",
            "order": len(questions) + 1,
            "questionType": "completion",
            "questionTitle": "All done!",
            "questionText": "Thanks for applying. Production will be in touch.",
            "imageURL": "",
        }
    )
    return {
        "seasonId": f"season_{rng.getrandbits(64):016x}",
        "seasonName": f"Season {season}",
        "buttonText": f"Apply to Season {season}",
        "explanatoryText": "Sign-ups close Friday. Read the rules first.",
        "channelFormat": "📝%name%-app",
        "targetChannelId": target_channel,
        "categoryId": category,
        "buttonStyle": "Success",
        "productionRole": role,
        "createdBy": creator,
        "stage": "active",
        "createdAt": created,
        "lastUpdated": created + 3_600_000,
        "questions": questions,
    }


def _player(rng: random.Random) -> dict[str, Any]:
    return {
        "age": rng.randint(16, 45),
        "pronouns": rng.choice(_PRONOUNS),
        "timezone": rng.choice(_TIMEZONES),
        "emojiCode": f"<:p{rng.randint(1, 999)}:{rng.getrandbits(60)}>",
    }


def _application(rng: random.Random, ids: Snowflakes, user: str, config_id: str, staff: list[str]) -> dict[str, Any]:
    channel = ids()
    name = f"player{rng.randint(1, 99999)}"
    record: dict[str, Any] = {
        "userId": user,
        "channelId": channel,
        "configId": config_id,
        "username": name,
        "displayName": name.title(),
        "avatarURL": f"https://cdn.discordapp.com/avatars/{user}/{rng.getrandbits(128):032x}.png?size=128",
        "channelName": f"📝{name}-app",
        "createdAt": _iso(rng),
        "currentQuestion": rng.randint(0, 8),
        "rankings": {s: rng.randint(1, 5) for s in staff},
        "castingStatus": rng.choice(_STATUS),
        "source": "button",
    }
    if rng.random() < 0.7:
        record["completedAt"] = _iso(rng)
    if rng.random() < 0.3:
        record["dncEntries"] = [
            {
                "id": f"dnc_{rng.getrandbits(40):x}_{rng.getrandbits(20):x}",
                "name": "Someone",
                "username": "someone",
                "userId": ids(),
                "issues": "Played together before.",
                "createdAt": _iso(rng),
                "updatedAt": _iso(rng),
            }
        ]
    return record


def server_history(rng: random.Random, ids: Snowflakes, target_bytes: int, *, seasons: int = 3) -> dict[str, Any]:
    """Return a server's players, tribes and past seasons' applications, about ``target_bytes`` as JSON."""
    staff = [ids() for _ in range(rng.randint(2, 6))]
    entry: dict[str, Any] = {
        "players": {},
        "tribes": {
            ids(): {"name": f"Tribe {n}", "emoji": "🔥", "color": "#aa3300", "castlist": "default"}
            for n in range(rng.randint(2, 5))
        },
        "timezones": {ids(): {"offset": offset} for offset in (-8, -6, -5, 0, 1, 10)},
        "applications": {},
    }
    size = len(orjson.dumps(entry))
    old_configs = [f"config_{1_700_000_000_000 + n * 86_400_000}_{staff[0]}" for n in range(seasons)]
    while size < target_bytes:
        user = ids()
        player = _player(rng)
        entry["players"][user] = player
        size += len(orjson.dumps({user: player}))
        if rng.random() < 0.8:
            record = _application(rng, ids, user, rng.choice(old_configs), staff)
            entry["applications"][record["channelId"]] = record
            size += len(orjson.dumps({record["channelId"]: record}))
    return entry


def castbot_document(target_bytes: int, servers: int, seed: int = 7) -> dict[str, Any]:
    """Return a CastBot document of about ``target_bytes`` over ``servers`` servers, one Apply config each."""
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    ids = Snowflakes(rng)
    doc: dict[str, Any] = {}
    per_server = max(1, target_bytes // max(1, servers))
    for season in range(1, servers + 1):
        guild_id, creator = ids(), ids()
        configs = {
            f"config_{1_781_015_852_414 + season}_{creator}": apply_config(
                rng,
                season=season,
                creator=creator,
                target_channel=ids(),
                category=ids(),
                role=ids(),
            )
        }
        entry = server_history(rng, ids, per_server - len(orjson.dumps(configs)))
        entry["applicationConfigs"] = configs
        doc[guild_id] = entry
    doc["environmentConfig"] = {"liveDiscordLogging": True}
    return doc


def application_record(ids: Snowflakes, rng: random.Random, config_id: str) -> tuple[str, dict[str, Any]]:
    """Return ``(channel id, record)`` of one new application, as one apply adds it."""
    record = _application(rng, ids, ids(), config_id, [])
    for late in ("currentQuestion", "completedAt", "rankings", "castingStatus", "dncEntries"):
        record.pop(late, None)  # a fresh application has none of the season's later fields yet
    return record["channelId"], record
