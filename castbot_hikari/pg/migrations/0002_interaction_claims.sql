-- Which process handles each interaction. Discord delivers an event to every session of a shard, so two
-- processes on one shard (a rolling restart) both get every click: the first to claim it handles it. A
-- claim carries a lease its process renews while it works; a claim whose process died before finishing
-- (its lease ran out, not done) is taken over by a process that got the same click.
CREATE TABLE interaction_claims (
    interaction_id bigint PRIMARY KEY,
    owner          text        NOT NULL,
    lease_until    timestamptz NOT NULL,
    done           boolean     NOT NULL DEFAULT false,
    claimed_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX interaction_claims_age ON interaction_claims (claimed_at);
