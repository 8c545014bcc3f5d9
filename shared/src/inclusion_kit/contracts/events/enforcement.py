"""Events published by the enforcement context (topic ``inclusion.enforcement``).

The county-wide enforcement team's facts: pupils whose absence becomes persistent or severe (what
Early Help systems subscribe to), and the penalty-notice process under the code of conduct in
force on the date that matters (DOMAIN.md §2, §3, §10.2).

Parents are named by an opaque ``parent_ref`` only: their names and addresses stay in the
enforcement service. Amounts are whole pence.

Every event here is listed in ``EVENTS`` and so in the public registry; run
``inclusion-kit catalog build`` after a change and commit ``shared/catalog/``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from pydantic import Field

from inclusion_kit.contracts.base import IntegrationEvent, TolerantEnum, x_pii
from inclusion_kit.contracts.events.common import SchoolRef

_SCHOOL_EXAMPLE: dict[str, Any] = {
    "urn": "118000",
    "laestab": "8862000",
    "la_code": "886",
    "phase": "primary",
    "district": "Maidstone",
}


class AbsenceLevel(TolerantEnum):
    """Persistent absence: >= 10% of possible sessions missed; severe: >= 50% (DOMAIN.md §2)."""

    PERSISTENT = "persistent"
    SEVERE = "severe"
    UNKNOWN = "unknown"


class IdentificationBasis(TolerantEnum):
    """``reached``: the year-to-date rate is at or above the level now. ``projected``: the early
    warning, the pupil is below the level but on track to reach it by the end of the term."""

    REACHED = "reached"
    PROJECTED = "projected"
    UNKNOWN = "unknown"


class OffenceType(TolerantEnum):
    """What a penalty-notice request is for (both are s444 EA 1996 attendance offences)."""

    IRREGULAR_ATTENDANCE = "irregular_attendance"
    LEAVE_IN_TERM_TIME = "leave_in_term_time"
    UNKNOWN = "unknown"


class ServiceMethod(TolerantEnum):
    HAND = "hand"
    POST = "post"
    UNKNOWN = "unknown"


class PaymentRate(TolerantEnum):
    REDUCED = "reduced"
    FULL = "full"
    UNKNOWN = "unknown"


class WithdrawalGround(TolerantEnum):
    """Why a notice was withdrawn (Education (Penalty Notices) (England) Regulations 2007)."""

    ISSUED_IN_ERROR = "issued_in_error"
    ISSUED_TO_WRONG_PERSON = "issued_to_wrong_person"
    CONTRARY_TO_CODE_OF_CONDUCT = "contrary_to_code_of_conduct"
    UNPAID_NOT_PROSECUTED = "unpaid_not_prosecuted"
    OTHER = "other"
    UNKNOWN = "unknown"


class OffenceSection(TolerantEnum):
    """s444(1): failure to secure regular attendance (strict liability); s444(1A): the aggravated
    offence (the parent knew and failed without reasonable justification)."""

    S444_1 = "s444(1)"
    S444_1A = "s444(1A)"
    UNKNOWN = "unknown"


class CourtOutcome(TolerantEnum):
    CONVICTED = "convicted"
    NOT_GUILTY = "not_guilty"
    DISMISSED = "dismissed"
    WITHDRAWN = "withdrawn"
    NOT_PURSUED = "not_pursued"
    UNKNOWN = "unknown"


class PersistentAbsenceIdentified(IntegrationEvent):
    """A pupil's absence at one school (an enrolment) became persistent (year-to-date absence at or
    above 10% of possible sessions) or severe (at or above 50%), or, with basis ``projected``, is on
    track to become persistent by the end of the term. Raised once per crossing per term, and only
    once the enrolment has the configured minimum of possible sessions. Rates follow the DfE
    methodology: authorised plus unauthorised absence over possible sessions, approved educational
    activity counting as attendance and not-counted codes removed from both."""

    event_type: ClassVar[str] = "inclusion.enforcement.absence.persistent-identified.v1"

    school: SchoolRef
    upn: str | None = Field(default=None, **x_pii("The pupil's UPN as the school's MIS sent it."))
    academic_year: str = Field(pattern=r"^[0-9]{4}/[0-9]{2}$", description="e.g. '2025/26'.")
    term: str = Field(description="The term of the latest mark counted: autumn, spring or summer.")
    level: AbsenceLevel
    basis: IdentificationBasis = IdentificationBasis.REACHED
    threshold_percent: float = Field(description="The level's threshold, e.g. 10.0.")
    as_at: date = Field(description="Date of the latest mark counted.")
    possible_sessions: int = Field(ge=0)
    absence_sessions: int = Field(ge=0, **x_pii())
    authorised_sessions: int = Field(ge=0, **x_pii())
    unauthorised_sessions: int = Field(ge=0, **x_pii())
    absence_percent: float = Field(ge=0, le=100, **x_pii("Year to date."))
    projected_percent: float | None = Field(
        default=None, ge=0, le=100, **x_pii("Projected at the end of the term (early warning).")
    )

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "118000/c-5f0e3a9b2c1d4e7f/2025-26",
        "aggregate_version": 31,
        "occurred_at": datetime(2025, 11, 14, 16, 0, tzinfo=UTC),
        "school": _SCHOOL_EXAMPLE,
        "upn": "H886200024001",
        "academic_year": "2025/26",
        "term": "autumn",
        "level": "persistent",
        "basis": "reached",
        "threshold_percent": 10.0,
        "as_at": "2025-11-14",
        "possible_sessions": 84,
        "absence_sessions": 9,
        "authorised_sessions": 4,
        "unauthorised_sessions": 5,
        "absence_percent": 10.71,
    }


class PenaltyNoticeRequested(IntegrationEvent):
    """A school asked the local authority to issue penalty notices to the liable parents of a pupil
    for the offence over a period, with its evidence (a notice to improve and its date, if one was
    given)."""

    event_type: ClassVar[str] = "inclusion.enforcement.penalty-notice.requested.v1"

    request_id: str
    school: SchoolRef
    offence_type: OffenceType
    period_start: date
    period_end: date
    parents: int = Field(ge=1, description="How many liable parents the request names.")
    parent_refs: list[str] = Field(min_length=1)
    notice_to_improve_issued_on: date | None = None
    requested_at: datetime

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "pr-0a1b2c3d4e5f6a7b",
        "aggregate_version": 1,
        "occurred_at": datetime(2025, 11, 17, 9, 0, tzinfo=UTC),
        "request_id": "pr-0a1b2c3d4e5f6a7b",
        "school": _SCHOOL_EXAMPLE,
        "offence_type": "irregular_attendance",
        "period_start": "2025-09-03",
        "period_end": "2025-11-14",
        "parents": 1,
        "parent_refs": ["p-1a2b3c4d5e6f7a8b"],
        "notice_to_improve_issued_on": "2025-10-06",
        "requested_at": datetime(2025, 11, 17, 9, 0, tzinfo=UTC),
    }


class PenaltyNoticeDeclined(IntegrationEvent):
    """The local authority decided not to issue a notice: for the whole request (``parent_ref``
    null, e.g. the threshold of the code of conduct is not met) or for one parent (e.g. two notices
    to that parent for that child already in the lookback period). ``rule`` names the rule that
    failed; ``code_of_conduct`` the version that judged it."""

    event_type: ClassVar[str] = "inclusion.enforcement.penalty-notice.declined.v1"

    request_id: str
    parent_ref: str | None = None
    code_of_conduct: str = Field(description="Id of the code-of-conduct version, e.g. 'national-2024'.")
    rule: str = Field(description="The rule that failed, e.g. 'national-threshold'.")
    reason: str = Field(max_length=2000)
    decided_at: datetime

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "pr-0a1b2c3d4e5f6a7b",
        "aggregate_version": 2,
        "occurred_at": datetime(2025, 11, 18, 11, 0, tzinfo=UTC),
        "request_id": "pr-0a1b2c3d4e5f6a7b",
        "parent_ref": None,
        "code_of_conduct": "national-2024",
        "rule": "national-threshold",
        "reason": "7 sessions of G/N/O/U in the best rolling window of 10 school weeks; 10 needed.",
        "decided_at": datetime(2025, 11, 18, 11, 0, tzinfo=UTC),
    }


class PenaltyNoticeIssued(IntegrationEvent):
    """A penalty notice was issued to one liable parent for one child: its number, the amounts
    and the dates by which they are due, counted from the date the notice is received (served by
    hand, or deemed received after posting)."""

    event_type: ClassVar[str] = "inclusion.enforcement.penalty-notice.issued.v1"

    notice_id: str
    notice_number: str
    request_id: str
    parent_ref: str
    school: SchoolRef
    code_of_conduct: str
    sequence: int = Field(ge=1, description="1 for the parent's first notice for this child in the lookback.")
    issued_on: date
    issued_within_target: bool = Field(description="Issued within the code's days of the decision.")
    service_method: ServiceMethod
    served_on: date
    received_on: date
    reduced_amount_pence: int | None = Field(default=None, ge=0)
    reduced_due_by: date | None = None
    full_amount_pence: int = Field(ge=0)
    full_due_by: date

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "pn-9f8e7d6c5b4a3f2e",
        "aggregate_version": 1,
        "occurred_at": datetime(2025, 11, 20, 10, 0, tzinfo=UTC),
        "notice_id": "pn-9f8e7d6c5b4a3f2e",
        "notice_number": "886-2025-000001",
        "request_id": "pr-0a1b2c3d4e5f6a7b",
        "parent_ref": "p-1a2b3c4d5e6f7a8b",
        "school": _SCHOOL_EXAMPLE,
        "code_of_conduct": "national-2024",
        "sequence": 1,
        "issued_on": "2025-11-20",
        "issued_within_target": True,
        "service_method": "post",
        "served_on": "2025-11-20",
        "received_on": "2025-11-24",
        "reduced_amount_pence": 8000,
        "reduced_due_by": "2025-12-15",
        "full_amount_pence": 16000,
        "full_due_by": "2025-12-22",
    }


class PenaltyNoticePaid(IntegrationEvent):
    """A penalty notice was paid in full at the rate due on the payment date."""

    event_type: ClassVar[str] = "inclusion.enforcement.penalty-notice.paid.v1"

    notice_id: str
    notice_number: str
    parent_ref: str
    paid_on: date
    amount_pence: int = Field(ge=0)
    rate: PaymentRate

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "pn-9f8e7d6c5b4a3f2e",
        "aggregate_version": 2,
        "occurred_at": datetime(2025, 12, 1, 12, 0, tzinfo=UTC),
        "notice_id": "pn-9f8e7d6c5b4a3f2e",
        "notice_number": "886-2025-000001",
        "parent_ref": "p-1a2b3c4d5e6f7a8b",
        "paid_on": "2025-12-01",
        "amount_pence": 8000,
        "rate": "reduced",
    }


class PenaltyNoticeWithdrawn(IntegrationEvent):
    """A penalty notice was withdrawn on a ground; it no longer counts toward the parent's limit."""

    event_type: ClassVar[str] = "inclusion.enforcement.penalty-notice.withdrawn.v1"

    notice_id: str
    notice_number: str
    parent_ref: str
    withdrawn_on: date
    ground: WithdrawalGround

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "pn-9f8e7d6c5b4a3f2e",
        "aggregate_version": 2,
        "occurred_at": datetime(2025, 11, 25, 12, 0, tzinfo=UTC),
        "notice_id": "pn-9f8e7d6c5b4a3f2e",
        "notice_number": "886-2025-000001",
        "parent_ref": "p-1a2b3c4d5e6f7a8b",
        "withdrawn_on": "2025-11-25",
        "ground": "issued_to_wrong_person",
    }


