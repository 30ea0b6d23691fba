"""``python -m castbot_hikari.bench``: the same as ``castbot-hikari bench``."""

import argparse
import sys

from castbot_hikari.bench import cli

parser = argparse.ArgumentParser(prog="castbot-hikari bench")
cli.add_arguments(parser)
sys.exit(cli.main(parser.parse_args()))
