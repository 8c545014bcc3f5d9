"""The whole platform as a council's developer first meets it: `inclusion up`, one process, no
servers. A school sends a pupil's roll entry, registers and a CME referral; cme-tracker opens the
case; reporting counts it; the platform stops and starts again and everything is still there.

The pupil's name, UPN and address are distinctive, and the platform runs at DEBUG: afterwards
no log line of any service may contain them (issue 10, personal data). Every read and write of
the child's record leaves an audit row in the service that did it.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from inclusion_kit.auth import Role, mint_token
from inclusion_kit.calendar import load_calendar, london_today
from inclusion_kit.pupils import upn_check_letter
from inclusion_kit.settings import AuthSettings

from .test_inclusion_up import SERVICES, free_port_block, wait_ready

BODY = "886200099123"
UPN = upn_check_letter(BODY) + BODY
FORENAME, SURNAME = "Zephyrine", "Quillfeather-Oyelaran"
STREET, POSTCODE = "47 Marigold Crescent", "CT99 9ZZ"
DOB = "2013-06-17"
PERSONAL = [UPN, FORENAME, SURNAME, STREET, "Marigold", POSTCODE, DOB]


def last_school_day() -> date:
    calendar = load_calendar("886")
    day = london_today() - timedelta(days=1)
    while not calendar.is_school_day(day):
        day -= timedelta(days=1)
    return day


@dataclass
class Platform:
    data_dir: Path
    port: int
    log: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    seen: dict[str, Any] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port + SERVICES.index(service)}"

    def start(self) -> None:
        handle = self.log.open("ab")
        process = subprocess.Popen(
            [
                "inclusion",
                "up",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.port),
                "--demo",
                "tiny",
                "--log-level",
                "DEBUG",
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=_env(),
        )
        self.processes.append(process)
        wait_ready(self.port, process, timeout=120)  # type: ignore[arg-type]

    def stop(self) -> None:
        process = self.processes[-1]
        process.terminate()
        assert process.wait(timeout=60) == 0


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}


def until(what: str, probe: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    base = tmp_path_factory.mktemp("platform")
    p = Platform(base / "data", free_port_block(len(SERVICES) + 1), base / "inclusion-up.log")
    auth = AuthSettings()
    school = {
        "Authorization": "Bearer "
        + mint_token(auth, subject="mis-118000", roles=[Role.SCHOOL], urns=["118000"])
    }
    officer = {"Authorization": "Bearer " + mint_token(auth, subject="officer-7", roles=[Role.OFFICER])}
    manager = {"Authorization": "Bearer " + mint_token(auth, subject="manager-1", roles=[Role.MANAGER])}
    p.start()
    try:
        until("the demo county", lambda: (p.data_dir / "demo-loaded").exists(), timeout=180)

        def cme_report() -> dict[str, Any]:
            return dict(httpx.get(f"{p.url('reporting')}/reports/cme", headers=manager).json())

        def opened() -> int:
            rows = cme_report()["rows"]
            return int(rows[0]["cases_opened"]) if rows else 0

        def cases_in_tracker() -> int:
            page = httpx.get(f"{p.url('cme-tracker')}/cases", headers=officer, params={"limit": 1000}).json()
            return len(page["items"])

        # The demo's own cases have reached reporting (events travel on the embedded bus).
        until(
            "the demo's cases in reporting", lambda: cases_in_tracker() > 0 and opened() == cases_in_tracker()
        )
        opened_before = opened()
        day = last_school_day()
        pupil = {
            "upn": UPN,
            "forename": FORENAME,
            "surname": SURNAME,
            "date_of_birth": DOB,
            "sex": "F",
            "year_group": "7",
            "on_roll_from": (day - timedelta(days=30)).isoformat(),
            "sen_provision": "K",
            "fsm_periods": [{"start": "2024-01-08"}],
        }
        roll = httpx.post(
            f"{p.url('referral-api')}/roll/schools/118000/pupils",
            content=json.dumps(pupil).encode(),
            headers={**school, "content-type": "application/x-ndjson"},
        )
        assert roll.status_code == 200 and roll.json()["added"] == 1, roll.text
        marks = "\n".join(
            json.dumps({"upn": UPN, "date": day.isoformat(), "session": s, "code": "N"}) for s in ("AM", "PM")
        )
        sent = httpx.post(
            f"{p.url('referral-api')}/attendance/schools/118000/marks",
            content=marks.encode(),
            headers={**school, "content-type": "application/x-ndjson"},
        )
        assert sent.status_code == 200 and sent.json()["accepted"] == 2, sent.text
        referral = httpx.post(
            f"{p.url('referral-api')}/referrals",
            headers={**school, "Idempotency-Key": "journey-1"},
            json={
                "kind": "child_missing_education",
                "child": {
                    "upn": UPN,
                    "forename": FORENAME,
                    "surname": SURNAME,
                    "date_of_birth": DOB,
                    "address": {"line1": STREET, "town": "Dover", "postcode": POSTCODE},
                },
                "referrer": {"school_urn": "118000"},
                "school_urn": "118000",
                "missing_education": {"last_attended_on": day.isoformat()},
            },
        )
        assert referral.status_code == 201, referral.text
        referral_id = referral.json()["id"]

        def case() -> dict[str, Any] | None:
            page = httpx.get(f"{p.url('cme-tracker')}/cases", headers=officer, params={"limit": 1000}).json()
            return next((c for c in page["items"] if c.get("source_id") == referral_id), None)

        found = until("the CME case", case)
        detail = httpx.get(f"{p.url('cme-tracker')}/cases/{found['id']}", headers=officer)
        assert detail.status_code == 200
        until(
            "reporting to count the case",
            lambda: cme_report()["rows"][0]["cases_opened"] == opened_before + 1,
        )
        p.seen.update(
            referral=referral.json(),
            case=found,
            opened_before=opened_before,
            cme_report=cme_report(),
            headers={"school": school, "officer": officer, "manager": manager},
        )
        p.stop()
        p.start()
        p.seen["after_restart"] = {
            "referral": httpx.get(f"{p.url('referral-api')}/referrals/{referral_id}", headers=school),
            "case": httpx.get(f"{p.url('cme-tracker')}/cases/{found['id']}", headers=officer),
            "cme_report": cme_report(),
        }
        p.stop()
        yield p
    finally:
        for process in p.processes:
            if process.poll() is None:
                process.kill()


def test_a_cme_referral_becomes_a_case_and_is_counted(platform: Platform) -> None:
    case = platform.seen["case"]
    assert case["status"] == "open" and case["school"]["urn"] == "118000"
    assert case["child_ref"] == platform.seen["referral"]["child_ref"]
    assert platform.seen["cme_report"]["rows"][0]["cases_opened"] == platform.seen["opened_before"] + 1


def test_everything_is_still_there_after_a_restart(platform: Platform) -> None:
    after = platform.seen["after_restart"]
    assert after["referral"].status_code == 200
    assert after["referral"].json()["id"] == platform.seen["referral"]["id"]
    assert after["case"].status_code == 200 and after["case"].json()["id"] == platform.seen["case"]["id"]
    assert after["cme_report"]["rows"] == platform.seen["cme_report"]["rows"]
    assert platform.log.read_text(errors="replace").count("Loading the demo county") == 1  # loaded once


def test_no_log_line_holds_the_childs_personal_data(platform: Platform) -> None:
    lines = platform.log.read_text(errors="replace").splitlines()
    assert len(lines) > 50  # the platform ran at DEBUG and said things
    leaks = [(value, line[:200]) for line in lines for value in PERSONAL if value.lower() in line.lower()]
    assert leaks == []


def test_every_service_that_touched_the_child_audited_it(platform: Platform) -> None:
    child_ref = platform.seen["referral"]["child_ref"]
    audited = {}
    for service in ("referral-api", "cme-tracker"):
        with sqlite3.connect(platform.data_dir / f"{service}.db") as db:
            audited[service] = db.execute(
                "SELECT action, resource_type FROM audit_log WHERE child_ref = ?", (child_ref,)
            ).fetchall()
    assert ("create", "referral") in audited["referral-api"]
    assert ("create", "attendance") in audited["referral-api"]
    assert ("read", "referral") in audited["referral-api"]  # the read after the restart
    assert any(action == "read" for action, _ in audited["cme-tracker"])
