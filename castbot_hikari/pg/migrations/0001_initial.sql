-- castbot-hikari's PostgreSQL schema, version 1.
-- CastBot's playerData.json, spread over tables: what this bot models has columns, everything else is
-- kept as JSONB as it came, so an export gives back what an import took in.

-- Top-level keys of playerData.json that are not servers (environmentConfig, ...), and what this bot's own
-- section (_castbotHikari) holds beyond the tables below.
CREATE TABLE castbot_top (
    key   text PRIMARY KEY,
    value jsonb NOT NULL
);

-- One row per server of the document: the keys of its object this bot does not model (players, tribes, ...);
-- an applicationConfigs/applications key there holds what the tables cannot (entries whose ids are not ids).
CREATE TABLE guilds (
    guild_id bigint PRIMARY KEY,
    extra    jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- This bot's settings of each server (the admins' notify channel).
CREATE TABLE guild_settings (
    guild_id          bigint PRIMARY KEY,
    notify_channel_id bigint
);

-- Apply configs (<guildId>.applicationConfigs.<configId>), each CastBot object whole.
CREATE TABLE configs (
    guild_id  bigint NOT NULL,
    config_id text   NOT NULL,
    data      jsonb  NOT NULL,
    PRIMARY KEY (guild_id, config_id)
);

-- Reservations and recorded applications in ONE table, so one unique index holds the no-duplicate promise
-- across every process: at most one row per identity is 'reserved' or 'recorded'. 'duplicate' keeps the
-- extra applications an imported file already had for one identity (CastBot's own twins), never made here.
CREATE TABLE applies (
    id          bigserial PRIMARY KEY,
    guild_id    bigint NOT NULL,
    user_id     bigint NOT NULL,
    config_id   text   NOT NULL,
    state       text   NOT NULL CHECK (state IN ('reserved', 'recorded', 'duplicate')),
    -- reserved: how far the apply got (reserved, creating, channel_created, welcomed)
    step        text,
    owner       text,
    lease_until timestamptz,
    reserved_at timestamptz,
    create_attempt_ms bigint,
    channel_id  bigint,
    applicant   jsonb,
    reply       jsonb,
    -- recorded: CastBot's application object whole (unknown keys included)
    data        jsonb
);
CREATE UNIQUE INDEX applies_one_per_identity ON applies (guild_id, user_id, config_id)
    WHERE state IN ('reserved', 'recorded');
CREATE UNIQUE INDEX applies_one_per_channel ON applies (guild_id, channel_id) WHERE state <> 'reserved';
CREATE INDEX applies_reserved_leases ON applies (lease_until) WHERE state = 'reserved';

-- Admin notices (and late replies) written with the change they report, sent after it; a sender claims a
-- batch (FOR UPDATE SKIP LOCKED) for a while, so each notice is sent by one process.
CREATE TABLE outbox (
    notice_id     text PRIMARY KEY,
    guild_id      bigint NOT NULL,
    body          jsonb  NOT NULL,
    at_ms         bigint NOT NULL,
    claimed_by    text,
    claimed_until timestamptz
);

-- Results an applicant never saw, kept for the admins.
CREATE TABLE undelivered (
    reference text PRIMARY KEY,
    guild_id  bigint NOT NULL,
    body      jsonb  NOT NULL,
    at_ms     bigint NOT NULL
);
