"""`inclusion up` starts every service in one process without servers, stops cleanly on SIGTERM,
and starts again on the same data."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

SERVICES = ["referral-api", "cme-tracker", "exclusions", "enforcement", "reporting"]


def free_port_block(count: int) -> int:
    for base in range(20000, 60000, 97):
        sockets = []
        try:
            for offset in range(count):
                s = socket.socket()
                s.bind(("127.0.0.1", base + offset))
                sockets.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free ports")


def start(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inclusion_platform.cli",
            "up",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--demo",
            "tiny",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def wait_ready(port: int, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, (
            f"inclusion up exited early: {process.stdout.read() if process.stdout else ''}"
        )
        try:
            if all(
                httpx.get(f"http://127.0.0.1:{port + i}/readyz", timeout=2).status_code == 200
                for i in range(len(SERVICES))
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("services did not become ready")


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    return output


def test_inclusion_up_serves_every_service_and_restarts_on_the_same_data(tmp_path: Path) -> None:
    port = free_port_block(len(SERVICES) + 1)  # the five services and the portal
    process = start(tmp_path, port)
    try:
        wait_ready(port, process)
        for i, name in enumerate(SERVICES):
            health = httpx.get(f"http://127.0.0.1:{port + i}/healthz").json()
            assert health == {"status": "ok", "service": name}
            assert httpx.get(f"http://127.0.0.1:{port + i}/openapi.json").status_code == 200
    finally:
        output = stop(process)
    for name in SERVICES:
        assert name in output
        assert (tmp_path / f"{name}.db").exists()
    assert "officer: ey" in output  # a ready token per role

    again = start(tmp_path, port)
    try:
        wait_ready(port, again)
    finally:
        stop(again)
