"""The consumers through the kit's Dispatcher on SQLite: idempotent, matching the child, closing the
loop, the EHE register, the off-rolling facts, and the review job under a controllable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cme_tracker.adapters.orm import cme_case_history, cme_cases, ehe_registrations, roll_deletions, tables
from cme_tracker.bootstrap import bootstrap, context
from cme_tracker.config import Settings
from cme_tracker.service_layer.handlers import Context, check_reviews
from cme_tracker.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.messaging.dispatch import Dispatcher, Outcome
from inclusion_kit.service import ServiceKernel
from inclusion_kit.testing.fakes import FrozenClock

from ..events import ALEX, SAM, admission, cme_referral, deletion, delivery, enrolment


class Service:
    def __init__(self, kernel: ServiceKernel[UnitOfWork], ctx: Context, clock: FrozenClock) -> None:
        self.kernel = kernel
        self.ctx = ctx
        self.clock = clock
        self.dispatcher: Dispatcher[UnitOfWork] = kernel.dispatchers()[0]

    async def rows(self, table: Any, *where: Any) -> list[dict[str, Any]]:
        async with self.kernel.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(select(table).where(*where))).mappings().all()]

    async def outbox_types(self) -> list[str]:
        async with self.kernel.engine.connect() as conn:
            return list(
                (
                    await conn.execute(select(tables.outbox.c.event_type).order_by(tables.outbox.c.seq))
                ).scalars()
            )

    async def count(self, table: Any) -> int:
        async with self.kernel.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Service]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'cme.db'}")
    clock = FrozenClock(datetime(2025, 11, 10, 10, 5, tzinfo=UTC))
    ctx = context(settings, clock)
    kernel = bootstrap(settings, ctx=ctx)
    await kernel.migrate()
    try:
        yield Service(kernel, ctx, clock)
    finally:
        await kernel.dispose()


async def test_a_cme_referral_opens_a_case_with_its_first_review_due(svc: Service) -> None:
    assert await svc.dispatcher.process(delivery(cme_referral())) is Outcome.APPLIED
    [case] = await svc.rows(cme_cases)
    assert case["status"] == "open" and case["child_ref"] == "c-alex" and case["upn"] == ALEX["upn"]
    assert case["opened_on"] == date(2025, 11, 10) and case["next_review_due"] == date(2025, 12, 10)
    assert case["district"] == "Maidstone" and case["source"] == "referral" and case["source_id"] == "r-1"
    assert await svc.outbox_types() == ["inclusion.cme.case.opened.v1"]


async def test_the_same_referral_delivered_twice_opens_one_case(svc: Service) -> None:
    event = cme_referral()
    first = delivery(event, "e-1")
    assert await svc.dispatcher.process(first) is Outcome.APPLIED
    assert await svc.dispatcher.process(first) is Outcome.DUPLICATE  # redelivery: the inbox
    # The same referral in a new envelope (an outbox replayed upstream): the source is taken.
    assert await svc.dispatcher.process(delivery(event, "e-2")) is Outcome.APPLIED
    assert await svc.count(cme_cases) == 1
    assert await svc.outbox_types() == ["inclusion.cme.case.opened.v1"]


async def test_a_batch_with_the_same_child_twice_opens_one_case(svc: Service) -> None:
    outcomes = await svc.dispatcher.dispatch_batch(
        [
            delivery(cme_referral()),
            delivery(cme_referral(referral_id="r-2")),
            delivery(cme_referral(referral_id="r-1")),
        ]
    )
    assert outcomes == [Outcome.APPLIED] * 3
    [case] = await svc.rows(cme_cases)
    history = await svc.rows(cme_case_history, cme_case_history.c.case_id == case["id"])
    assert [h["action"] for h in history] == ["opened", "information_added"]


async def test_new_information_about_a_child_in_an_open_case_is_added_not_a_second_case(svc: Service) -> None:
    await svc.dispatcher.process(delivery(cme_referral()))
    # A deletion return for the same child, under another reference but the same UPN.
    await svc.dispatcher.process(
        delivery(deletion("c-other", child=ALEX, ground="9(1)(h)", roll_change_id="rc-2"))
    )
    [case] = await svc.rows(cme_cases)
    history = await svc.rows(cme_case_history, cme_case_history.c.case_id == case["id"])
    assert [h["action"] for h in history] == ["opened", "information_added"]
    assert history[1]["details"]["source_id"] == "rc-2" and history[1]["details"]["ground"] == "9(1)(h)"


@pytest.mark.parametrize(
    ("ground", "extra", "opens"),
    [
        ("9(1)(i)", {}, True),
        ("9(1)(h)", {}, True),
        ("9(1)(g)", {}, True),
        ("9(1)(g)", {"destination": {"school_name": "A school in Leeds", "la_code": "383"}}, False),
        ("9(1)(a)", {"destination": {"school_urn": "118000"}}, False),
        ("9(1)(k)", {}, False),
    ],
)
async def test_deletions_that_leave_education_unknown_open_a_case(
    svc: Service, ground: str, extra: dict[str, Any], opens: bool
) -> None:
    unknown = ground in ("9(1)(h)", "9(1)(i)") or (ground == "9(1)(g)" and not extra)
    await svc.dispatcher.process(delivery(deletion(ground=ground, education_unknown=unknown, **extra)))
    assert await svc.count(cme_cases) == (1 if opens else 0)
    assert await svc.count(roll_deletions) == 1  # the watch reads every deletion


async def test_a_new_pupil_return_closes_the_case_as_placed(svc: Service) -> None:
    await svc.dispatcher.process(delivery(cme_referral()))
    svc.clock.set(datetime(2025, 11, 25, 9, 1, tzinfo=UTC))
    assert await svc.dispatcher.process(delivery(admission())) is Outcome.APPLIED
    [case] = await svc.rows(cme_cases)
    assert case["status"] == "placed" and case["outcome"] == "placed_on_roll"
    assert case["placed_on"] == date(2025, 11, 24) and case["placed_school"]["urn"] == "118001"
    assert (case["days_to_placed"], case["school_days_to_placed"], case["placed_within_target"]) == (
        14,
        10,
        True,
    )
    assert case["located_on"] == date(2025, 11, 24) and case["closed_on"] == date(2025, 11, 25)
    assert await svc.outbox_types() == [
        "inclusion.cme.case.opened.v1",
        "inclusion.cme.child.located.v1",
        "inclusion.cme.child.placed-on-roll.v1",
        "inclusion.cme.case.closed.v1",
    ]


async def test_a_new_pupil_return_matches_by_upn_when_the_reference_differs(svc: Service) -> None:
    await svc.dispatcher.process(delivery(cme_referral("c-from-agency")))
    await svc.dispatcher.process(delivery(admission("c-from-school")))
    [case] = await svc.rows(cme_cases)
    assert case["status"] == "placed"


async def test_a_new_pupil_return_for_another_child_changes_nothing(svc: Service) -> None:
    await svc.dispatcher.process(delivery(cme_referral()))
    await svc.dispatcher.process(delivery(admission("c-sam", child=SAM)))
    [case] = await svc.rows(cme_cases)
    assert case["status"] == "open"


async def test_ehe_notices_and_ground_f_deletions_register_the_child_once(svc: Service) -> None:
    await svc.dispatcher.process(
        delivery(cme_referral("c-sam", child=SAM, referral_id="r-ehe", kind="elective_home_education"))
    )
    await svc.dispatcher.process(
        delivery(deletion(ground="9(1)(f)", parent_notice_received_on="2025-11-03", education_unknown=False))
    )
    [reg] = await svc.rows(ehe_registrations)
    assert reg["source"] == "referral" and reg["registered_on"] == date(2025, 11, 10)
    assert (reg["first_contact_due"], reg["visit_offer_due"]) == (date(2025, 12, 10), date(2026, 2, 10))
    assert await svc.outbox_types() == ["inclusion.cme.ehe.registered.v1"]
    assert await svc.count(cme_cases) == 0
    # Back on a school's roll: the registration ends.
    await svc.dispatcher.process(delivery(admission("c-sam", child=SAM)))
    [reg] = await svc.rows(ehe_registrations)
    assert reg["status"] == "ended" and reg["end_reason"] == "registered at school 118001"


async def test_other_referral_kinds_are_recorded_in_the_inbox_and_ignored(svc: Service) -> None:
    outcome = await svc.dispatcher.process(delivery(cme_referral(kind="attendance_concern")))
    assert outcome is Outcome.APPLIED
    assert await svc.count(cme_cases) == 0 and await svc.count(ehe_registrations) == 0


async def test_deletions_are_recorded_for_the_watch_with_their_gaps_and_year_group(svc: Service) -> None:
    await svc.dispatcher.process(delivery(enrolment("c-sam", SAM["upn"], year_group="11")))
    await svc.dispatcher.process(
        delivery(deletion(ground="9(1)(f)", education_unknown=False, deleted_on="2025-11-03"))
    )
    [row] = await svc.rows(roll_deletions)
    assert row["year_group"] == 11 and row["academic_year"] == "2025/26" and row["flagged"] is True
    assert any("written notice" in g for g in row["evidence_gaps"])
    assert any("after the name was deleted" in g for g in row["evidence_gaps"])


async def test_ground_i_is_flagged_until_the_la_holds_an_enquiry(svc: Service) -> None:
    await svc.dispatcher.process(delivery(deletion(roll_change_id="rc-1")))
    [first] = await svc.rows(roll_deletions)
    assert first["flagged"] and "jointly with the LA" in first["evidence_gaps"][0]
    # The LA enquires in the case the deletion opened; a later deletion of the child is evidenced.
    from cme_tracker.domain import commands
    from cme_tracker.domain.model import EnquiryKind, EnquiryResult
    from cme_tracker.service_layer import handlers

    [case] = await svc.rows(cme_cases)
    async with svc.kernel.uow() as uow:
        await handlers.record_enquiry(
            commands.RecordEnquiry(
                case["id"],
                EnquiryKind.SCHOOL,
                date(2025, 11, 10),
                "officer",
                EnquiryResult.NO_INFORMATION,
                None,
                "officer",
            ),
            uow,
            svc.ctx,
        )
    await svc.dispatcher.process(delivery(deletion("c-sam", roll_change_id="rc-3", school={**HIGH_OTHER})))
    second = await svc.rows(roll_deletions, roll_deletions.c.id == "rc-3")
    assert second[0]["flagged"] is False


HIGH_OTHER = {
    "urn": "118002",
    "la_code": "886",
    "name": "Another High School",
    "phase": "secondary",
    "district": "Dover",
}


async def test_the_review_job_emits_once_per_period_under_a_controllable_clock(svc: Service) -> None:
    await svc.dispatcher.process(delivery(cme_referral()))
    svc.clock.set(datetime(2025, 12, 10, 6, 0, tzinfo=UTC))
    assert await check_reviews(svc.kernel.uow, svc.ctx) == []
    svc.clock.set(datetime(2025, 12, 11, 6, 0, tzinfo=UTC))
    [first] = await check_reviews(svc.kernel.uow, svc.ctx)
    assert (first.period, first.days_overdue, first.notified, first.district) == (1, 1, True, "Maidstone")
    svc.clock.advance(timedelta(days=5))
    [again] = await check_reviews(svc.kernel.uow, svc.ctx)
    assert again.notified is False and again.period == 1  # listed, not notified twice
    svc.clock.set(datetime(2026, 1, 11, 6, 0, tzinfo=UTC))
    [second] = await check_reviews(svc.kernel.uow, svc.ctx)
    assert (second.period, second.notified) == (2, True)
    assert (await svc.outbox_types()).count("inclusion.cme.case.review-overdue.v1") == 2
