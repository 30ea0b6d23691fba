"""The PostgreSQL store (``CASTBOT_STORE=postgres``): several processes share one truth through asyncpg."""
