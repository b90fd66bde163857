"""The ``swipeguard`` command. Each feature package adds its commands in its ``cli.py``."""

from __future__ import annotations

import argparse
import logging
import sys

from swipeguard.api.cli import NoData
from swipeguard.discovery import feature_modules


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="swipeguard", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in feature_modules("cli"):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or 0)
    except NoData as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
