"""Events published by the cme context (topic ``inclusion.cme``): children missing education
cases, their enquiries, reviews and outcomes, and the elective home education register.

Every event here is listed in ``EVENTS`` and so in the public registry; run
``inclusion-kit catalog build`` after a change and commit ``shared/catalog/``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from pydantic import Field

from inclusion_kit.contracts.base import IntegrationEvent, TolerantEnum, x_pii
from inclusion_kit.contracts.events.common import SchoolRef


class CaseSource(TolerantEnum):
    """What opened a case or registration: a referral, or a school's deletion return."""

    REFERRAL = "referral"
    DELETION_RETURN = "deletion_return"
    CME_CASE = "cme_case"
    UNKNOWN = "unknown"


class EnquiryKind(TolerantEnum):
    """The reasonable-enquiries checklist (DOMAIN.md §5.1; the LA may configure its own list)."""

    SCHOOL = "school"
    FAMILY = "family"
    NEIGHBOURS = "neighbours"
    HEALTH = "health"
    HOUSING = "housing"
    POLICE = "police"
    OTHER_LAS = "other_las"
    LOST_PUPILS_SEARCH = "lost_pupils_search"
    CHILDRENS_SOCIAL_CARE = "childrens_social_care"
    UNKNOWN = "unknown"


class EnquiryResult(TolerantEnum):
    NO_INFORMATION = "no_information"
    INFORMATION_FOUND = "information_found"
    CHILD_FOUND = "child_found"
    NO_RESPONSE = "no_response"
    UNKNOWN = "unknown"


class CaseOutcome(TolerantEnum):
    """How a case ended. ``placed_on_roll`` is the loop closed by a new-pupil return."""

    PLACED_ON_ROLL = "placed_on_roll"
    MOVED_TO_OTHER_LA = "moved_to_other_la"
    MOVED_ABROAD = "moved_abroad"
    ELECTIVELY_HOME_EDUCATED = "electively_home_educated"
    OTHER_SUITABLE_PROVISION = "other_suitable_provision"
    DECEASED = "deceased"
    NOT_FOUND_LOST_PUPILS = "not_found_lost_pupils"
    DUPLICATE = "duplicate"
    UNKNOWN = "unknown"


_SCHOOL = {
    "urn": "118001",
    "laestab": "8864000",
    "la_code": "886",
    "phase": "secondary",
    "district": "Dover",
}


class CmeCaseOpened(IntegrationEvent):
    """The authority opened a children-missing-education case for a child whose education is
    unknown (a CME referral, or a deletion return on a ground that leaves education unknown).
    ``next_review_due`` is the first monthly review (DOMAIN.md §10.3)."""

    event_type: ClassVar[str] = "inclusion.cme.case.opened.v1"

    case_id: str
    source: CaseSource
    source_id: str = Field(description="The referral or roll-change id that opened the case.")
    opened_on: date
    school: SchoolRef | None = Field(default=None, description="The child's last known school.")
    upn: str | None = Field(default=None, **x_pii("The child's UPN, where known."))
    next_review_due: date

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "cme-0a1b2c3d4e5f6a7b",
        "aggregate_version": 1,
        "occurred_at": datetime(2025, 11, 10, 10, 0, 5, tzinfo=UTC),
        "case_id": "cme-0a1b2c3d4e5f6a7b",
        "source": "deletion_return",
        "source_id": "rc-1a2b3c4d5e6f7a8b",
        "opened_on": "2025-11-10",
        "school": _SCHOOL,
        "upn": "K886400023012",
        "next_review_due": "2025-12-10",
    }


class CmeEnquiryRecorded(IntegrationEvent):
    """An officer recorded one of the reasonable enquiries on a case: which, when, and its result.
    The officer's notes stay in the service (they may hold personal data)."""

    event_type: ClassVar[str] = "inclusion.cme.case.enquiry-recorded.v1"

    case_id: str
    enquiry_id: str
    kind: EnquiryKind
    made_on: date
    result: EnquiryResult
    checklist_complete: bool = Field(description="Every item of the LA's checklist has now been tried.")

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "cme-0a1b2c3d4e5f6a7b",
        "aggregate_version": 2,
        "occurred_at": datetime(2025, 11, 11, 14, 0, tzinfo=UTC),
        "case_id": "cme-0a1b2c3d4e5f6a7b",
        "enquiry_id": "enq-9a8b7c6d5e4f3a2b",
        "kind": "housing",
        "made_on": "2025-11-11",
        "result": "information_found",
        "checklist_complete": False,
    }


class ChildLocated(IntegrationEvent):
    """The child in a CME case has been found. Days are counted from the day the case opened, in
    calendar days and in school days of the LA's calendar (null outside its configured years):
    what "found within two weeks" is reported from."""

    event_type: ClassVar[str] = "inclusion.cme.child.located.v1"

    case_id: str
    located_on: date
    days_to_located: int = Field(ge=0)
    school_days_to_located: int | None = Field(default=None, ge=0)

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "cme-0a1b2c3d4e5f6a7b",
        "aggregate_version": 3,
        "occurred_at": datetime(2025, 11, 14, 12, 0, tzinfo=UTC),
        "case_id": "cme-0a1b2c3d4e5f6a7b",
        "located_on": "2025-11-14",
        "days_to_located": 4,
        "school_days_to_located": 4,
    }


