"""Finds the feature packages' modules of a given name (``models``, ``views``, ``cli``).

A feature package plugs into the database, the HTTP app and the command line by
having that module; nothing central needs editing when a feature is added.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Iterator
from types import ModuleType

import swipeguard


def feature_modules(name: str) -> Iterator[ModuleType]:
    for info in sorted(pkgutil.iter_modules(swipeguard.__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        full = f"swipeguard.{info.name}.{name}"
        if importlib.util.find_spec(full) is None:
            continue
        yield importlib.import_module(full)
