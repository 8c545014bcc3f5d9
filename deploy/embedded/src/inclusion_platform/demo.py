"""The demo county: a deterministic, realistic county generated from a seed and sent through the
services' public REST APIs, exactly as schools' MIS and officers would send it.

It works against ``inclusion up`` (embedded) and against a real deployment alike: every write
goes over HTTP with a bearer token for the role that would make it. Nothing is written to a
database directly, so what the demo shows is what the platform does with real traffic.

What it makes (DOMAIN.md §10: LA 886, twelve districts):

- schools: a GIAS-style CSV (primary, secondary, special, PRU) imported by an admin;
- pupils: each school's roll with year groups for its phase and census characteristics in
  realistic proportions (FSM eligibility periods, SEN support and EHC plans, looked-after,
  child in need, Gypsy/Roma/Traveller heritage);
- attendance: AM and PM marks for every school day from the start of the academic year to the
  last school day before today. Each pupil has an absence propensity: most attend well, a tail is
  persistently absent, a few severely, and some *drift*: their absence grows week by week, so
  early-warning rules have someone to find;
- referrals of every kind, deletion returns (ground (i) after joint enquiries, ground (f) home
  education, ground (a) moving school) and new-pupil returns that place some of the missing.

Every step is idempotent at the API level (roll imports and marks repeat as "unchanged"; referrals
carry an Idempotency-Key derived from the seed), so running the demo twice does not double it.
"""

from __future__ import annotations

import csv
import io
import json
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TextIO

import httpx

from inclusion_kit.calendar import SchoolCalendar, load_calendar
from inclusion_kit.codes import Regime, regime_for
from inclusion_kit.pupils import upn_check_letter

LA_CODE = "886"
DISTRICTS = [
    "Ashford",
    "Canterbury",
    "Dartford",
    "Dover",
    "Folkestone and Hythe",
    "Gravesham",
    "Maidstone",
    "Sevenoaks",
    "Swale",
    "Thanet",
    "Tonbridge and Malling",
    "Tunbridge Wells",
]
FORENAMES = [
    "Alex", "Sam", "Jordan", "Riley", "Charlie", "Jamie", "Taylor", "Morgan", "Casey", "Robin",
    "Ellis", "Harper", "Rowan", "Skyler", "Quinn", "Frankie", "Remy", "Devon", "Kit", "Noor",
]  # fmt: skip
SURNAMES = [
    "Example", "Sample", "Specimen", "Demo", "Fictional", "Madeup", "Testcase", "Mockley",
    "Placeholder", "Dummy", "Notreal", "Invented",
]  # fmt: skip
ETHNICITIES = [("WBRI", 780), ("WOTH", 60), ("ABAN", 20), ("AIND", 25), ("BAFR", 30), ("MWBC", 25),
               ("CHNE", 8), ("WROM", 4), ("WIRT", 3), ("NOBT", 45)]  # fmt: skip
