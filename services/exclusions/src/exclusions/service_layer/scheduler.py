"""The scheduled checks: deadlines that pass with nothing recorded.

* The sixth school day of an exclusion with a provision duty passes with no provision recorded:
  ``SixthDayProvisionMissed``, once per exclusion (the aggregate remembers it).
* A part-time timetable runs past its planned end, or goes the LA's review interval without a
  review; a governing board review or reconsideration passes its deadline undecided: an alert for
  officers, once per subject, kind and due date.

Time comes from the kit :class:`~inclusion_kit.clock.Clock` in the handlers' context, so a test
(or a replay) controls "today". Each exclusion is marked in its own unit of work: one failure
does not hold back the others, and a run interrupted half way is simply completed by the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from exclusions.adapters.orm import exclusions, part_time_timetables
from exclusions.domain.model import DeadlineKind
from exclusions.service_layer.handlers import Context
from exclusions.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.calendar import london_date

log = logging.getLogger(__name__)

# Board reviews and reconsiderations that pass undecided become alerts of these kinds.
_OVERDUE_DEADLINES = {
    DeadlineKind.BOARD_REVIEW.value: "board_review_overdue",
    DeadlineKind.REPRESENTATIONS_REVIEW.value: "representations_review_overdue",
    DeadlineKind.RECONSIDERATION.value: "reconsideration_overdue",
}


@dataclass
class SchedulerReport:
    today: date
    provision_missed: int = 0
    alerts_raised: int = 0


async def run_once(uow_factory: Callable[[], UnitOfWork], ctx: Context) -> SchedulerReport:
    now = ctx.clock.now()
    today = london_date(now)
    report = SchedulerReport(today)
    report.provision_missed = await _sixth_day_missed(uow_factory, today, now)
    report.alerts_raised = await _alerts(uow_factory, ctx, today, now)
    return report


async def _sixth_day_missed(uow_factory: Callable[[], UnitOfWork], today: date, now: datetime) -> int:
    t = exclusions
    async with uow_factory() as uow:
        ids = (
            await uow.session.scalars(
                select(t.c.id)
                .where(
                    t.c.sixth_day_due < today,
                    t.c.provision.is_(None),
                    t.c.withdrawn_on.is_(None),
                    t.c.provision_missed_on.is_(None),
                )
                .order_by(t.c.sixth_day_due, t.c.id)
            )
        ).all()
    missed = 0
    for exclusion_id in ids:
        async with uow_factory() as uow:
            exclusion = await uow.exclusions.get(exclusion_id)
            if exclusion is not None and exclusion.mark_provision_missed(today, now):
                await uow.commit()
                missed += 1
    return missed


def _alert(kind: str, subject_type: str, row: Any, due: date, today: date, now: datetime) -> dict[str, Any]:
    return {
        "id": "al-" + uuid.uuid4().hex[:16],
        "kind": kind,
        "subject_type": subject_type,
        "subject_id": row.id,
        "child_ref": row.child_ref,
        "school_urn": row.school_urn,
        "due_on": due,
        "raised_on": today,
        "updated_at": now,
    }


async def _alerts(uow_factory: Callable[[], UnitOfWork], ctx: Context, today: date, now: datetime) -> int:
    p, e = part_time_timetables, exclusions
    async with uow_factory() as uow:
        running = (
            await uow.session.execute(
                select(p.c.id, p.c.child_ref, p.c.school_urn, p.c.planned_end_on, p.c.review_due).where(
                    p.c.ended_on.is_(None), (p.c.planned_end_on < today) | (p.c.review_due < today)
                )
            )
        ).all()
        rows: list[dict[str, Any]] = []
        for r in running:
            if r.planned_end_on < today:
                rows.append(
                    _alert(
                        "part_time_past_planned_end", "part_time_timetable", r, r.planned_end_on, today, now
                    )
                )
            if r.review_due < today:
                rows.append(
                    _alert("part_time_review_overdue", "part_time_timetable", r, r.review_due, today, now)
                )
        overdue = (
            await uow.session.execute(
                select(
                    e.c.id, e.c.child_ref, e.c.school_urn, e.c.next_deadline, e.c.next_deadline_kind
                ).where(e.c.next_deadline < today, e.c.next_deadline_kind.in_(sorted(_OVERDUE_DEADLINES)))
            )
        ).all()
        for r in overdue:
            rows.append(
                _alert(_OVERDUE_DEADLINES[r.next_deadline_kind], "exclusion", r, r.next_deadline, today, now)
            )
        raised = await uow.alerts.raise_many(rows)
        await uow.commit()
    return raised


async def run_forever(
    uow_factory: Callable[[], UnitOfWork], ctx: Context, stop: asyncio.Event, interval_seconds: float
) -> None:
    """Run the checks every ``interval_seconds`` until ``stop`` is set (the worker's loop)."""
    while not stop.is_set():
        try:
            report = await run_once(uow_factory, ctx)
            log.info(
                "scheduled checks done",
                extra={"provision_missed": report.provision_missed, "alerts_raised": report.alerts_raised},
            )
        except Exception as exc:  # the next pass retries; never take the worker down
            log.error("scheduled checks failed", extra={"error": type(exc).__name__})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_seconds)
