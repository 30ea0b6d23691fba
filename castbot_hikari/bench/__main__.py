"""``python -m castbot_hikari.bench``: the same as ``castbot-hikari bench``."""

import sys

from castbot_hikari.cli import main

sys.exit(main(["bench", *sys.argv[1:]]))
