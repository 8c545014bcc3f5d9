"""Aggregates of enforcement. Each carries a version and records the domain events it raises.

- :class:`PenaltyRequest`: a school's request for penalty notices for one pupil, each liable
  parent, the period and its evidence; decided once, with reasons (eligible, or declined naming the
  rule that failed), then each eligible parent's notice is issued.
- :class:`PenaltyNotice`: one notice to one parent for one child: issued, then paid, withdrawn, or
  left unpaid (which opens a prosecution case).
- :class:`ProsecutionCase`: s444(1) or (1A), with the six-month time limit from the last offence
  date; information laid; a court outcome (or withdrawn / not pursued).

Illegal transitions raise :class:`IllegalTransition` (the API answers 409).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from enforcement.domain import events
from enforcement.domain.errors import IllegalTransition, InvalidPayment, OutOfTime
from enforcement.domain.policy import (
    Amounts,
    Judgement,
    NoticeTerms,
    Rule,
    RuleResult,
    add_months,
    amount_due_on,
    due_dates,
)


class OffenceType(enum.StrEnum):
    IRREGULAR_ATTENDANCE = "irregular_attendance"
    LEAVE_IN_TERM_TIME = "leave_in_term_time"


class RequestStatus(enum.StrEnum):
    SUBMITTED = "submitted"  # awaiting the LA's decision
    ELIGIBLE = "eligible"  # decided: notices to issue
    ISSUED = "issued"  # every eligible parent's notice issued
    DECLINED = "declined"


class ParentOutcome(enum.StrEnum):
    PENDING = "pending"
    TO_ISSUE = "to_issue"
    ISSUED = "issued"
    DECLINED = "declined"


@dataclass
class LiableParent:
    """A parent liable for the child's attendance (personal data)."""

    parent_ref: str
    forename: str
    surname: str
    relationship: str | None = None
    address: dict[str, str | None] | None = None
    outcome: ParentOutcome = ParentOutcome.PENDING
    rule: str | None = None
    reason: str | None = None
    sequence: int | None = None
    issue_due_by: date | None = None
    notice_id: str | None = None


@dataclass
class Decision:
    decided_at: datetime
    decided_by: str
    eligible: bool
    code_of_conduct: str | None
    rule: str | None  # the rule that failed (declined), else None
    reason: str
    segments: list[dict[str, Any]]
    last_offence_date: date | None
    offence_section: str = "s444(1)"  # the section an unpaid notice is prosecuted under


