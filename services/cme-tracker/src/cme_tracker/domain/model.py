"""Aggregates of cme-tracker. Each carries a version and records the domain events it raises.

A CME case (DOMAIN.md §5.1, §10.3) runs open -> enquiries -> located -> placed on a roll, or is
closed with an outcome; which action each state allows is the table ``ALLOWED`` below, and any
other action is an illegal transition. Every open case has a review due within a month of opening
or of its last review. An EHE registration (§5.5, §10.3) has its first contact due within one
month, a visit offered within three, and a yearly review. Each period is configuration per LA
(``Rules``), shipped with the first county's defaults.
"""

from __future__ import annotations

import calendar as _calendar
import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from cme_tracker.domain import events
from cme_tracker.domain.errors import EnquiriesIncomplete, IllegalTransition, InvalidRequest
from inclusion_kit.calendar import CalendarRangeError, SchoolCalendar


class Status(enum.StrEnum):
    OPEN = "open"
    ENQUIRIES = "enquiries"
    LOCATED = "located"
    PLACED = "placed"
    CLOSED = "closed"


ACTIVE = frozenset({Status.OPEN, Status.ENQUIRIES, Status.LOCATED})


class EnquiryKind(enum.StrEnum):
    SCHOOL = "school"
    FAMILY = "family"
    NEIGHBOURS = "neighbours"
    HEALTH = "health"
    HOUSING = "housing"
    POLICE = "police"
    OTHER_LAS = "other_las"
    LOST_PUPILS_SEARCH = "lost_pupils_search"
    CHILDRENS_SOCIAL_CARE = "childrens_social_care"


class EnquiryResult(enum.StrEnum):
    NO_INFORMATION = "no_information"
    INFORMATION_FOUND = "information_found"
    CHILD_FOUND = "child_found"
    NO_RESPONSE = "no_response"


class Outcome(enum.StrEnum):
    PLACED_ON_ROLL = "placed_on_roll"
    MOVED_TO_OTHER_LA = "moved_to_other_la"
    MOVED_ABROAD = "moved_abroad"
    ELECTIVELY_HOME_EDUCATED = "electively_home_educated"
    OTHER_SUITABLE_PROVISION = "other_suitable_provision"
    DECEASED = "deceased"
    NOT_FOUND_LOST_PUPILS = "not_found_lost_pupils"
    DUPLICATE = "duplicate"


class Action(enum.StrEnum):
    ADD_INFORMATION = "add_information"
    RECORD_ENQUIRY = "record_enquiry"
    LOCATE = "locate"
    REVIEW = "review"
    PLACE = "place"
    CLOSE = "close"


# The lifecycle: the states from which each action is allowed. Everything else answers 409.
ALLOWED: dict[Action, frozenset[Status]] = {
    Action.ADD_INFORMATION: ACTIVE,
    Action.RECORD_ENQUIRY: frozenset({Status.OPEN, Status.ENQUIRIES}),
    Action.LOCATE: frozenset({Status.OPEN, Status.ENQUIRIES}),
    Action.REVIEW: ACTIVE,
    Action.PLACE: ACTIVE,
    Action.CLOSE: ACTIVE,
}


@dataclass(frozen=True)
class Rules:
    """Per-LA configuration; defaults are the first county's (DOMAIN.md §10.3)."""

    review_months: int = 1
    placement_target_days: int = 30
    located_target_days: int = 14
    checklist: tuple[EnquiryKind, ...] = tuple(EnquiryKind)
    ehe_first_contact_months: int = 1
    ehe_visit_offer_months: int = 3
    # UNVERIFIED (DOMAIN.md §5.5): "at least annually" is non-statutory guidance.
    ehe_review_months: int = 12