YEARS = {
    "primary": ["R", "1", "2", "3", "4", "5", "6"],
    "secondary": ["7", "8", "9", "10", "11"],
    "special": ["R", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"],
    "pru": ["7", "8", "9", "10", "11"],
}
GIAS_PHASE = {
    "primary": "Primary",
    "secondary": "Secondary",
    "special": "Not applicable",
    "pru": "Not applicable",
}
GIAS_TYPE = {
    "primary": "Community school",
    "secondary": "Academy converter",
    "special": "Community special school",
    "pru": "Pupil referral unit",
}
KIND_NAME = {
    "primary": "Primary School",
    "secondary": "High School",
    "special": "Special School",
    "pru": "PRU",
}
SIZE = {"primary": (180, 420), "secondary": (700, 1400), "special": (80, 160), "pru": (30, 70)}
# Absence codes by regime, weighted: what an absent session is recorded as.
ABSENT = {
    Regime.R2024: [("I", 50), ("M", 8), ("N", 9), ("O", 12), ("G", 6), ("U", 3), ("C", 4), ("E", 2)],
    Regime.R2006: [("I", 50), ("M", 8), ("N", 9), ("O", 12), ("G", 6), ("U", 3), ("C", 4), ("E", 2)],
}


@dataclass(frozen=True)
class Pupil:
    upn: str
    forename: str
    surname: str
    date_of_birth: date
    sex: str
    year_group: str
    on_roll_from: date
    absence: float  # probability that a session is missed, at the start of the year
    drift: float  # added to ``absence`` per school week
    characteristics: dict[str, Any]

    def roll_line(self) -> dict[str, Any]:
        return {
            "upn": self.upn,
            "forename": self.forename,
            "surname": self.surname,
            "date_of_birth": self.date_of_birth.isoformat(),
            "sex": self.sex,
            "year_group": self.year_group,
            "on_roll_from": self.on_roll_from.isoformat(),
            **self.characteristics,
        }


@dataclass
class School:
    urn: str
    estab: int
    name: str
    phase: str
    district: str
    pupils: list[Pupil] = field(default_factory=list)

    @property
    def laestab(self) -> str:
        return f"{LA_CODE}{self.estab:04d}"


@dataclass(frozen=True)
class Size:
    schools: int
    pupils_per_school: float  # a scale on the phase's typical size (1.0 = realistic)
    weeks: int | None  # attendance weeks back from today (None: from the start of the year)


SIZES = {
    "tiny": Size(schools=6, pupils_per_school=0.05, weeks=2),
    "small": Size(schools=24, pupils_per_school=0.1, weeks=4),
    "medium": Size(schools=60, pupils_per_school=0.25, weeks=None),
    "county": Size(schools=600, pupils_per_school=1.0, weeks=None),
}


class DemoCounty:
    """A county generated from ``seed``: the same seed gives the same county."""

    def __init__(self, size: Size, *, seed: int = 886, today: date, calendar: SchoolCalendar | None = None):
        self.size = size
        self.seed = seed
        self.today = today
        self.calendar = calendar or load_calendar(LA_CODE)
        self.rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
        self.year_start = self.calendar.academic_year_of(today).start
        self.schools = self._schools()

    # -- generation ------------------------------------------------------------------------
    def _schools(self) -> list[School]:
        rng = self.rng
        phases = ["primary"] * 80 + ["secondary"] * 15 + ["special"] * 4 + ["pru"] * 1
        schools = []
        for i in range(self.size.schools):
            phase = (
                phases[(i * 37) % len(phases)] if i >= 4 else ["primary", "secondary", "special", "pru"][i]
            )
            district = DISTRICTS[i % len(DISTRICTS)]
            school = School(
                urn=f"{118000 + i:06d}",
                estab=(2000 if phase == "primary" else 4000 if phase == "secondary" else 7000) + i,
                name=f"{district} {KIND_NAME[phase]} {i}",
                phase=phase,
                district=district,
            )
            low, high = SIZE[phase]
            count = max(4, int(rng.randint(low, high) * self.size.pupils_per_school))
            school.pupils = [self._pupil(school, n) for n in range(count)]
            schools.append(school)
        return schools

    def _pupil(self, school: School, n: int) -> Pupil:
        rng = self.rng
        years = YEARS[school.phase]
        year_group = years[n % len(years)]
        age = 5 if year_group == "R" else 5 + int(year_group)
        born = date(self.year_start.year - age - 1, 9, 1) + timedelta(days=rng.randint(0, 364))
        body = f"{LA_CODE}{school.estab % 10000:04d}{(born.year % 100):02d}{n % 1000:03d}"
        upn = upn_check_letter(body) + body
        fsm = rng.random() < 0.24
        sen = rng.choices(["N", "K", "E"], [82, 13, 5])[0]
        if school.phase == "special":
            sen = "E"
        looked_after = rng.random() < 0.006
        profile = rng.random()
        if profile < 0.70:
            absence, drift = rng.uniform(0.0, 0.06), 0.0
        elif profile < 0.86:
            absence, drift = rng.uniform(0.06, 0.10), 0.0
        elif profile < 0.93:
            absence, drift = rng.uniform(0.04, 0.08), rng.uniform(0.005, 0.015)  # drifting
        elif profile < 0.99:
            absence, drift = rng.uniform(0.10, 0.30), 0.0  # persistently absent
        else:
            absence, drift = rng.uniform(0.50, 0.80), 0.0  # severely absent
        if fsm:
            absence *= 1.4
        if sen != "N":
            absence *= 1.2
        ethnicity = rng.choices([e for e, _ in ETHNICITIES], [w for _, w in ETHNICITIES])[0]
        characteristics: dict[str, Any] = {
            "sen_provision": sen,
            "fsm_periods": [{"start": (self.year_start - timedelta(days=rng.randint(30, 900))).isoformat()}]
            if fsm
            else [],
            "looked_after": looked_after,
            "child_in_need": looked_after or rng.random() < 0.03,
            "child_protection_plan": rng.random() < 0.004,
            "ethnicity": ethnicity,
        }
        started = self.year_start if year_group in ("R", "7") else born + timedelta(days=365 * 4 + 200)
        return Pupil(
            upn=upn,
            forename=rng.choice(FORENAMES),
            surname=rng.choice(SURNAMES),
            date_of_birth=born,
            sex=rng.choice("MF"),
            year_group=year_group,
            on_roll_from=min(started, self.year_start),
            absence=min(absence, 0.95),
            drift=drift,
            characteristics=characteristics,
        )

    # -- what is sent ----------------------------------------------------------------------
    def gias_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "URN",
                "LA (code)",
                "EstablishmentNumber",
                "EstablishmentName",
                "PhaseOfEducation (name)",
                "TypeOfEstablishment (name)",
                "EstablishmentStatus (name)",
                "DistrictAdministrative (name)",
            ]
        )
        for s in self.schools:
            writer.writerow(
                [s.urn, LA_CODE, s.estab, s.name, GIAS_PHASE[s.phase], GIAS_TYPE[s.phase], "Open", s.district]
            )
        return out.getvalue()

    def school_days(self) -> list[date]:
        last = self.today - timedelta(days=1)
        first = (
            self.year_start
            if self.size.weeks is None
            else max(self.year_start, last - timedelta(weeks=self.size.weeks))
        )
        days = []
        day = first
        while day <= last:
            if self.calendar.is_school_day(day):
                days.append(day)
            day += timedelta(days=1)
        return days

    def marks(self, school: School, days: list[date]) -> Iterator[dict[str, Any]]:
        """The school's register for ``days``, deterministic per school."""
        rng = random.Random(f"{self.seed}/{school.urn}/marks")  # noqa: S311 - demo data
        for pupil in school.pupils:
            for day in days:
                week = (day - self.year_start).days // 7
                chance = min(0.97, pupil.absence + pupil.drift * week)
                regime = regime_for(day)
                for session in ("AM", "PM"):
                    mark: dict[str, Any] = {"upn": pupil.upn, "date": day.isoformat(), "session": session}
                    if rng.random() < chance:
                        codes = ABSENT[regime]
                        mark["code"] = rng.choices([c for c, _ in codes], [w for _, w in codes])[0]
                    elif rng.random() < 0.02:
                        mark["code"] = "L"
                        mark["minutes_late"] = rng.randint(2, 25)
                    else:
                        mark["code"] = "/" if session == "AM" else "\\"
                    yield mark

    def missing_children(self) -> list[tuple[School, Pupil]]:
        """Pupils whose schools report them missing (about 1 in 400), chosen from the severely
        absent so the story holds together."""
        chosen: list[tuple[School, Pupil]] = []
        for school in self.schools:
            for pupil in school.pupils:
                if pupil.absence >= 0.5 and len(chosen) < max(2, self.total_pupils // 400):
                    chosen.append((school, pupil))
        return chosen

    def excluded_pupils(self) -> list[tuple[School, Pupil, list[tuple[str, int]]]]:
        """Secondary pupils with suspension histories (kind, days): most one or two suspensions,
        some three (the repeat-suspension flag), one in thirty a permanent exclusion."""
        rng = random.Random(f"{self.seed}/exclusions")  # noqa: S311 - demo data
        chosen: list[tuple[School, Pupil, list[tuple[str, int]]]] = []
        for school in self.schools:
            if school.phase not in ("secondary", "pru"):
                continue
            for pupil in school.pupils:
                if rng.random() >= 0.03:
                    continue
                roll = rng.random()
                if roll < 0.6:
                    history = [("suspension", rng.randint(1, 3))]
                elif roll < 0.85:
                    history = [("suspension", 1), ("lunchtime", 2)]
                elif roll < 0.97:
                    history = [("suspension", 1), ("suspension", 2), ("suspension", 1)]
                else:
                    history = [("suspension", 2), ("permanent", 0)]
                chosen.append((school, pupil, history))
        return chosen

    def penalty_candidates(self) -> list[tuple[School, Pupil]]:
        """Persistently absent pupils (not the severely absent: those are missing) whose schools
        ask for penalty notices: about one in six of them."""
        rng = random.Random(f"{self.seed}/penalties")  # noqa: S311 - demo data
        return [
            (school, pupil)
            for school in self.schools
            for pupil in school.pupils
            if 0.10 <= pupil.absence < 0.5 and rng.random() < 0.17
        ]

    @property
    def total_pupils(self) -> int:
        return sum(len(s.pupils) for s in self.schools)


# -- sending -------------------------------------------------------------------------------
class DemoCancelled(Exception):
    """The demo load was asked to stop (the platform is shutting down)."""


class Progress:
    """A one-line progress bar on a terminal (plain lines otherwise). Setting :attr:`cancel`
    stops the load between two steps with :class:`DemoCancelled`."""

    def __init__(self, stream: TextIO = sys.stderr, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled
        self.tty = stream.isatty()
        self.cancel = threading.Event()

    def check(self) -> None:
        if self.cancel.is_set():
            raise DemoCancelled

    def steps(self, label: str, items: list[Any]) -> Iterator[Any]:
        total = max(1, len(items))
        started = time.monotonic()
        for index, item in enumerate(items, 1):
            self.check()
            yield item
            if self.enabled and (self.tty or index == total):
                width = 30
                filled = int(width * index / total)
                bar = "#" * filled + "-" * (width - filled)
                end = "\n" if index == total else "\r"
                self.stream.write(
                    f"  {label:<22} [{bar}] {index}/{total} {time.monotonic() - started:5.1f}s{end}"
                )
                self.stream.flush()


@dataclass
class Endpoints:
    """Base URLs of the services: one gateway for all, or one per service (embedded mode)."""

    referral_api: str
    cme_tracker: str | None = None
    exclusions: str | None = None
    enforcement: str | None = None
    reporting: str | None = None

    @classmethod
    def gateway(cls, base: str) -> Endpoints:
        return cls(base, base, base, base, base)


@dataclass
class DemoReport:
    schools: int = 0
    pupils: int = 0
    marks_accepted: int = 0
    marks_unchanged: int = 0
    referrals: int = 0
    deletions: int = 0
    admissions: int = 0
    exclusions: int = 0
    penalty_requests: int = 0
    notices_issued: int = 0
    problems: list[str] = field(default_factory=list)


class DemoLoader:
    """Sends a :class:`DemoCounty` through the public APIs with a token per role."""

    def __init__(
        self,
        county: DemoCounty,
        endpoints: Endpoints,
        token: Callable[[str, list[str]], str],
        *,
        progress: Progress | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.county = county
        self.endpoints = endpoints
        self.token = token  # (role, urns) -> bearer token
        self.progress = progress or Progress(enabled=False)
        self.timeout = timeout

    def _headers(self, role: str, urns: Iterable[str] = (), **extra: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(role, list(urns))}", **extra}

    def _check(self, response: httpx.Response, what: str, report: DemoReport) -> dict[str, Any]:
        if response.status_code >= 400:
            report.problems.append(f"{what}: {response.status_code} {response.text[:300]}")
            return {}
        return dict(response.json()) if response.content else {}

    def run(self) -> DemoReport:
        report = DemoReport()
        county = self.county
        with httpx.Client(base_url=self.endpoints.referral_api, timeout=self.timeout) as api:
            self._check(
                api.post(
                    "/schools/import",
                    content=county.gias_csv().encode(),
                    headers=self._headers("admin", **{"content-type": "text/csv"}),
                ),
                "schools import",
                report,
            )
            report.schools = len(county.schools)
            for school in self.progress.steps("rolls", county.schools):
                body = "\n".join(json.dumps(p.roll_line()) for p in school.pupils).encode()
                self._check(
                    api.post(
                        f"/roll/schools/{school.urn}/pupils",
                        content=body,
                        headers=self._headers(
                            "school", [school.urn], **{"content-type": "application/x-ndjson"}
                        ),
                    ),
                    f"roll {school.urn}",
                    report,
                )
                report.pupils += len(school.pupils)
            days = county.school_days()
            for school in self.progress.steps("attendance", county.schools):
                # A week per request, as an MIS sends its registers.
                for start in range(0, len(days), 5):
                    week = days[start : start + 5]
                    body = "\n".join(json.dumps(m) for m in county.marks(school, week)).encode()
                    result = self._check(
                        api.post(
                            f"/attendance/schools/{school.urn}/marks",
                            content=body,
                            headers=self._headers(
                                "school", [school.urn], **{"content-type": "application/x-ndjson"}
                            ),
                        ),
                        f"marks {school.urn}",
                        report,
                    )
                    report.marks_accepted += int(result.get("accepted", 0))
                    report.marks_unchanged += int(result.get("unchanged", 0))
            self._missing(api, report)
        if self.endpoints.exclusions:
            with httpx.Client(base_url=self.endpoints.exclusions, timeout=self.timeout) as exclusions:
                self._exclusions(exclusions, report)
        if self.endpoints.enforcement:
            with httpx.Client(base_url=self.endpoints.enforcement, timeout=self.timeout) as enforcement:
                self._penalties(enforcement, report)
        return report

    def _post_retrying(
        self, client: httpx.Client, path: str, body: Any, headers: dict[str, str]
    ) -> httpx.Response:
        """POST, waiting a little while the service has not yet heard of the pupil (the roll and
        the registers reach exclusions and enforcement as events, a moment after referral-api
        accepted them)."""
        response = client.post(path, json=body, headers=headers)
        for _ in range(40):
            text = response.text.lower()
            not_heard_of = response.status_code in (404, 409, 422) and (
                "roll" in text or "unknown pupil" in text
            )
            if not not_heard_of:
                break
            self._pause(0.25)
            response = client.post(path, json=body, headers=headers)
        return response

    def _exclusions(self, api: httpx.Client, report: DemoReport) -> None:
        county = self.county
        days = county.school_days()
        if len(days) < 8:
            return
        codes = ["VA", "VP", "PA", "BU", "DM", "DA"]
        for index, (school, pupil, history) in enumerate(
            self.progress.steps("exclusions", county.excluded_pupils())
        ):
            start_at = index % max(1, len(days) - 10)
            for number, (kind, length) in enumerate(history):
                day = days[min(len(days) - 1, start_at + number * 4)]
                body: dict[str, Any] = {
                    "school_urn": school.urn,
                    "upn": pupil.upn,
                    "kind": kind,
                    "start_date": day.isoformat(),
                    "reason_codes": [codes[(index + number) % len(codes)]],
                    "sen_provision": pupil.characteristics["sen_provision"],
                    "ehc_plan": pupil.characteristics["sen_provision"] == "E",
                    "fsm_eligible": bool(pupil.characteristics["fsm_periods"]),
                    "looked_after": pupil.characteristics["looked_after"],
                    "child_in_need": pupil.characteristics["child_in_need"],
                    "child_protection_plan": pupil.characteristics["child_protection_plan"],
                    "parents_notified_at": f"{day.isoformat()}T15:30:00+00:00",
                }
                if kind == "suspension":
                    body["length_days"] = length
                elif kind == "lunchtime":
                    body["lunchtimes"] = length
                headers = self._headers(
                    "school",
                    [school.urn],
                    **{"idempotency-key": f"demo-{county.seed}-exc-{pupil.upn}-{number}"},
                )
                result = self._check(
                    self._post_retrying(api, "/exclusions", body, headers), f"exclusion {school.urn}", report
                )
                report.exclusions += bool(result)
                if result and kind == "permanent":
                    self._check(
                        api.post(
                            f"/exclusions/{result['id']}/provision",
                            json={"provider": "North Kent PRU", "starts_on": day.isoformat()},
                            headers=self._headers("officer"),
                        ),
                        f"provision {result['id']}",
                        report,
                    )

    def _has_position(self, api: httpx.Client, urn: str, upn: str, timeout: float = 120.0) -> bool:
        """Wait until enforcement holds the pupil's attendance position: registers reach it as
        events, and in embedded mode a county's worth takes a while to apply."""
        deadline = time.monotonic() + timeout
        year = self.county.calendar.academic_year_of(self.county.today).label
        while time.monotonic() < deadline:
            response = api.get(
                f"/positions/schools/{urn}/pupils/{upn}",
                params={"academic_year": year},
                headers=self._headers("officer"),
            )
            if response.status_code == 200:
                return True
            self._pause(0.5)
        return False

    def _pause(self, seconds: float) -> None:
        """Sleep, but wake and stop at once when the load is cancelled."""
        self.progress.cancel.wait(seconds)
        self.progress.check()

    def _penalties(self, api: httpx.Client, report: DemoReport) -> None:
        county = self.county
        days = county.school_days()
        if len(days) < 10:
            return
        wait = 120.0
        for index, (school, pupil) in enumerate(
            self.progress.steps("penalty notices", county.penalty_candidates())
        ):
            body = {
                "school_urn": school.urn,
                "upn": pupil.upn,
                "offence_type": "irregular_attendance",
                "period_start": days[0].isoformat(),
                "period_end": days[-1].isoformat(),
                "notice_to_improve_issued_on": days[min(4, len(days) - 1)].isoformat(),
                "parents": [
                    {
                        "forename": FORENAMES[(index + 3) % len(FORENAMES)],
                        "surname": pupil.surname,
                        "relationship": "mother" if index % 2 else "father",
                        "address": {
                            "line1": f"{index + 1} Demo Close",
                            "town": school.district,
                            "postcode": f"ME{1 + index % 20} {index % 10}ZZ",
                        },
                    }
                ],
                "evidence": {"summary": "Registers and the notice to improve attached."},
            }
            if not self._has_position(api, school.urn, pupil.upn, timeout=wait):
                report.problems.append(
                    f"penalty request {school.urn}: enforcement has no attendance for the pupil"
                )
                wait = 1.0  # enforcement is behind or stuck: don't wait that long for every pupil
                continue
            headers = self._headers(
                "school", [school.urn], **{"idempotency-key": f"demo-{county.seed}-pn-{pupil.upn}"}
            )
            created = self._check(
                self._post_retrying(api, "/penalty-requests", body, headers),
                f"penalty request {school.urn}",
                report,
            )
            if not created:
                continue
            report.penalty_requests += 1
            decided = self._check(
                api.post(
                    f"/penalty-requests/{created['id']}/decision", json={}, headers=self._headers("officer")
                ),
                f"decision {created['id']}",
                report,
            )
            for parent in decided.get("parents", []):
                if parent.get("outcome") != "eligible" or index % 3 == 2:
                    continue  # declined by the rules, or the notice not issued yet
                issued = self._check(
                    api.post(
                        f"/penalty-requests/{created['id']}/notices",
                        json={"parent_ref": parent["parent_ref"], "service_method": "hand"},
                        headers=self._headers(
                            "officer", **{"idempotency-key": f"demo-{county.seed}-pn-{parent['parent_ref']}"}
                        ),
                    ),
                    f"notice {created['id']}",
                    report,
                )
                report.notices_issued += bool(issued)

    def _missing(self, api: httpx.Client, report: DemoReport) -> None:
        """Referrals and roll changes: children missing education, some found and placed."""
        county = self.county
        days = county.school_days()
        if len(days) < 2:
            return
        missing = county.missing_children()
        for index, (school, pupil) in enumerate(self.progress.steps("referrals", missing)):
            last_seen = days[max(0, len(days) - 8)]
            body = {
                "kind": "child_missing_education",
                "child": {
                    "upn": pupil.upn,
                    "forename": pupil.forename,
                    "surname": pupil.surname,
                    "date_of_birth": pupil.date_of_birth.isoformat(),
                    "address": {"line1": f"{index + 1} Demo Road", "town": school.district},
                },
                "referrer": {"school_urn": school.urn},
                "school_urn": school.urn,
                "summary": "Not seen for over a week; family not answering.",
                "missing_education": {"last_attended_on": last_seen.isoformat()},
            }
            key = f"demo-{county.seed}-cme-{pupil.upn}"
            self._check(
                api.post(
                    "/referrals",
                    json=body,
                    headers=self._headers("school", [school.urn], **{"idempotency-key": key}),
                ),
                f"referral {school.urn}",
                report,
            )
            report.referrals += 1
            # Every third is found at another school, which sends its new-pupil return.
            if index % 3 == 0 and len(county.schools) > 1:
                new_school = county.schools[(county.schools.index(school) + 1) % len(county.schools)]
                admitted = days[-1]
                result = self._check(
                    api.post(
                        "/roll-changes/admissions",
                        json={
                            "school_urn": new_school.urn,
                            "child": {
                                "upn": pupil.upn,
                                "forename": pupil.forename,
                                "surname": pupil.surname,
                                "date_of_birth": pupil.date_of_birth.isoformat(),
                            },
                            "starting_day": admitted.isoformat(),
                            "entered_on": admitted.isoformat(),
                            "year_group": pupil.year_group,
                            "previous_school_urn": school.urn,
                        },
                        headers=self._headers(
                            "school",
                            [new_school.urn],
                            **{"idempotency-key": f"demo-{county.seed}-adm-{pupil.upn}"},
                        ),
                    ),
                    f"admission {new_school.urn}",
                    report,
                )
                report.admissions += bool(result)


def demo_tokens(auth: Any) -> Callable[[str, list[str]], str]:
    """Mint a short-lived token per (role, URNs) with ``auth``'s signing key, cached."""
    from inclusion_kit.auth import Role, mint_token

    cache: dict[tuple[str, tuple[str, ...]], str] = {}

    def token(role: str, urns: list[str]) -> str:
        key = (role, tuple(urns))
        if key not in cache:
            cache[key] = mint_token(
                auth,
                subject="-".join(["demo", role, *urns]),  # a school's MIS is its own client
                roles=[Role(role)],
                urns=urns,
                ttl=timedelta(hours=2),
            )
        return cache[key]

    return token
