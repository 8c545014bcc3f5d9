"""AttendanceRecorded into positions, on SQLite and on the real PostgreSQL (set-based SQL): the
same event twice and a correction leave the right counts; crossings raise their events once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from enforcement.adapters.orm import attendance_positions, attendance_terms, attendance_weeks, schools, tables
from enforcement.bootstrap import EnforcementKernel
from inclusion_kit.messaging.dispatch import Delivery, Dispatcher, Outcome
from inclusion_kit.testing.fakes import FrozenClock

from ..factories import OTHER_SCHOOL, SCHOOL, envelope, kernel_on, marks, recorded, school_days

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("kernel", ["sqlite", "postgresql"], indirect=True),
]


@pytest.fixture
async def kernel(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EnforcementKernel]:
    async for k in kernel_on(request, tmp_path):
        yield k


def dispatcher(kernel: EnforcementKernel) -> Dispatcher[Any]:
    return kernel.dispatchers()[0]


async def year(kernel: EnforcementKernel, child_ref: str = "c-0000000000000001", urn: str = "118000") -> Any:
    p = attendance_positions
    async with kernel.engine.connect() as conn:
        return (
            (await conn.execute(select(p).where(p.c.child_ref == child_ref, p.c.school_urn == urn)))
            .mappings()
            .one()
        )


async def counts(kernel: EnforcementKernel, table: Any) -> list[tuple[int, ...]]:
    async with kernel.engine.connect() as conn:
        rows = (await conn.execute(select(table))).mappings().all()
    return sorted(
        tuple(r[f] for f in ("possible", "present", "aea", "authorised", "unauthorised", "threshold"))
        for r in rows
    )


async def raised(kernel: EnforcementKernel) -> list[dict[str, Any]]:
    async with kernel.engine.connect() as conn:
        rows = (await conn.execute(select(tables.outbox).order_by(tables.outbox.c.seq))).all()
    return [json.loads(r.payload) for r in rows]


def shape(row: Any) -> tuple[int, int, int, int, int, int]:
    return (
        row["possible"],
        row["present"],
        row["aea"],
        row["authorised"],
        row["unauthorised"],
        row["threshold"],
    )


async def test_the_same_event_twice_counts_once(kernel: EnforcementKernel) -> None:
    days = school_days("2025-09-08", 5)
    event = envelope(recorded(1, marks(days[:4]) + marks(days[4:], "O")))
    d = dispatcher(kernel)
    assert await d.process(Delivery(event)) is Outcome.APPLIED
    assert await d.process(Delivery(event)) is Outcome.DUPLICATE
    assert await d.process_batch([Delivery(event), Delivery(event)]) == [Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert shape(await year(kernel)) == (10, 8, 0, 0, 2, 2)
    assert await counts(kernel, attendance_weeks) == [(10, 8, 0, 0, 2, 2)]


async def test_a_correction_replaces_the_old_mark_exactly_once(kernel: EnforcementKernel) -> None:
    days = school_days("2025-09-08", 5)
    d = dispatcher(kernel)
    await d.process(Delivery(envelope(recorded(1, marks(days[:4]) + marks(days[4:], "N")))))
    # The school finds the reason: illness (authorised). A correction carries the code it replaces.
    correction = envelope(recorded(2, marks(days[4:], "I", previous_code="N")))
    assert await d.process(Delivery(correction)) is Outcome.APPLIED
    assert await d.process(Delivery(correction)) is Outcome.DUPLICATE
    assert shape(await year(kernel)) == (10, 8, 0, 2, 0, 0)
    # A correction whose previous_code disagrees with what was counted still replaces what was
    # counted (the stored mark), never the code it names.
    await d.process(Delivery(envelope(recorded(3, marks(days[4:], "X", previous_code="O")))))
    assert shape(await year(kernel)) == (8, 8, 0, 0, 0, 0)  # X: not a possible session
    # An older event arriving late does not overwrite a newer mark.
    await d.process(Delivery(envelope(recorded(2, marks(days[4:], "G")))))
    assert shape(await year(kernel)) == (8, 8, 0, 0, 0, 0)
    assert await counts(kernel, attendance_terms) == [(8, 8, 0, 0, 0, 0)]


async def test_a_batch_equals_one_by_one_and_enrolments_are_the_unit(kernel: EnforcementKernel) -> None:
    days = school_days("2025-09-08", 3)
    first = envelope(recorded(1, marks(days, "/")))
    fix = envelope(recorded(2, marks(days[2:], "U", previous_code="/")))
    elsewhere = envelope(recorded(1, marks(days, "B"), school=OTHER_SCHOOL))  # a second enrolment
    outcomes = await dispatcher(kernel).process_batch(
        [Delivery(first), Delivery(fix), Delivery(first), Delivery(elsewhere)]
    )
    assert outcomes == [Outcome.APPLIED, Outcome.APPLIED, Outcome.DUPLICATE, Outcome.APPLIED]
    assert shape(await year(kernel)) == (6, 4, 0, 0, 2, 2)
    assert shape(await year(kernel, urn="118001")) == (6, 0, 6, 0, 0, 0)  # B: approved activity


async def test_both_regimes_through_the_code_tables(kernel: EnforcementKernel) -> None:
    summer_2024 = school_days("2024-07-08", 1)  # 2006 regime: J is attendance (AEA)
    autumn_2024 = school_days("2024-09-09", 1)  # 2024 regime: J1 is authorised absence
    d = dispatcher(kernel)
    await d.process(Delivery(envelope(recorded(1, marks(summer_2024, "J")))))
    await d.process(Delivery(envelope(recorded(2, marks(autumn_2024, "J1")))))
    async with kernel.engine.connect() as conn:
        rows = (await conn.execute(select(attendance_positions))).mappings().all()
    by_year = {r["academic_year"]: shape(r) for r in rows}
    assert by_year == {"2023/24": (2, 0, 2, 0, 0, 0), "2024/25": (2, 0, 0, 2, 0, 0)}


async def test_persistent_absence_is_raised_once_per_crossing_per_term(kernel: EnforcementKernel) -> None:
    days = school_days("2025-09-08", 12)
    d = dispatcher(kernel)
    # One early absence: 1 of 2 sessions is 50%, but below the minimum of 20 possible sessions.
    await d.process(Delivery(envelope(recorded(1, marks(days[:1], "O")))))
    assert await raised(kernel) == []
    # 9 more days present: 2 of 20 sessions absent = 10%: persistent, once.
    await d.process(Delivery(envelope(recorded(2, marks(days[1:10])))))
    events = await raised(kernel)
    assert [(e["level"], e["basis"], e["absence_percent"], e["term"]) for e in events] == [
        ("persistent", "reached", 10.0, "autumn")
    ]
    assert events[0]["possible_sessions"] == 20 and events[0]["school"]["district"] == "Maidstone"
    # Below the line and back over it in the same term: no second event.
    await d.process(Delivery(envelope(recorded(3, marks(days[10:11])))))
    await d.process(Delivery(envelope(recorded(4, marks(days[11:12], "O")))))
    assert len(await raised(kernel)) == 1
    row = await year(kernel)
    assert row["pa_reached"] is True and row["pa_event_term"] == "autumn"


async def test_a_position_corrected_below_the_minimum_sessions_is_judged_again(
    kernel: EnforcementKernel,
) -> None:
    """The PostgreSQL store judges only positions at or above the minimum of possible sessions or
    already flagged: a flagged one corrected below the minimum is still cleared, and crossing again
    in the same term raises nothing new; in the next term it does."""
    days = school_days("2025-09-08", 10)
    d = dispatcher(kernel)
    await d.process(Delivery(envelope(recorded(1, marks(days[:1], "O") + marks(days[1:])))))
    assert [(e["level"], e["term"]) for e in await raised(kernel)] == [("persistent", "autumn")]
    # The school corrects two present days to "not on roll" (X): 16 possible sessions, below 20.
    await d.process(Delivery(envelope(recorded(2, marks(days[8:], "X", previous_code="/")))))
    row = await year(kernel)
    assert (row["possible"], row["pa_reached"], row["pa_event_term"]) == (16, False, "autumn")
    # Over the minimum and the line again in the same term: flagged, no second event.
    await d.process(Delivery(envelope(recorded(3, marks(days[8:], "O", previous_code="X")))))
    row = await year(kernel)
    assert (row["possible"], row["pa_reached"]) == (20, True)
    assert len(await raised(kernel)) == 1
    # Cleared by a correction, then over the line in the spring term: a new event.
    await d.process(Delivery(envelope(recorded(4, marks(days[8:], "X", previous_code="O")))))
    assert (await year(kernel))["pa_reached"] is False
    await d.process(Delivery(envelope(recorded(5, marks(school_days("2026-01-12", 2), "O")))))
    assert [(e["level"], e["term"]) for e in await raised(kernel)] == [
        ("persistent", "autumn"),
        ("persistent", "spring"),
    ]


async def test_severe_absence_and_the_early_warning(kernel: EnforcementKernel) -> None:
    d = dispatcher(kernel)
    absent = school_days("2025-09-08", 10)
    await d.process(Delivery(envelope(recorded(1, marks(absent, "O"), child_ref="c-severe"))))
    assert {(e["level"], e["child_ref"]) for e in await raised(kernel)} == {
        ("persistent", "c-severe"),
        ("severe", "c-severe"),
    }
    # Autumn well attended (2 of 100 sessions missed); spring so far 6 of 20: year to date
    # 8/120 = 6.7%, but at this term's rate the pupil reaches 10% by the end of the spring term.
    autumn = school_days("2025-09-08", 50)
    spring = school_days("2026-01-12", 10)
    await d.process(
        Delivery(envelope(recorded(1, marks(autumn[:49]) + marks(autumn[49:], "O"), child_ref="c-w")))
    )
    await d.process(
        Delivery(envelope(recorded(2, marks(spring[:7]) + marks(spring[7:], "G"), child_ref="c-w")))
    )
    warned = [e for e in await raised(kernel) if e["child_ref"] == "c-w"]
    assert [(e["level"], e["basis"], e["term"]) for e in warned] == [("persistent", "projected", "spring")]
    assert warned[0]["absence_percent"] == round(100 * 8 / 120, 2)
    assert warned[0]["projected_percent"] >= 10.0
    # The next day's absence keeps the projection above 10%: still one warning this term.
    more = school_days("2026-01-26", 1)
    await d.process(Delivery(envelope(recorded(3, marks(more, "G"), child_ref="c-w"))))
    assert len([e for e in await raised(kernel) if e["child_ref"] == "c-w"]) == 1


async def test_unknown_codes_are_refused_not_dropped(kernel: EnforcementKernel) -> None:
    days = school_days("2025-09-08", 1)
    bad = recorded(1, marks(days, "H"))  # H was withdrawn in 2024
    result = await dispatcher(kernel).process(Delivery(envelope(bad)))
    assert not isinstance(result, Outcome) and result.reason == "permanent"
    async with kernel.engine.connect() as conn:
        assert (await conn.execute(select(attendance_positions))).first() is None


async def test_a_school_is_written_when_new_or_changed_and_left_alone_otherwise(
    kernel: EnforcementKernel,
) -> None:
    """Replicas consuming the same schools' registers at once must not queue on the school rows:
    an unchanged school is not rewritten (nor locked); a changed one is, in every batch path."""
    clock = kernel.ctx.clock
    assert isinstance(clock, FrozenClock)
    days = school_days("2025-09-08", 1)
    d = dispatcher(kernel)

    async def stored() -> list[dict[str, Any]]:
        async with kernel.engine.connect() as conn:
            rows = (await conn.execute(select(schools).order_by(schools.c.urn))).mappings().all()
        return [{**r, "updated_at": r["updated_at"].replace(tzinfo=UTC)} for r in rows]

    first_seen = clock.now()
    await d.process(Delivery(envelope(recorded(1, marks(days)))))
    clock.advance(timedelta(hours=1))
    await d.process_batch(
        [
            Delivery(envelope(recorded(1, marks(days), child_ref=f"c-{n:016x}", school=school)))
            for n, school in ((2, SCHOOL), (3, OTHER_SCHOOL), (4, SCHOOL))
        ]
    )
    rows = await stored()
    assert [(r["urn"], r["district"], r["updated_at"]) for r in rows] == [
        ("118000", "Maidstone", first_seen),  # described as before: not written again
        ("118001", "Dover", clock.now()),  # new
    ]
    clock.advance(timedelta(hours=1))
    renamed = SCHOOL.model_copy(update={"name": "Maidstone Primary", "district": "Swale"})
    await d.process_batch(
        [
            Delivery(envelope(recorded(1, marks(days), child_ref=f"c-{n:016x}", school=school)))
            for n, school in ((5, renamed), (6, OTHER_SCHOOL))
        ]
    )
    rows = await stored()
    assert [(r["urn"], r["name"], r["district"], r["updated_at"]) for r in rows] == [
        ("118000", "Maidstone Primary", "Swale", clock.now()),
        ("118001", None, "Dover", clock.now() - timedelta(hours=1)),
    ]