@dataclass
class PenaltyRequest:
    id: str
    child_ref: str
    school_urn: str
    la_code: str
    upn: str
    offence_type: OffenceType
    period_start: date
    period_end: date
    parents: list[LiableParent]
    requested_at: datetime
    requested_by: str
    notice_to_improve_issued_on: date | None = None
    aggravating_factors: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    status: RequestStatus = RequestStatus.SUBMITTED
    decision: Decision | None = None
    updated_at: datetime | None = None
    version: int = 0
    changed: bool = field(default=False, repr=False)
    loaded_version: int = field(default=0, repr=False)  # 0: not stored yet
    pending_events: list[events.Event] = field(default_factory=list, repr=False)

    @classmethod
    def submit(cls, **values: Any) -> PenaltyRequest:
        request = cls(**values, version=1, changed=True)
        request.updated_at = request.requested_at
        request.pending_events.append(events.PenaltyNoticeRequested(aggregate_id=request.id, version=1))
        return request

    def parent(self, parent_ref: str) -> LiableParent | None:
        return next((p for p in self.parents if p.parent_ref == parent_ref), None)

    def _bump(self, at: datetime) -> int:
        self.version += 1
        self.updated_at = at
        self.changed = True
        return self.version

    def decide(
        self,
        judgement: Judgement,
        terms: dict[str, NoticeTerms | RuleResult],
        *,
        at: datetime,
        decided_on: date,
        by: str,
        issue_within_days: int,
        decline_reason: str | None = None,
        offence_section: str = "s444(1)",
    ) -> None:
        """Record the decision once: declined when the code's rules fail (naming the rule) or when
        the officer declines; otherwise each parent is eligible, or declined by the per-parent
        limit. ``terms`` holds each parent's notice terms (or the failed limit rule)."""
        if self.status is not RequestStatus.SUBMITTED:
            raise IllegalTransition(f"the request is already {self.status.value}; it is decided once")
        deciding = judgement.deciding
        segments = [
            {
                "code_of_conduct": s.code_of_conduct,
                "start": s.start.isoformat(),
                "end": s.end.isoformat(),
                "met": s.met,
                "rules": [{"rule": r.rule.value, "met": r.met, "detail": r.detail} for r in s.results],
            }
            for s in judgement.segments
        ]
        code = deciding.code_of_conduct or "none"
        if not judgement.eligible or decline_reason:
            if not judgement.eligible:
                failed = deciding.failed
                assert failed is not None
                rule, reason = failed.rule.value, failed.detail
            else:
                rule, reason = Rule.OFFICER_DISCRETION.value, str(decline_reason)
            self.status = RequestStatus.DECLINED
            for p in self.parents:
                p.outcome, p.rule, p.reason = ParentOutcome.DECLINED, rule, reason
            self.decision = Decision(at, by, False, deciding.code_of_conduct, rule, reason, segments, None)
            version = self._bump(at)
            self.pending_events.append(
                events.PenaltyNoticeDeclined(self.id, version, None, code, rule, reason)
            )
            return
        self.decision = Decision(
            at,
            by,
            True,
            deciding.code_of_conduct,
            None,
            "the code of conduct's rules are met",
            segments,
            judgement.last_offence_date,
            offence_section,
        )
        version = self._bump(at)
        for p in self.parents:
            outcome = terms[p.parent_ref]
            if isinstance(outcome, RuleResult):
                p.outcome, p.rule, p.reason = ParentOutcome.DECLINED, outcome.rule.value, outcome.detail
                self.pending_events.append(
                    events.PenaltyNoticeDeclined(self.id, version, p.parent_ref, code, p.rule, outcome.detail)
                )
            else:
                p.outcome = ParentOutcome.TO_ISSUE
                p.sequence = outcome.sequence
                p.issue_due_by = decided_on + timedelta(days=issue_within_days)
        if all(p.outcome is ParentOutcome.DECLINED for p in self.parents):
            self.status = RequestStatus.DECLINED
            self.decision.eligible = False
            self.decision.rule = Rule.NOTICE_LIMIT.value
            self.decision.reason = "every liable parent has reached the limit of notices"
        else:
            self.status = RequestStatus.ELIGIBLE

    def record_issue(self, parent_ref: str, notice_id: str, at: datetime) -> LiableParent:
        parent = self.parent(parent_ref)
        if parent is None:
            raise IllegalTransition("that parent is not named in this request")
        if self.status is not RequestStatus.ELIGIBLE or parent.outcome is not ParentOutcome.TO_ISSUE:
            raise IllegalTransition(
                f"no notice is awaiting issue for that parent (request {self.status.value}, "
                f"parent {parent.outcome.value})"
            )
        parent.outcome = ParentOutcome.ISSUED
        parent.notice_id = notice_id
        if not any(p.outcome is ParentOutcome.TO_ISSUE for p in self.parents):
            self.status = RequestStatus.ISSUED
        self._bump(at)
        return parent


class NoticeStatus(enum.StrEnum):
    ISSUED = "issued"
    PAID = "paid"
    UNPAID = "unpaid"  # past the last due date: a prosecution case is open
    WITHDRAWN = "withdrawn"


class WithdrawalGround(enum.StrEnum):
    ISSUED_IN_ERROR = "issued_in_error"
    ISSUED_TO_WRONG_PERSON = "issued_to_wrong_person"
    CONTRARY_TO_CODE_OF_CONDUCT = "contrary_to_code_of_conduct"
    UNPAID_NOT_PROSECUTED = "unpaid_not_prosecuted"
    OTHER = "other"


class ServiceMethod(enum.StrEnum):
    HAND = "hand"
    POST = "post"


