"""``python -m castbot_hikari``: the same as the ``castbot-hikari`` command."""

import sys

from castbot_hikari.cli import main

sys.exit(main())
