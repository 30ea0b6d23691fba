-- Discord's REST limits are per bot, not per process: every process of the bot takes its turn from here.
-- One row per limit (name); ``tat`` is the limit's theoretical arrival time (GCRA): the moment from which the
-- schedule is free again. A turn moves it on by one interval, in one statement, under the row's lock only.
CREATE TABLE IF NOT EXISTS rest_pace (
    name text PRIMARY KEY,
    tat timestamptz NOT NULL
);