def add_months(day: date, months: int) -> date:
    """The same day ``months`` calendar months later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


def elapsed(start: date, end: date, school_calendar: SchoolCalendar) -> tuple[int, int | None]:
    """Calendar days from ``start`` to ``end``, and school days after ``start`` up to and including
    ``end`` (from the LA's calendar; None when outside its configured years)."""
    days = max(0, (end - start).days)
    try:
        school_days = school_calendar.count_school_days(start + timedelta(days=1), end)
    except CalendarRangeError:
        school_days = None
    return days, school_days


@dataclass(frozen=True)
class Enquiry:
    id: str
    kind: EnquiryKind
    made_on: date
    made_by: str
    result: EnquiryResult
    notes: str | None
    recorded_at: datetime
    recorded_by: str


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    action: str
    actor: str
    details: dict[str, Any]


@dataclass
class CmeCase:
    id: str
    child_ref: str
    upn: str | None
    child: dict[str, Any]  # personal data: as the referrer or school gave it
    status: Status
    opened_on: date
    opened_at: datetime
    source: str
    source_id: str
    school: dict[str, Any] | None  # the last known school (a SchoolRef as JSON)
    district: str | None
    next_review_due: date
    updated_at: datetime
    last_reviewed_on: date | None = None
    located_on: date | None = None
    days_to_located: int | None = None
    school_days_to_located: int | None = None
    placed_on: date | None = None
    placed_school: dict[str, Any] | None = None
    days_to_placed: int | None = None
    school_days_to_placed: int | None = None
    placed_within_target: bool | None = None
    closed_on: date | None = None
    outcome: Outcome | None = None
    other_la_code: str | None = None
    duplicate_of: str | None = None
    overdue_review_due: date | None = None  # the review date the last overdue notice was about
    overdue_period: int = 0  # ... and its period (one CmeReviewOverdue per period)
    version: int = 0
    enquiries: list[Enquiry] = field(default_factory=list)
    new_enquiries: list[Enquiry] = field(default_factory=list, repr=False)
    new_history: list[HistoryEntry] = field(default_factory=list, repr=False)
    pending_events: list[events.Event] = field(default_factory=list, repr=False)
    changed: bool = field(default=False, repr=False)

    # -- lifecycle ---------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        *,
        id: str,
        child_ref: str,
        upn: str | None,
        child: dict[str, Any],
        source: str,
        source_id: str,
        opened_on: date,
        at: datetime,
        school: dict[str, Any] | None,
        summary: dict[str, Any],
        rules: Rules,
    ) -> CmeCase:
        case = cls(
            id=id,
            child_ref=child_ref,
            upn=upn,
            child=child,
            status=Status.OPEN,
            opened_on=opened_on,
            opened_at=at,
            source=source,
            source_id=source_id,
            school=school,
            district=(school or {}).get("district"),
            next_review_due=add_months(opened_on, rules.review_months),
            updated_at=at,
        )
        case._log(at, "opened", "system", {"source": source, "source_id": source_id, **summary})
        case._raise(at, lambda v: events.CaseOpened(id, v))
        return case

    def _require(self, action: Action) -> None:
        if self.status not in ALLOWED[action]:
            raise IllegalTransition(
                f"a case that is {self.status.value} cannot {action.value.replace('_', ' ')}"
            )

    def _log(self, at: datetime, action: str, actor: str, details: dict[str, Any]) -> None:
        self.new_history.append(HistoryEntry(at, action, actor, details))
        self.updated_at = at
        self.changed = True

    def _raise(self, at: datetime, make: Any) -> None:
        self.version += 1
        self.updated_at = at
        self.changed = True
        self.pending_events.append(make(self.version))

    def add_information(
        self, *, source: str, source_id: str, at: datetime, upn: str | None, summary: dict[str, Any]
    ) -> None:
        """A second referral or deletion return about a child already in an open case."""
        self._require(Action.ADD_INFORMATION)
        if self.upn is None and upn is not None:
            self.upn = upn
        self._log(at, "information_added", "system", {"source": source, "source_id": source_id, **summary})

    def record_enquiry(self, enquiry: Enquiry, *, today: date, rules: Rules) -> None:
        self._require(Action.RECORD_ENQUIRY)
        if enquiry.made_on > today:
            raise InvalidRequest("made_on", "an enquiry cannot be made in the future")
        if enquiry.made_on < self.opened_on - timedelta(days=366):
            raise InvalidRequest("made_on", "the enquiry is dated long before the case opened")
        self.enquiries.append(enquiry)
        self.new_enquiries.append(enquiry)
        self.status = Status.ENQUIRIES
        self._log(
            enquiry.recorded_at,
            "enquiry_recorded",
            enquiry.recorded_by,
            {"enquiry_id": enquiry.id, "kind": enquiry.kind.value, "result": enquiry.result.value},
        )
        complete = not self.checklist_missing(rules)
        self._raise(enquiry.recorded_at, lambda v: events.EnquiryRecorded(self.id, v, enquiry.id, complete))

    def checklist_missing(self, rules: Rules) -> list[EnquiryKind]:
        tried = {e.kind for e in self.enquiries}
        return [k for k in rules.checklist if k not in tried]

    def locate(
        self, located_on: date, *, at: datetime, by: str, today: date, school_calendar: SchoolCalendar
    ) -> None:
        self._require(Action.LOCATE)
        if located_on > today:
            raise InvalidRequest("located_on", "a child cannot be located in the future")
        if located_on < self.opened_on:
            raise InvalidRequest(
                "located_on", "the case opened after that date; give the day the child was found"
            )
        self._set_located(located_on, school_calendar)
        self._log(at, "located", by, {"located_on": located_on.isoformat()})
        self._raise(at, lambda v: events.ChildLocated(self.id, v))

    def _set_located(self, located_on: date, school_calendar: SchoolCalendar) -> None:
        self.status = Status.LOCATED
        self.located_on = located_on
        self.days_to_located, self.school_days_to_located = elapsed(
            self.opened_on, located_on, school_calendar
        )

    def review(self, reviewed_on: date, *, at: datetime, by: str, today: date, rules: Rules) -> None:
        self._require(Action.REVIEW)
        if reviewed_on > today:
            raise InvalidRequest("reviewed_on", "a review cannot be in the future")
        if reviewed_on < self.opened_on or (self.last_reviewed_on and reviewed_on < self.last_reviewed_on):
            raise InvalidRequest("reviewed_on", "a review is on or after the opening and the last review")
        self.last_reviewed_on = reviewed_on
        self.next_review_due = add_months(reviewed_on, rules.review_months)
        self._log(
            at,
            "reviewed",
            by,
            {"reviewed_on": reviewed_on.isoformat(), "next_review_due": self.next_review_due.isoformat()},
        )

    def place(
        self,
        school: dict[str, Any],
        placed_on: date,
        *,
        at: datetime,
        by: str,
        today: date,
        roll_change_id: str | None,
        school_calendar: SchoolCalendar,
        rules: Rules,
    ) -> None:
        """On a roll again: closes the case. A child placed before anyone recorded finding them was
        found by the placement (on the starting day, or today when that is still to come)."""
        self._require(Action.PLACE)
        if self.located_on is None:
            self._set_located(max(self.opened_on, min(placed_on, today)), school_calendar)
            self._raise(at, lambda v: events.ChildLocated(self.id, v))
        self.status = Status.PLACED
        self.placed_on = placed_on
        self.placed_school = school
        self.days_to_placed, self.school_days_to_placed = elapsed(self.opened_on, placed_on, school_calendar)
        self.placed_within_target = self.days_to_placed <= rules.placement_target_days
        self.outcome = Outcome.PLACED_ON_ROLL
        self.closed_on = max(self.opened_on, today)
        self._log(
            at,
            "placed",
            by,
            {
                "school_urn": school.get("urn"),
                "placed_on": placed_on.isoformat(),
                "roll_change_id": roll_change_id,
            },
        )
        self._raise(at, lambda v: events.ChildPlaced(self.id, v, roll_change_id))
        self._raise(at, lambda v: events.CaseClosed(self.id, v))

    def close(
        self,
        outcome: Outcome,
        closed_on: date,
        *,
        at: datetime,
        by: str,
        today: date,
        rules: Rules,
        other_la_code: str | None = None,
        duplicate_of: str | None = None,
    ) -> None:
        self._require(Action.CLOSE)
        if outcome is Outcome.PLACED_ON_ROLL:
            raise InvalidRequest(
                "outcome", "a placement is recorded with the school and date (POST .../placement)"
            )
        if closed_on > today:
            raise InvalidRequest("closed_on", "a case cannot be closed in the future")
        if closed_on < self.opened_on:
            raise InvalidRequest("closed_on", "a case closes on or after the day it opened")
        if outcome is Outcome.MOVED_TO_OTHER_LA and not other_la_code:
            raise InvalidRequest("other_la_code", "moving to another LA gives that LA's code")
        if outcome is Outcome.DUPLICATE and not duplicate_of:
            raise InvalidRequest("duplicate_of", "a duplicate names the case it duplicates")
        if outcome is Outcome.DUPLICATE and duplicate_of == self.id:
            raise InvalidRequest("duplicate_of", "a case cannot duplicate itself")
        if outcome is Outcome.NOT_FOUND_LOST_PUPILS:
            missing = self.checklist_missing(rules)
            if missing:
                raise EnquiriesIncomplete(
                    "not found is only after full enquiries; not yet tried: "
                    + ", ".join(k.value for k in missing)
                )
        self.status = Status.CLOSED
        self.outcome = outcome
        self.closed_on = closed_on
        self.other_la_code = other_la_code if outcome is Outcome.MOVED_TO_OTHER_LA else None
        self.duplicate_of = duplicate_of if outcome is Outcome.DUPLICATE else None
        self._log(
            at,
            "closed",
            by,
            {
                "outcome": outcome.value,
                "closed_on": closed_on.isoformat(),
                "other_la_code": self.other_la_code,
                "duplicate_of": self.duplicate_of,
            },
        )
        self._raise(at, lambda v: events.CaseClosed(self.id, v))

    # -- reviews -----------------------------------------------------------------------------
    def review_overdue_period(self, today: date, rules: Rules) -> int:
        """0 while the review is not overdue; then 1 for the first month after the due date, 2 for
        the next, and so on."""
        if self.status not in ACTIVE or today <= self.next_review_due:
            return 0
        period = 1
        while today > add_months(self.next_review_due, period * rules.review_months):
            period += 1
        return period

    def check_review(self, today: date, *, at: datetime, rules: Rules) -> bool:
        """Raise ReviewOverdue once per overdue period; True when it did."""
        period = self.review_overdue_period(today, rules)
        if period == 0:
            return False
        if self.overdue_review_due == self.next_review_due and self.overdue_period >= period:
            return False
        self.overdue_review_due = self.next_review_due
        self.overdue_period = period
        due = self.next_review_due
        self._log(at, "review_overdue", "system", {"review_due": due.isoformat(), "period": period})
        self._raise(at, lambda v: events.ReviewOverdue(self.id, v, due, period, (today - due).days))
        return True