class ProsecutionStarted(IntegrationEvent):
    """A penalty notice went unpaid past its last due date: a prosecution case under s444(1) or
    (1A) EA 1996 was opened, with the date by which information must be laid (six months from the
    last offence date, s127 Magistrates' Courts Act 1980)."""

    event_type: ClassVar[str] = "inclusion.enforcement.prosecution.started.v1"

    case_id: str
    notice_id: str | None = None
    parent_ref: str
    offence_section: OffenceSection
    last_offence_date: date
    time_limit: date = Field(description="The last day on which information may be laid.")
    started_on: date

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "pc-2b3c4d5e6f7a8b9c",
        "aggregate_version": 1,
        "occurred_at": datetime(2025, 12, 23, 6, 0, tzinfo=UTC),
        "case_id": "pc-2b3c4d5e6f7a8b9c",
        "notice_id": "pn-9f8e7d6c5b4a3f2e",
        "parent_ref": "p-1a2b3c4d5e6f7a8b",
        "offence_section": "s444(1)",
        "last_offence_date": "2025-11-14",
        "time_limit": "2026-05-14",
        "started_on": "2025-12-23",
    }


class ProsecutionConcluded(IntegrationEvent):
    """A prosecution case ended: a court outcome, or the case was withdrawn or not pursued."""

    event_type: ClassVar[str] = "inclusion.enforcement.prosecution.concluded.v1"

    case_id: str
    parent_ref: str
    outcome: CourtOutcome
    concluded_on: date
    fine_pence: int | None = Field(default=None, ge=0)
    costs_pence: int | None = Field(default=None, ge=0)
    orders: list[str] = Field(default_factory=list, description="e.g. 'parenting_order'.")

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "pc-2b3c4d5e6f7a8b9c",
        "aggregate_version": 3,
        "occurred_at": datetime(2026, 3, 10, 15, 0, tzinfo=UTC),
        "case_id": "pc-2b3c4d5e6f7a8b9c",
        "parent_ref": "p-1a2b3c4d5e6f7a8b",
        "outcome": "convicted",
        "concluded_on": "2026-03-10",
        "fine_pence": 22000,
        "costs_pence": 15000,
        "orders": ["parenting_order"],
    }


EVENTS: tuple[type[IntegrationEvent], ...] = (
    PersistentAbsenceIdentified,
    PenaltyNoticeRequested,
    PenaltyNoticeIssued,
    PenaltyNoticeDeclined,
    PenaltyNoticePaid,
    PenaltyNoticeWithdrawn,
    ProsecutionStarted,
    ProsecutionConcluded,
)
