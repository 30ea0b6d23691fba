"""``python -m castbot_hikari.bench.burner --seconds N``: burn one CPU core, then stop by itself.

The busy scenario's noisy neighbour. The benchmark stops it by PID when the run ends; ``--seconds``
bounds it in case nothing does.
"""

from __future__ import annotations

import argparse
import time


def burn(seconds: float) -> int:
    """Spin on one core for ``seconds``; return the number of loops done."""
    deadline = time.monotonic() + seconds
    loops = 0
    while time.monotonic() < deadline:
        for _ in range(10_000):
            loops += 1
    return loops


def main(argv: list[str] | None = None) -> int:
    """Parse ``--seconds`` and burn."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0, help="stop after this long (default 600)")
    burn(min(max(0.0, parser.parse_args(argv).seconds), 3600.0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
