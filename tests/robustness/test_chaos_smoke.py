"""bench/chaos.py as a smoke test: half a minute of writes through real `api` and `worker`
processes while they are SIGKILLed and the broker and the database restart, then the end-to-end
reconciliation (every acknowledged write stored once, every event applied once by every consumer,
outboxes empty, lag 0, no dead letters).

The bench brings its own PostgreSQL (initdb) and Kafka broker on free ports and removes them
afterwards: it needs the binaries and jars `deploy/local/up.sh` installs, not the shared servers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_chaos_smoke_reconciles_every_write_and_event() -> None:
    command = [
        sys.executable,
        str(ROOT / "bench" / "chaos.py"),
        "--minutes",
        "0.5",
        "--kill-interval",
        "6",
        "--seed",
        "1",
        "--pg-port",
        "0",
        "--kafka-port",
        "0",
        "--kafka-controller-port",
        "0",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    report = done.stdout[-8000:] + "\n" + done.stderr[-3000:]
    assert done.returncode == 0, report
    assert "== PASS" in done.stdout, report
