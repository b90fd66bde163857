"""Benchmarks: commands that print measured figures (``swipeguard bench NAME [--json]``).

Each module here defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> dict``; the dict is printed as JSON with ``--json`` or as lines.
"""
