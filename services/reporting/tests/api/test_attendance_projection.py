"""The attendance read models against a reference worked out mark by mark, on SQLite and on
PostgreSQL (where a batch is one set-based statement), whatever the batching and the order.

The reference is the rule itself: an enrolment's counters for a period are the sum over its marks
of the mark's counters minus those of the code it corrects; the school's row is the sum of its
enrolments' counters, with the enrolments counted (possible > 0), persistent (>= 10%) and severe
(>= 50%) judged on each enrolment's final counters. The projection keeps the school rows up to
date by how each batch moved each enrolment, so this checks that every move was counted once."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select, text

from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.messaging.dispatch import Delivery, Failure
from reporting.adapters.orm import COUNTERS
from reporting.adapters.repository import Generations
from reporting.bootstrap import context
from reporting.domain.model import (
    AEA,
    AUTHORISED,
    PRESENT,
    UNAUTHORISED,
    PeriodIndex,
    SessionCounts,
    is_persistent,
    is_severe,
    mark_counters,
)
from reporting.service_layer.rebuild import rebuild_dispatcher
from tests.events import CALENDAR, PRIMARY_A, PRIMARY_B, SECONDARY, marks, school, school_days, upn

from .conftest import Api

# Both databases, except where SQLite cannot be asked (two writers at once): such a test runs on
# PostgreSQL only, rather than being collected for SQLite and skipped.
BOTH = pytest.mark.parametrize("api", ["sqlite", "postgresql"], indirect=True)
POSTGRESQL = pytest.mark.parametrize("api", ["postgresql"], indirect=True)

Mark = tuple[date, str, str, str | None]
# Codes of every kind: present, late, AEA, authorised, unauthorised, not counted, unknown in 2024.
CODES = ["/", "\\", "/", "\\", "L", "B", "I", "M", "N", "O", "G", "U", "D", "X", "H"]


def _reference(
    history: list[tuple[int, dict[str, Any], list[Mark]]],
) -> tuple[dict[Any, Any], dict[Any, Any]]:
    periods = PeriodIndex(CALENDAR)
    enrolment: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0] * len(COUNTERS))
    for n, where, codes in history:
        for day, _session, code, previous in codes:
            new = mark_counters(code, "2024")
            old = mark_counters(previous, "2024") if previous else (0,) * len(COUNTERS)
            for period in periods.keys_for(day):
                row = enrolment[(where["urn"], upn(1000 + n), period)]
                for i in range(len(COUNTERS)):
                    row[i] += new[i] - old[i]
    schools: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(COUNTERS) + 3))
    for (urn, _pupil, period), values in enrolment.items():
        row = schools[(urn, period)]
        for i, value in enumerate(values):
            row[i] += value
        counts = SessionCounts(values[PRESENT], values[AEA], values[AUTHORISED], values[UNAUTHORISED])
        row[len(COUNTERS)] += int(counts.possible > 0)
        row[len(COUNTERS) + 1] += int(is_persistent(counts))
        row[len(COUNTERS) + 2] += int(is_severe(counts))
    return dict(enrolment), dict(schools)


def _history(seed: int) -> list[tuple[int, dict[str, Any], list[Mark]]]:
    """Register submissions and corrections for 30 pupils over two half-terms: a day or a week at
    a time (a week is more marks than the projection keeps worked out), corrections of earlier
    marks (some moving a pupil across the 10% and 50% lines and back), a pupil at two schools."""
    rng = random.Random(seed)
    days = school_days(date(2025, 10, 13), 4) + school_days(date(2025, 11, 3), 6)  # autumn-1 and -2
    history: list[tuple[int, dict[str, Any], list[Mark]]] = []
    recorded: dict[tuple[int, str], dict[tuple[date, str], str]] = defaultdict(dict)
    for n in range(30):
        where = [PRIMARY_A, PRIMARY_B, SECONDARY][n % 3]
        places = [where] + ([PRIMARY_B] if n == 0 else [])
        for place in places:
            sent = recorded[(n, place["urn"])]
            i = 0
            while i < len(days):
                span = days[i : i + (5 if rng.random() < 0.3 else 1)]
                i += len(span)
                batch = []
                for day in span:
                    for session in ("AM", "PM"):
                        code = rng.choice(CODES)
                        sent[(day, session)] = code
                        batch.append((day, session, code, None))
                history.append((n, place, batch))
            for _ in range(rng.randrange(4)):
                (day, session), old = rng.choice(sorted(sent.items()))
                new = rng.choice([c for c in CODES if c != old])
                sent[(day, session)] = new
                history.append((n, place, [(day, session, new, old)]))
    # Moves across the lines and back: pupil 29 absent for half the sessions, then corrected.
    whole = [(d, s) for d in days[:2] for s in ("AM", "PM")]
    history.append((29, SECONDARY, [(d, s, "N" if k < 2 else "/", None) for k, (d, s) in enumerate(whole)]))
    history.append((29, SECONDARY, [(d, s, "/", "N") for d, s in whole[:2]]))
    history.append((29, SECONDARY, [(d, s, "O", "/") for d, s in whole[2:]]))
    # A correction repeated code for code (no change) still leaves the row as it was.
    history.append((29, SECONDARY, [(whole[0][0], whole[0][1], "/", "/")]))
    return history


def _envelopes(history: list[tuple[int, dict[str, Any], list[Mark]]]) -> list[Envelope]:
    return [marks(1000 + n, where, codes) for n, where, codes in history]


async def _tables(api: Api) -> tuple[dict[Any, Any], dict[Any, Any]]:
    async with api.kernel.uow() as uow:
        generations = Generations(uow.session)
        active = await generations.active()
        assert active is not None
        pt = generations.tables(active)
        ae, sch = pt.attendance_enrolment, pt.attendance_school
        enrolment = {
            (r["school_urn"], r["upn"], r["period"]): [r[c] for c in COUNTERS]
            for r in (await uow.session.execute(select(ae))).mappings()
        }
        schools = {
            (r["school_urn"], r["period"]): [r[c] for c in (*COUNTERS, "enrolments", "persistent", "severe")]
            for r in (await uow.session.execute(select(sch))).mappings()
        }
    return enrolment, schools


@pytest.mark.parametrize(("seed", "batch"), [(1, 500), (2, 7), (3, 1)])
@BOTH
async def test_counters_equal_the_mark_by_mark_reference_whatever_the_batching(
    api: Api, seed: int, batch: int
) -> None:
    history = _history(seed)
    envelopes = _envelopes(history)
    await api.feed(envelopes, batch=batch)
    await api.feed(envelopes[:40], batch=batch)  # redelivered: the inbox drops them
    enrolment, schools = _reference(history)
    got_enrolment, got_schools = await _tables(api)
    assert got_enrolment == enrolment
    assert got_schools == schools
    # The reference moved pupils across the lines, so the figures above are not trivially zero.
    assert sum(v[len(COUNTERS) + 1] for v in schools.values()) > 0
    assert sum(v[len(COUNTERS) + 2] for v in schools.values()) > 0


@BOTH
async def test_corrections_before_their_marks_and_in_the_same_batch_count_once(api: Api) -> None:
    """Order-tolerant: a correction that arrives before the mark it corrects leaves the counters
    briefly below zero, and the figures come right when the mark arrives, in one batch or two."""
    days = school_days(date(2025, 9, 8), 3)
    first = [(d, s, "N", None) for d in days for s in ("AM", "PM")]
    fix = [(d, s, "/", "N") for d in days for s in ("AM", "PM")][:4]
    history = [(0, PRIMARY_A, fix), (0, PRIMARY_A, first), (1, PRIMARY_A, first), (1, PRIMARY_A, fix)]
    envelopes = _envelopes(history)
    await api.feed(envelopes[:1])
    await api.feed(envelopes[1:])
    enrolment, schools = _reference(history)
    got_enrolment, got_schools = await _tables(api)
    assert got_enrolment == enrolment
    assert got_schools == schools
    year = schools[("118000", "2025/26")]
    # Both pupils: 2 of 6 sessions absent (33%): persistent, not severe.
    assert year[len(COUNTERS) :] == [2, 2, 0]


@BOTH
async def test_the_school_dimension_is_rewritten_only_when_it_changes(api: Api) -> None:
    days = school_days(date(2025, 9, 8), 2)
    renamed = school("118000", "primary", "Tonbridge and Malling")
    await api.feed([marks(1, PRIMARY_A, [(days[0], "AM", "/", None)])])
    before = await _school_row(api)
    await api.feed([marks(2, PRIMARY_A, [(days[0], "AM", "/", None)])])
    assert await _school_row(api) == before  # the same values: the row was left alone
    await api.feed([marks(3, renamed, [(days[1], "AM", "/", None)])])
    after = await _school_row(api)
    assert after["district"] == "Tonbridge and Malling" and after["phase"] == "primary"


async def _school_row(api: Api) -> dict[str, Any]:
    async with api.kernel.uow() as uow:
        generations = Generations(uow.session)
        active = await generations.active()
        assert active is not None
        pt = generations.tables(active)
        row = dict((await uow.session.execute(select(pt.schools))).mappings().one())
        if uow.dialect == "postgresql":
            # The row version: unchanged when an upsert left the row alone.
            row["xmin"] = await uow.session.scalar(
                text(f'SELECT xmin::text FROM "{pt.schema}"."schools" WHERE urn = :urn'), {"urn": row["urn"]}
            )
        return row


@POSTGRESQL
async def test_the_live_consumer_and_a_rebuild_feeding_one_generation_at_once_count_each_event_once(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """Around a switch the live consumer and the rebuild both feed the new generation, in
    transactions of their own at the same time, with overlapping events: every event counts once
    (the ledger), no deadlock (rows are written in key order), and the schools' figures follow the
    enrolments' (each row's move judged on what the statement found, whoever wrote before it)."""
    caplog.set_level(logging.INFO, logger="inclusion_kit.messaging.dispatch")
    history = _history(7)
    envelopes = _envelopes(history)
    live = api.kernel.dispatchers()[0]
    async with api.kernel.uow() as uow:
        generation = await Generations(uow.session).ensure_active()
        await uow.commit()
    other = rebuild_dispatcher(api.kernel, context(api.settings), generation)
    deliveries = [Delivery(e) for e in envelopes]
    step = 60
    for start in range(0, len(deliveries), step):
        ours = deliveries[start : start + step]
        theirs = deliveries[max(0, start - step // 2) : start + step // 2][::-1]
        results = await asyncio.gather(live.process_batch(ours), other.process_batch(theirs))
        assert not [r for part in results for r in part if isinstance(r, Failure)]
    await other.process_batch(deliveries)  # the rebuild's last pass: everything it had not seen
    # Each batch went through whole: no deadlock or conflict sent one back to one-by-one.
    assert not [r for r in caplog.records if r.getMessage().startswith("batch failed")]
    enrolment, schools = _reference(history)
    got_enrolment, got_schools = await _tables(api)
    assert got_enrolment == enrolment
    assert got_schools == schools