@dataclass
class PenaltyNotice:
    id: str
    number: str
    request_id: str
    child_ref: str
    school_urn: str
    parent_ref: str
    code_of_conduct: str
    sequence: int
    amounts: Amounts
    offence_type: OffenceType
    issued_on: date
    issued_by: str
    issue_due_by: date | None
    service_method: ServiceMethod
    served_on: date
    received_on: date
    reduced_due_by: date | None
    full_due_by: date
    last_offence_date: date | None
    created_at: datetime
    status: NoticeStatus = NoticeStatus.ISSUED
    paid_on: date | None = None
    paid_pence: int | None = None
    payment_rate: str | None = None
    withdrawn_on: date | None = None
    withdrawal_ground: WithdrawalGround | None = None
    withdrawal_note: str | None = None
    prosecution_case_id: str | None = None
    updated_at: datetime | None = None
    version: int = 0
    changed: bool = field(default=False, repr=False)
    loaded_version: int = field(default=0, repr=False)  # 0: not stored yet
    pending_events: list[events.Event] = field(default_factory=list, repr=False)

    @classmethod
    def issue(
        cls,
        *,
        id: str,
        number: str,
        request: PenaltyRequest,
        parent: LiableParent,
        terms: NoticeTerms,
        issued_on: date,
        issued_by: str,
        service_method: ServiceMethod,
        served_on: date,
        received_on: date,
        at: datetime,
    ) -> PenaltyNotice:
        if served_on < issued_on:
            raise IllegalTransition("a notice is served on or after the day it is issued")
        reduced_by, full_by = due_dates(terms.amounts, received_on)
        notice = cls(
            id=id,
            number=number,
            request_id=request.id,
            child_ref=request.child_ref,
            school_urn=request.school_urn,
            parent_ref=parent.parent_ref,
            code_of_conduct=terms.code_of_conduct,
            sequence=terms.sequence,
            amounts=terms.amounts,
            offence_type=request.offence_type,
            issued_on=issued_on,
            issued_by=issued_by,
            issue_due_by=parent.issue_due_by,
            service_method=service_method,
            served_on=served_on,
            received_on=received_on,
            reduced_due_by=reduced_by,
            full_due_by=full_by,
            last_offence_date=request.decision.last_offence_date if request.decision else None,
            created_at=at,
            updated_at=at,
            version=1,
            changed=True,
        )
        notice.pending_events.append(events.PenaltyNoticeIssued(id, 1))
        return notice

    @property
    def issued_within_target(self) -> bool:
        return self.issue_due_by is None or self.issued_on <= self.issue_due_by

    def _bump(self, at: datetime) -> int:
        self.version += 1
        self.updated_at = at
        self.changed = True
        return self.version

    def pay(self, paid_on: date, amount_pence: int, at: datetime) -> None:
        """Record a payment; it must be the amount due on its date (reduced or full rate)."""
        if self.status is not NoticeStatus.ISSUED:
            raise IllegalTransition(f"the notice is {self.status.value}; only an issued notice can be paid")
        if paid_on < self.issued_on:
            raise InvalidPayment(f"the notice was issued on {self.issued_on.isoformat()}")
        due = amount_due_on(self.amounts, self.received_on, paid_on)
        if due is None:
            raise IllegalTransition(
                f"the notice could be paid until {self.full_due_by.isoformat()}; it can no longer be paid"
            )
        if amount_pence != due.pence:
            raise InvalidPayment(
                f"{due.pence} pence ({due.rate} rate) is due on {paid_on.isoformat()}; {amount_pence} given"
            )
        self.status = NoticeStatus.PAID
        self.paid_on, self.paid_pence, self.payment_rate = paid_on, amount_pence, due.rate
        self.pending_events.append(events.PenaltyNoticePaid(self.id, self._bump(at)))

    def is_overdue(self, today: date) -> bool:
        return self.status is NoticeStatus.ISSUED and today > self.full_due_by

    def lapse(self, case_id: str, at: datetime) -> None:
        """Unpaid after the last due date: the notice goes to prosecution."""
        if self.status is not NoticeStatus.ISSUED:
            raise IllegalTransition(f"the notice is {self.status.value}")
        self.status = NoticeStatus.UNPAID
        self.prosecution_case_id = case_id
        self._bump(at)

    def withdraw(self, on: date, ground: WithdrawalGround, note: str | None, at: datetime) -> None:
        if self.status not in (NoticeStatus.ISSUED, NoticeStatus.UNPAID):
            raise IllegalTransition(f"the notice is {self.status.value}; it cannot be withdrawn")
        if on < self.issued_on:
            raise IllegalTransition("a notice cannot be withdrawn before it was issued")
        self.status = NoticeStatus.WITHDRAWN
        self.withdrawn_on, self.withdrawal_ground, self.withdrawal_note = on, ground, note
        self.pending_events.append(events.PenaltyNoticeWithdrawn(self.id, self._bump(at)))


