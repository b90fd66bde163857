"""``swipeguard serve``: the API, the console and the background workers in one process."""

from __future__ import annotations

import argparse
import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import uvicorn
from sqlalchemy.engine import make_url

from swipeguard.api.app import create_app
from swipeguard.config import ServerSettings, Settings
from swipeguard.db import Database
from swipeguard.privacy import MaskCardPaths
from swipeguard.workers import WorkerThreads, all_workers

log = logging.getLogger(__name__)

# Streams (live alarms) end on the stop event within a poll; this is the backstop for
# any other connection still open when the server stops.
GRACEFUL_SHUTDOWN_S = 5


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the API, the console and the workers")
    p.add_argument("--host", help="address to listen on (default: settings, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default: settings, 8000)")
    add_data_dir(p)
    p.add_argument("--no-workers", action="store_true",
                   help="serve the API only; workers run elsewhere")
    p.set_defaults(func=serve)


def load_settings(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with the command line's choices on top."""
    overrides: dict[str, object] = {}
    if getattr(args, "data_dir", None) is not None:
        overrides["data_dir"] = args.data_dir
    settings = Settings(**overrides)  # type: ignore[arg-type]
    server = {k: v for k, v in (("host", getattr(args, "host", None)),
                                ("port", getattr(args, "port", None))) if v is not None}
    if server:
        checked = ServerSettings(**{**settings.server.model_dump(), **server})
        settings = settings.model_copy(update={"server": checked})
    return settings


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path,
                        help="data directory (default: settings, ./data)")


class NoData(Exception):
    """The data directory holds no swipeguard data: most often a mistyped ``--data-dir``."""


def open_database(args: argparse.Namespace, *,
                  create: bool = False) -> tuple[Settings, Database]:
    """The settings and a migrated database, for commands that work on the data.

    Only the commands that start an installation (``create``: the first user, the
    server) may start a new database; the others refuse a data directory without one,
    so a typo fails loudly instead of answering from an empty database made on the spot.
    """
    settings = load_settings(args)
    if not create:
        _require_data(settings)
    db = Database(settings.resolved_database_url)
    db.migrate()
    return settings, db


def _require_data(settings: Settings) -> None:
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        found = Path(url.database).is_file()
    else:
        found = settings.data_dir.is_dir()  # the database is elsewhere; faces and video here
    if not found:
        raise NoData(f"no swipeguard data in {settings.data_dir}; check --data-dir or "
                     f"SWIPEGUARD_DATA_DIR (`swipeguard users add` starts a new installation)")


class _Server(uvicorn.Server):
    """Uvicorn that also tells the app (and so its open streams) that it is stopping."""

    def __init__(self, config: uvicorn.Config, on_exit: list[object]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        for event in self._on_exit:
            event.set()  # type: ignore[attr-defined]
        super().handle_exit(sig, frame)


def _mask_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, MaskCardPaths) for f in access.filters):
        access.addFilter(MaskCardPaths())


def serve(args: argparse.Namespace) -> int:
    settings, db = open_database(args, create=True)
    app = create_app(settings, db)
    threads = WorkerThreads([] if args.no_workers else all_workers(settings, db))

    config = uvicorn.Config(
        app, host=settings.server.host, port=settings.server.port, log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, proxy_headers=False,
    )
    server = _Server(config, on_exit=[app.state.stopping, threads.stop])
    _mask_access_log()
    log.info("serving on http://%s:%s (data in %s, pid %s)", settings.server.host,
             settings.server.port, settings.data_dir, os.getpid())
    threads.start()
    try:
        with _signals_already_handled():
            server.run()
    finally:
        app.state.stopping.set()
        threads.close()
        db.dispose()
        log.info("stopped")
    return 0 if server.started else 1


@contextmanager
def _signals_already_handled() -> Iterator[None]:
    """Uvicorn re-raises the stop signal once it has shut down, which would kill the
    process before the workers are stopped; by then the signal has done its job."""
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