class ChildPlacedOnRoll(IntegrationEvent):
    """A child in a CME case is on a school's roll again (a new-pupil return, or an officer's
    record): the loop is closed. Days count from the day the case opened to the starting day."""

    event_type: ClassVar[str] = "inclusion.cme.child.placed-on-roll.v1"

    case_id: str
    school: SchoolRef
    placed_on: date = Field(description="The pupil's starting day at the school.")
    roll_change_id: str | None = Field(default=None, description="The new-pupil return, when one did it.")
    days_to_placed: int = Field(ge=0)
    school_days_to_placed: int | None = Field(default=None, ge=0)
    placed_within_target: bool = Field(description="Within the LA's target (30 days by default).")

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "cme-0a1b2c3d4e5f6a7b",
        "aggregate_version": 4,
        "occurred_at": datetime(2025, 11, 26, 9, 0, tzinfo=UTC),
        "case_id": "cme-0a1b2c3d4e5f6a7b",
        "school": {"urn": "118000", "la_code": "886", "phase": "primary", "district": "Maidstone"},
        "placed_on": "2025-11-24",
        "roll_change_id": "rc-9f8e7d6c5b4a3f2e",
        "days_to_placed": 14,
        "school_days_to_placed": 10,
        "placed_within_target": True,
    }


class CmeCaseClosed(IntegrationEvent):
    """A CME case ended with an outcome (placed on a roll, moved to another LA with its code, moved
    abroad, now home educated, other suitable provision, deceased, not found after full enquiries
    and referred to the lost-pupils route, or a duplicate)."""

    event_type: ClassVar[str] = "inclusion.cme.case.closed.v1"

    case_id: str
    outcome: CaseOutcome
    closed_on: date
    other_la_code: str | None = Field(default=None, pattern=r"^[0-9]{3}$")
    duplicate_of: str | None = None
    days_open: int = Field(ge=0)

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "cme-0a1b2c3d4e5f6a7b",
        "aggregate_version": 5,
        "occurred_at": datetime(2025, 11, 26, 9, 0, tzinfo=UTC),
        "case_id": "cme-0a1b2c3d4e5f6a7b",
        "outcome": "moved_to_other_la",
        "closed_on": "2025-11-26",
        "other_la_code": "383",
        "days_open": 16,
    }


class CmeReviewOverdue(IntegrationEvent):
    """An open case has passed its monthly review date. Published once per overdue period: period
    1 is the first month after the due date, period 2 the next, until the case is reviewed."""

    event_type: ClassVar[str] = "inclusion.cme.case.review-overdue.v1"

    case_id: str
    review_due: date
    period: int = Field(ge=1)
    days_overdue: int = Field(ge=1)
    district: str | None = None

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "cme-0a1b2c3d4e5f6a7b",
        "aggregate_version": 3,
        "occurred_at": datetime(2025, 12, 11, 6, 0, tzinfo=UTC),
        "case_id": "cme-0a1b2c3d4e5f6a7b",
        "review_due": "2025-12-10",
        "period": 1,
        "days_overdue": 1,
        "district": "Dover",
    }


class EheRegistered(IntegrationEvent):
    """A child was entered on the elective home education register (a parent's notice, a deletion
    under ground 9(1)(f), or a CME case closed as home educated). First contact is due within one
    month and a visit offered within three (DOMAIN.md §10.3), then a yearly review."""

    event_type: ClassVar[str] = "inclusion.cme.ehe.registered.v1"

    registration_id: str
    source: CaseSource
    source_id: str
    registered_on: date
    parent_notice_received_on: date | None = None
    previous_school: SchoolRef | None = None
    first_contact_due: date
    visit_offer_due: date
    next_review_due: date

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "ehe-1b2c3d4e5f6a7b8c",
        "aggregate_version": 1,
        "occurred_at": datetime(2025, 11, 10, 10, 0, 5, tzinfo=UTC),
        "registration_id": "ehe-1b2c3d4e5f6a7b8c",
        "source": "deletion_return",
        "source_id": "rc-1a2b3c4d5e6f7a8b",
        "registered_on": "2025-11-10",
        "parent_notice_received_on": "2025-10-20",
        "previous_school": _SCHOOL,
        "first_contact_due": "2025-12-10",
        "visit_offer_due": "2026-02-10",
        "next_review_due": "2026-11-10",
    }


EVENTS: tuple[type[IntegrationEvent], ...] = (
    CmeCaseOpened,
    CmeEnquiryRecorded,
    ChildLocated,
    ChildPlacedOnRoll,
    CmeCaseClosed,
    CmeReviewOverdue,
    EheRegistered,
)