class OffenceSection(enum.StrEnum):
    S444_1 = "s444(1)"
    S444_1A = "s444(1A)"


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    LAID = "laid"  # information laid before the magistrates' court
    CONCLUDED = "concluded"


class CourtOutcome(enum.StrEnum):
    CONVICTED = "convicted"
    NOT_GUILTY = "not_guilty"
    DISMISSED = "dismissed"
    WITHDRAWN = "withdrawn"
    NOT_PURSUED = "not_pursued"


COURT_OUTCOMES = frozenset({CourtOutcome.CONVICTED, CourtOutcome.NOT_GUILTY, CourtOutcome.DISMISSED})


@dataclass
class ProsecutionCase:
    id: str
    notice_id: str | None
    child_ref: str
    school_urn: str
    parent_ref: str
    offence_section: OffenceSection
    last_offence_date: date
    time_limit: date
    started_on: date
    created_at: datetime
    status: CaseStatus = CaseStatus.OPEN
    laid_on: date | None = None
    hearing_on: date | None = None
    outcome: CourtOutcome | None = None
    concluded_on: date | None = None
    fine_pence: int | None = None
    costs_pence: int | None = None
    orders: list[str] = field(default_factory=list)
    updated_at: datetime | None = None
    version: int = 0
    changed: bool = field(default=False, repr=False)
    loaded_version: int = field(default=0, repr=False)  # 0: not stored yet
    pending_events: list[events.Event] = field(default_factory=list, repr=False)

    @classmethod
    def open(
        cls,
        *,
        id: str,
        notice: PenaltyNotice,
        offence_section: OffenceSection,
        limit_months: int,
        started_on: date,
        at: datetime,
    ) -> ProsecutionCase:
        last = notice.last_offence_date or notice.issued_on
        case = cls(
            id=id,
            notice_id=notice.id,
            child_ref=notice.child_ref,
            school_urn=notice.school_urn,
            parent_ref=notice.parent_ref,
            offence_section=offence_section,
            last_offence_date=last,
            time_limit=add_months(last, limit_months),
            started_on=started_on,
            created_at=at,
            updated_at=at,
            version=1,
            changed=True,
        )
        case.pending_events.append(events.ProsecutionStarted(id, 1))
        return case

    def _bump(self, at: datetime) -> int:
        self.version += 1
        self.updated_at = at
        self.changed = True
        return self.version

    def days_left(self, today: date) -> int:
        return (self.time_limit - today).days

    def lay_information(self, on: date, hearing_on: date | None, at: datetime) -> None:
        if self.status is not CaseStatus.OPEN:
            raise IllegalTransition(f"the case is {self.status.value}; information is laid once")
        if on > self.time_limit:
            raise OutOfTime(
                f"information had to be laid by {self.time_limit.isoformat()} (six months from the last "
                f"offence date {self.last_offence_date.isoformat()})"
            )
        if hearing_on is not None and hearing_on < on:
            raise IllegalTransition("the hearing cannot be before the information is laid")
        self.status, self.laid_on, self.hearing_on = CaseStatus.LAID, on, hearing_on
        self._bump(at)

    def conclude(
        self,
        outcome: CourtOutcome,
        on: date,
        at: datetime,
        *,
        fine_pence: int | None = None,
        costs_pence: int | None = None,
        orders: list[str] | None = None,
    ) -> None:
        if self.status is CaseStatus.CONCLUDED:
            raise IllegalTransition("the case is already concluded")
        if outcome in COURT_OUTCOMES and self.status is not CaseStatus.LAID:
            raise IllegalTransition("a court outcome needs the information to have been laid")
        if (fine_pence or costs_pence) and outcome is not CourtOutcome.CONVICTED:
            raise IllegalTransition("a fine or costs follow a conviction only")
        self.status, self.outcome, self.concluded_on = CaseStatus.CONCLUDED, outcome, on
        self.fine_pence, self.costs_pence, self.orders = fine_pence, costs_pence, list(orders or [])
        self.pending_events.append(events.ProsecutionConcluded(self.id, self._bump(at)))
