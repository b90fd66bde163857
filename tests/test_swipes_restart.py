"""A verifier killed mid-verification: its swipe is verified once after the claim runs out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from swipeguard.alarms.models import Alarm
from swipeguard.api.app import create_app
from swipeguard.config import Settings
from swipeguard.db import Database, utcnow
from swipeguard.swipes import service
from swipeguard.swipes.models import Capture, Swipe, SwipeState, Verdict
from swipeguard.swipes.workers import Verifier
from swipes_support import add_holder, add_till, jpeg_of, lfw, lfw_people, swipe_body

# The doomed verifier: a real verifier process that says when it has claimed a swipe and
# started verifying it (and then spends a second or more starting its face pool).
DOOMED = """
import os, sys
from pathlib import Path
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.swipes import flows
from swipeguard.swipes.workers import Verifier

def main():
    settings = Settings(data_dir=Path(sys.argv[1]), secret_key="test-secret")
    marker = Path(sys.argv[2])
    real_verify = flows.verify

    def verify(*args, **kwargs):
        marker.write_text(str(os.getpid()))
        return real_verify(*args, **kwargs)

    flows.verify = verify
    Verifier(settings, Database(settings.resolved_database_url), worker_id="doomed",
             concurrency=1).drain()

if __name__ == "__main__":
    main()
"""


def _start_doomed(tmp_path: Path, data_dir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    script, marker = tmp_path / "doomed.py", tmp_path / "verifying"
    script.write_text(DOOMED)
    proc = subprocess.Popen([sys.executable, str(script), str(data_dir), str(marker)],
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    return proc, marker


def _wait_for(marker: Path, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the doomed verifier exited: {proc.stderr.read()!r}")  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the doomed verifier never started verifying"
        time.sleep(0.02)


def test_a_swipe_whose_verifier_was_killed_is_verified_once_after_its_claim_runs_out(
    settings: Settings, sqlite_db: Database, data_dir: Path, tmp_path: Path, samples: Path,
) -> None:
    owner, other = lfw_people(samples, count=2)
    till = add_till(sqlite_db)
    add_holder(sqlite_db, settings, card_no="3000000001", photo=lfw(samples, owner, 1))
    with TestClient(create_app(settings, sqlite_db)) as client:
        swipe_id = client.post("/api/swipes", headers=till.headers, json=swipe_body(
            card_no="3000000001", key="r1", still=jpeg_of(lfw(samples, other, 1))),
        ).json()["swipe_id"]
    proc, marker = _start_doomed(tmp_path, data_dir)
    try:
        _wait_for(marker, proc)
        os.killpg(proc.pid, signal.SIGKILL)  # the verifier and its face pool, mid-way
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    with sqlite_db.sessions() as s:
        orphaned = s.get(Swipe, swipe_id)
        assert orphaned is not None and orphaned.state is SwipeState.CLAIMED
        assert orphaned.claimed_by == "doomed"
    now = utcnow()
    before_expiry = Verifier(settings, sqlite_db, worker_id="early", clock=lambda: now)
    expired = now + timedelta(seconds=settings.verification.claim_timeout_s + 1)
    restarted = Verifier(settings, sqlite_db, worker_id="restarted", clock=lambda: expired)

    early = before_expiry.claim(5)
    restarted.drain()
    again = restarted.drain()

    assert early == []
    assert again.claimed == 1 and again.total_decided() == 1
    with sqlite_db.transaction() as s:
        swipe = s.get(Swipe, swipe_id)
        assert swipe is not None
        assert swipe.state is SwipeState.DECIDED and swipe.verdict is Verdict.MISMATCH
        assert swipe.attempts == 2
        assert s.scalar(select(func.count(Capture.id))) == 1
        assert s.scalar(select(func.count(Alarm.id)).where(Alarm.swipe_id == swipe_id)) == 1
        assert not service.decide(s, swipe_id=swipe_id, worker="doomed",
                                  verdict=Verdict.VERIFIED, distance=0.1, threshold=0.55,
                                  reason="late", now=expired)
