"""``castbot-hikari bench``: how the old synchronous Apply pattern fails under load and the deferred bot holds.

The Discord emulator, the bot (as deployed, ``python -m castbot_hikari run``, or the bench-only
synchronous variant) and, for the busy scenario, a CPU burner each run in their own process on
127.0.0.1. Every import of the bot's internals is in ``botside``.
"""
