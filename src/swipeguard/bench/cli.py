"""``swipeguard bench NAME``: discovers the benchmark modules of this package."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
from typing import Any

import swipeguard.bench as bench_pkg


def _print_lines(result: dict[str, Any], prefix: str = "") -> None:
    for key, value in result.items():
        if isinstance(value, dict):
            _print_lines(value, f"{prefix}{key}.")
        elif isinstance(value, float):
            print(f"{prefix}{key}: {value:.6g}")
        else:
            print(f"{prefix}{key}: {value}")


def register(sub: Any) -> None:
    parser = sub.add_parser("bench", help="run a benchmark and print its figures")
    benches = parser.add_subparsers(dest="bench", required=True, metavar="NAME")
    for info in pkgutil.iter_modules(bench_pkg.__path__):
        if info.name == "cli":
            continue
        module = importlib.import_module(f"swipeguard.bench.{info.name}")
        if not hasattr(module, "run"):
            continue
        p = benches.add_parser(module.NAME, help=module.HELP)
        p.add_argument("--json", action="store_true", help="print the figures as JSON")
        module.add_arguments(p)
        p.set_defaults(func=_runner(module))


def _runner(module: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        result = module.run(args)
        if args.json:
            print(json.dumps(result, indent=2, default=str))
        else:
            _print_lines(result)
        return 0

    return run
