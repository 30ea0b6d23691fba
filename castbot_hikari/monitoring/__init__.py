"""Operating the bot: Prometheus metrics, Discord's answers counted, shard latency, health endpoints."""
