"""``python -m castbot_hikari.bench.botproc --strategy synchronous``: the bench-only bot process.

Settings come from the environment as for ``castbot-hikari run``. ``synchronous`` answers Apply clicks
the way CastBot did before the deferred design; ``deferred`` is the shipped behaviour (for checks).
"""

from __future__ import annotations

import argparse

from castbot_hikari.bench import botside


def main(argv: list[str] | None = None) -> int:
    """Run the bot with the chosen strategy."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strategy", choices=("synchronous", "deferred"), default="synchronous")
    return botside.run_bench_bot(parser.parse_args(argv).strategy)


if __name__ == "__main__":
    raise SystemExit(main())
