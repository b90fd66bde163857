"""``swipeguard bench alarm-stream``: how fast the console hears of an alarm, and how fast
the queue and sign-in answer, over a real server on loopback with a backlog of alarms.

Latency is from the commit of a new alarm (as a verifier in another process would
make it) to its event arriving at a streaming client. The server polls the table
every ``alarms.views.POLL_S``, so about half of that is the expected mean.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import statistics
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from swipeguard.alarms import service as alarms
from swipeguard.alarms.models import Alarm, AlarmKind, AlarmStatus
from swipeguard.api.app import create_app
from swipeguard.auth import service as auth
from swipeguard.auth.models import Role
from swipeguard.config import Settings
from swipeguard.db import Database, utcnow

NAME = "alarm-stream"
HELP = "alarm-to-console latency over SSE, queue and sign-in timings with an alarm backlog"

PASSWORD = "bench password, long enough"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backlog", type=int, default=10_000,
                        help="alarms in the table before measuring (default: %(default)s)")
    parser.add_argument("--alarms", type=int, default=40,
                        help="new alarms timed through the stream (default: %(default)s)")
    parser.add_argument("--streams", type=int, default=4,
                        help="consoles streaming at once (default: %(default)s)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), secret_key="bench", database_url=None)
        db = Database(settings.resolved_database_url)
        db.migrate()
        _seed(db, args.backlog)
        server = _Server(settings, db)
        try:
            with httpx.Client(base_url=server.url, timeout=30) as http:
                sign_in_ms = _time_sign_in(http)
                queue_ms = _time_queue(http)
                latencies = _time_stream(http, db, args.alarms, args.streams)
        finally:
            server.stop()
            db.dispose()
    return {
        "backlog_alarms": args.backlog,
        "streams": args.streams,
        "alarm_to_console_ms": _summary(latencies),
        "queue_200_items_ms": _summary(queue_ms),
        "sign_in_ms": _summary(sign_in_ms),
    }


def _seed(db: Database, count: int) -> None:
    """A backlog written in bulk (the service's per-alarm logging would dominate)."""
    now = utcnow()
    with db.transaction() as s:
        auth.create_user(s, username="bench", password=PASSWORD, role=Role.OPERATOR)
        s.add_all(
            Alarm(kind=AlarmKind.NO_FACE, reason=f"backlog {i}", priority=1,
                  status=AlarmStatus.ACKNOWLEDGED if i % 3 else AlarmStatus.OPEN,
                  created_at=now - timedelta(minutes=count - i),
                  updated_at=now - timedelta(minutes=count - i))
            for i in range(count)
        )


class _Server:
    def __init__(self, settings: Settings, db: Database) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.app = create_app(settings, db)
        self.server = uvicorn.Server(uvicorn.Config(
            self.app, host="127.0.0.1", port=port, log_level="warning",
            timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)

    def stop(self) -> None:
        self.app.state.stopping.set()
        self.server.should_exit = True
        self.thread.join(10)


def _time_sign_in(http: httpx.Client, rounds: int = 5) -> list[float]:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        http.post("/api/session", json={"username": "bench", "password": PASSWORD})
        times.append((time.perf_counter() - t) * 1000)
    return times


def _time_queue(http: httpx.Client, rounds: int = 20) -> list[float]:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        r = http.get("/api/alarms", params={"status": ["open", "acknowledged"], "limit": 200})
        r.raise_for_status()
        times.append((time.perf_counter() - t) * 1000)
    return times


def _time_stream(http: httpx.Client, db: Database, count: int, streams: int) -> list[float]:
    """Opens ``count`` alarms one by one; each is timed until every stream has it."""
    arrived: dict[int, list[float]] = {}
    lock = threading.Lock()
    ready = threading.Barrier(streams + 1)
    listeners = [threading.Thread(target=_listen, args=(http, arrived, lock, ready, count),
                                  daemon=True) for _ in range(streams)]
    for t in listeners:
        t.start()
    ready.wait(30)
    committed: dict[int, float] = {}
    for i in range(count):
        with db.transaction() as s:
            alarm = alarms.open_alarm(s, kind=AlarmKind.MISMATCH, reason=f"timed {i}")
        committed[alarm.id] = time.perf_counter()
        time.sleep(0.13)  # off the poll's beat, so arrivals sample its whole period
    for t in listeners:
        t.join(30)
    return [(at - committed[i]) * 1000 for i, ats in arrived.items() for at in ats]


def _listen(http: httpx.Client, arrived: dict[int, list[float]], lock: threading.Lock,
            ready: threading.Barrier, count: int) -> None:
    seen = 0
    with http.stream("GET", "/api/alarms/stream") as r:
        event = ""
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "ready":
                ready.wait(30)
            elif line.startswith("data: ") and event == "alarm":
                at = time.perf_counter()
                with lock:
                    arrived.setdefault(json.loads(line[6:])["id"], []).append(at)
                seen += 1
                if seen == count:
                    return


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "p50": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "max": ordered[-1],
    }
