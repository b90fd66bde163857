"""``swipeguard serve``: migrates, answers, and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_on_loopback_and_stops_on_sigterm(data_dir: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "swipeguard", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        health = _wait_for_health(f"http://127.0.0.1:{port}/api/health", proc)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = proc.stdout.read() if proc.stdout else ""

    assert health == {"status": "ok", "database": "sqlite"}
    assert code == 0, output
    assert (data_dir / "swipeguard.db").exists()
    assert "stopped" in output


def _wait_for_health(url: str, proc: subprocess.Popen[str]) -> dict[str, str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early: {proc.stdout.read() if proc.stdout else ''}")
        try:
            return httpx.get(url, timeout=2).json()  # type: ignore[no-any-return]
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("serve did not answer within 60 s")