# -- elective home education --------------------------------------------------------------------


class EheStatus(enum.StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class EheAction(enum.StrEnum):
    FIRST_CONTACT = "first_contact"
    VISIT_OFFERED = "visit_offered"
    REVIEW = "review"
    END = "end"


@dataclass
class EheRegistration:
    id: str
    child_ref: str
    upn: str | None
    child: dict[str, Any]
    status: EheStatus
    source: str
    source_id: str
    registered_on: date
    parent_notice_received_on: date | None
    school: dict[str, Any] | None
    district: str | None
    first_contact_due: date
    visit_offer_due: date
    next_review_due: date
    updated_at: datetime
    first_contact_on: date | None = None
    visit_offered_on: date | None = None
    last_reviewed_on: date | None = None
    ended_on: date | None = None
    end_reason: str | None = None
    version: int = 0
    pending_events: list[events.Event] = field(default_factory=list, repr=False)
    changed: bool = field(default=False, repr=False)

    @classmethod
    def register(
        cls,
        *,
        id: str,
        child_ref: str,
        upn: str | None,
        child: dict[str, Any],
        source: str,
        source_id: str,
        registered_on: date,
        parent_notice_received_on: date | None,
        school: dict[str, Any] | None,
        at: datetime,
        rules: Rules,
    ) -> EheRegistration:
        reg = cls(
            id=id,
            child_ref=child_ref,
            upn=upn,
            child=child,
            status=EheStatus.ACTIVE,
            source=source,
            source_id=source_id,
            registered_on=registered_on,
            parent_notice_received_on=parent_notice_received_on,
            school=school,
            district=(school or {}).get("district"),
            first_contact_due=add_months(registered_on, rules.ehe_first_contact_months),
            visit_offer_due=add_months(registered_on, rules.ehe_visit_offer_months),
            next_review_due=add_months(registered_on, rules.ehe_review_months),
            updated_at=at,
            version=1,
            changed=True,
        )
        reg.pending_events.append(events.EheRegistered(id, 1))
        return reg

    def act(
        self, action: EheAction, on: date, *, at: datetime, today: date, rules: Rules, reason: str | None
    ) -> None:
        if self.status is not EheStatus.ACTIVE:
            raise IllegalTransition("the registration has ended")
        if on > today:
            raise InvalidRequest("on", "the date cannot be in the future")
        if on < self.registered_on:
            raise InvalidRequest("on", "the date is before the registration")
        if action is EheAction.FIRST_CONTACT:
            if self.first_contact_on is not None:
                raise IllegalTransition("first contact is already recorded")
            self.first_contact_on = on
        elif action is EheAction.VISIT_OFFERED:
            if self.visit_offered_on is not None:
                raise IllegalTransition("a visit offer is already recorded")
            self.visit_offered_on = on
        elif action is EheAction.REVIEW:
            self.last_reviewed_on = on
            self.next_review_due = add_months(on, rules.ehe_review_months)
        else:
            if not reason:
                raise InvalidRequest("reason", "ending a registration gives the reason")
            self.status = EheStatus.ENDED
            self.ended_on = on
            self.end_reason = reason
        self.updated_at = at
        self.changed = True

    def overdue(self, today: date) -> list[str]:
        """What is late on an active registration: first_contact, visit_offer, review."""
        if self.status is not EheStatus.ACTIVE:
            return []
        late = []
        if self.first_contact_on is None and today > self.first_contact_due:
            late.append("first_contact")
        if self.visit_offered_on is None and today > self.visit_offer_due:
            late.append("visit_offer")
        if today > self.next_review_due:
            late.append("review")
        return late
