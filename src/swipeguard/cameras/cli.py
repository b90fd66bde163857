"""``swipeguard record``: the camera recorders in the foreground, until interrupted."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from swipeguard.api.cli import add_data_dir, open_database
from swipeguard.cameras import service
from swipeguard.cameras.recorder import Recorder
from swipeguard.workers import WorkerThreads

log = logging.getLogger(__name__)

# Closing a segment writes its last fragment; a slow disk or a camera stuck in a read
# (10 s timeout) is given this long before the command exits anyway.
STOP_TIMEOUT_S = 15.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("record", help="record the enabled cameras until interrupted")
    p.add_argument("--camera", metavar="NAME", help="record only this camera")
    add_data_dir(p)
    p.set_defaults(func=record)


def record(args: argparse.Namespace) -> int:
    settings, db = open_database(args)
    with db.sessions() as session:
        if args.camera:
            camera = service.get_by_name(session, name=args.camera)
            if camera is None:
                log.error("no camera named %r; list them with the facilities commands",
                          args.camera)
                return 2
            chosen = [camera]
        else:
            chosen = [*service.list(session, enabled=True)]
    if not chosen:
        log.error("no enabled cameras to record")
        return 2

    threads = WorkerThreads([Recorder(settings, db, c.id) for c in chosen])
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    log.info("recording %s camera(s) into %s", len(chosen), settings.data_dir)
    threads.start()
    done.wait()
    threads.close(STOP_TIMEOUT_S)
    db.dispose()
    log.info("recording stopped")
    return 0
