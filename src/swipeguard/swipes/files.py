"""Files a swipe keeps under the data directory: the till's still and capture chips.

A file is written to a temporary name, flushed to disk (fsync), renamed into place and
its directory synced, so that a row pointing at it is only ever committed after the
bytes are durable: a crash leaves at worst an orphan file, never a row without a file.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path

from swipeguard.config import Settings

STILLS = "stills"
CAPTURES = "faces/captures"


def write_durably(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` so that it survives a crash once this returns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_dir(path.parent)


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_relative_path(kind: str, *, at: datetime, suffix: str = ".jpg") -> str:
    """A fresh path relative to the data directory, sharded by day so folders stay small."""
    return f"{kind}/{at:%Y/%m/%d}/{secrets.token_hex(12)}{suffix}"


def store(settings: Settings, *, kind: str, at: datetime, data: bytes) -> str:
    """Stores ``data`` durably and returns its path relative to the data directory."""
    relative = new_relative_path(kind, at=at)
    write_durably(settings.data_dir / relative, data)
    return relative


def remove(settings: Settings, relative: str | None) -> None:
    """Removes a file whose row was never committed (a duplicate or a failed insert)."""
    if relative:
        (settings.data_dir / relative).unlink(missing_ok=True)


def read(settings: Settings, relative: str) -> bytes:
    return (settings.data_dir / relative).read_bytes()
