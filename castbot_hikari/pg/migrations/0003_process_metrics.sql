-- /apps stats over every process: each live process publishes its counters and histogram buckets here
-- (monitoring.cluster.MetricsState as JSON) and reads the others'. A row not refreshed for a minute is a
-- process that is gone; a clean stop deletes its row.
CREATE TABLE IF NOT EXISTS process_metrics (
    owner text PRIMARY KEY,
    state jsonb NOT NULL,
    updated_at timestamptz NOT NULL
);
