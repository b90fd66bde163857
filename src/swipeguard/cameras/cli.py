"""``swipeguard record``: the camera recorders in the foreground, until interrupted.

One process copies every camera's packets in Python threads, which share one
interpreter lock; past a few dozen cameras they queue for it. ``--processes N`` runs N
recorder processes, each with its own share of the cameras (``--shard``), to use every
core.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import signal
import subprocess
import sys
import threading

from swipeguard.api.cli import add_data_dir, open_database
from swipeguard.cameras import service
from swipeguard.cameras.recorder import Recorder
from swipeguard.workers import WorkerThreads

log = logging.getLogger(__name__)

# Closing a segment writes its last fragment; a slow disk or a camera stuck in a read
# (10 s timeout) is given this long before the command exits anyway.
STOP_TIMEOUT_S = 15.0
PR_SET_PDEATHSIG = 1  # prctl(2)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("record", help="record the enabled cameras until interrupted")
    p.add_argument("--camera", metavar="NAME", help="record only this camera")
    p.add_argument("--processes", type=int, default=1, metavar="N",
                   help="recorder processes sharing the cameras (default: 1)")
    p.add_argument("--shard", type=parse_shard, metavar="I/N",
                   help="record only the cameras whose id modulo N is I")
    add_data_dir(p)
    p.set_defaults(func=record)


def parse_shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError("give the shard as I/N, e.g. 0/2") from None
    if not 0 <= index < count:
        raise argparse.ArgumentTypeError("a shard I/N needs 0 <= I < N")
    return index, count


def in_shard(camera_id: int, shard: tuple[int, int] | None) -> bool:
    return shard is None or camera_id % shard[1] == shard[0]


def record(args: argparse.Namespace) -> int:
    if args.processes < 1 or args.processes > 64:
        log.error("--processes must be between 1 and 64")
        return 2
    if args.processes > 1:
        if args.camera or args.shard:
            log.error("--processes shares all cameras; it does not go with --camera or --shard")
            return 2
        return _record_in_processes(args)
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
            chosen = [c for c in service.list(session, enabled=True)
                      if in_shard(c.id, args.shard)]
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


def _record_in_processes(args: argparse.Namespace) -> int:
    """Runs one ``record --shard i/N`` child per process and stops them together."""
    base = [sys.executable, "-m", "swipeguard", "record"]
    if args.data_dir:
        base += ["--data-dir", str(args.data_dir)]
    children = [subprocess.Popen([*base, "--shard", f"{i}/{args.processes}"],
                                 preexec_fn=_stop_with_parent)
                for i in range(args.processes)]
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    log.info("recording in %s processes", len(children))
    while not done.wait(1.0):
        if any(c.poll() is not None for c in children):
            log.error("a recorder process ended; stopping the others")
            break
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    codes = []
    for child in children:
        try:
            codes.append(child.wait(STOP_TIMEOUT_S + 5))
        except subprocess.TimeoutExpired:
            child.kill()
            codes.append(child.wait())
    return 0 if done.is_set() and not any(codes) else 1


def _stop_with_parent() -> None:
    """In a child, before it runs: Linux sends it SIGTERM if this parent dies, even killed
    with SIGKILL, so no recorder is left holding its cameras' claims."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
