"""Aggregates of exclusions. Each carries a version and records the domain events it raises.

* :class:`Exclusion`: one suspension, lunchtime suspension or permanent exclusion as notified,
  with its deadlines and what happened since (provision, withdrawal, reviews).
* :class:`PupilYear`: one pupil's academic year, the boundary of the 45-day cap and of the
  once-a-year repeat-suspension flag and limit warning.
* :class:`PartTimeTimetable`: a part-time timetable, its reviews and its end.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime

from exclusions.domain import events, rules
from exclusions.domain.errors import IllegalTransition, Rejected
from exclusions.domain.rules import BoardReviewReason, Kind, Policy, Responsibility, Session
from inclusion_kit.calendar import SchoolCalendar


class BoardOutcome(enum.StrEnum):
    UPHELD = "upheld"
    REINSTATED = "reinstated"


class PanelOutcome(enum.StrEnum):
    UPHELD = "upheld"
    RECOMMEND_RECONSIDERATION = "recommend_reconsideration"
    QUASHED = "quashed"


class TimetableOutcome(enum.StrEnum):
    FULL_TIME = "full_time"
    ALTERNATIVE_PROVISION = "alternative_provision"
    LEFT_ROLL = "left_roll"
    OTHER = "other"


class DeadlineKind(enum.StrEnum):
    SIXTH_DAY_PROVISION = "sixth_day_provision"
    BOARD_REVIEW = "board_review"
    REPRESENTATIONS_REVIEW = "representations_review"
    RECONSIDERATION = "reconsideration"


@dataclass(frozen=True)
class PupilFlags:
    """As the school stated them with the notification (special category data)."""

    sen_provision: str  # N, K or E
    ehc_plan: bool
    fsm_eligible: bool
    looked_after: bool
    child_in_need: bool
    child_protection_plan: bool


@dataclass(frozen=True)
class Provision:
    provider: str
    provider_urn: str | None
    starts_on: date
    recorded_at: datetime
    on_time: bool
    school_days_late: int


@dataclass
class Reviews:
    """The governing board, the independent review panel and the reconsideration, as recorded."""

    representations_received_on: date | None = None
    board_outcome: BoardOutcome | None = None
    board_decided_on: date | None = None
    parents_notified_of_decision_on: date | None = None  # deemed date (posted: 2 working days)
    irp_application_due: date | None = None
    irp_applied_on: date | None = None
    panel_outcome: PanelOutcome | None = None
    panel_decided_on: date | None = None
    board_notified_of_panel_on: date | None = None
    reconsideration_due: date | None = None
    reconsideration_outcome: BoardOutcome | None = None
    reconsidered_on: date | None = None


@dataclass
class Exclusion:
    id: str
    child_ref: str
    upn: str
    school_urn: str
    kind: Kind
    start_date: date
    start_session: Session
    end_date: date | None
    sessions: int | None
    days: float  # against the cap
    days_by_term: dict[str, float]
    reason_codes: tuple[str, ...]
    academic_year: str
    pupil: PupilFlags
    parents_notified_at: datetime
    notified_at: datetime
    misses_public_exam: bool
    school_reference: str | None
    submitted_by: str
    board_review_due: date | None = None
    board_review_reasons: tuple[BoardReviewReason, ...] = ()
    representations_review_due: date | None = None
    sixth_day_due: date | None = None
    provision_responsibility: Responsibility | None = None
    provision: Provision | None = None
    provision_missed_on: date | None = None
    withdrawn_on: date | None = None
    withdrawal_reason: str | None = None
    reinstated_on: date | None = None
    reviews: Reviews = field(default_factory=Reviews)
    updated_at: datetime | None = None
    version: int = 0
    persisted_version: int = 0
    pending_events: list[events.Event] = field(default_factory=list, repr=False)

    @classmethod
    def issue(cls, *, year_days: float, year_suspensions: int, **values: object) -> Exclusion:
        exclusion = cls(**values)  # type: ignore[arg-type]
        exclusion.version = 1
        exclusion.updated_at = exclusion.notified_at
        exclusion.pending_events.append(
            events.ExclusionIssued(
                aggregate_id=exclusion.id,
                version=1,
                suspension_days_this_year=year_days,
                suspensions_this_year=year_suspensions,
            )
        )
        return exclusion

    # -- state --

    @property
    def counts_as_suspension(self) -> bool:
        return self.kind is not Kind.PERMANENT and self.withdrawn_on is None

    @property
    def closed(self) -> bool:
        return self.withdrawn_on is not None

    def provision_open(self) -> bool:
        """Provision is still awaited: a duty exists, nothing recorded, and the pupil was not
        reinstated or the exclusion withdrawn by the sixth day."""
        if self.sixth_day_due is None or self.provision is not None or self.closed:
            return False
        return self.reinstated_on is None or self.reinstated_on > self.sixth_day_due

    def open_deadlines(self) -> list[tuple[date, DeadlineKind]]:
        if self.closed:
            return []
        found: list[tuple[date, DeadlineKind]] = []
        if self.provision_open() and self.sixth_day_due is not None:
            found.append((self.sixth_day_due, DeadlineKind.SIXTH_DAY_PROVISION))
        if self.board_review_due is not None and self.reviews.board_outcome is None:
            found.append((self.board_review_due, DeadlineKind.BOARD_REVIEW))
        if (
            self.representations_review_due is not None
            and self.reviews.representations_received_on is not None
            and self.reviews.board_outcome is None
        ):
            found.append((self.representations_review_due, DeadlineKind.REPRESENTATIONS_REVIEW))
        if self.reviews.reconsideration_due is not None and self.reviews.reconsideration_outcome is None:
            found.append((self.reviews.reconsideration_due, DeadlineKind.RECONSIDERATION))
        return sorted(found)

    def next_deadline(self) -> tuple[date, DeadlineKind] | None:
        deadlines = self.open_deadlines()
        return deadlines[0] if deadlines else None

    def _changed(self, at: datetime, event: events.Event | None = None) -> None:
        self.updated_at = at
        if event is not None:
            self.pending_events.append(event)

    def _bump(self) -> int:
        self.version += 1
        return self.version

    # -- transitions --

    def withdraw(self, *, on: date, reason: str | None, at: datetime, year_days_after: float) -> None:
        if self.withdrawn_on is not None:
            raise IllegalTransition("the exclusion is already withdrawn")
        if on < self.start_date:
            raise Rejected([("withdrawn_on", "an exclusion is withdrawn on or after its start date")])
        self.withdrawn_on = on
        self.withdrawal_reason = reason
        version = self._bump()
        self._changed(
            at,
            events.ExclusionWithdrawn(
                aggregate_id=self.id, version=version, suspension_days_this_year=year_days_after
            ),
        )

    def arrange_provision(
        self,
        *,
        provider: str,
        provider_urn: str | None,
        starts_on: date,
        at: datetime,
        calendar: SchoolCalendar,
    ) -> Provision:
        if self.sixth_day_due is None:
            raise IllegalTransition("no sixth-day provision is required for this exclusion")
        if self.closed:
            raise IllegalTransition("the exclusion was withdrawn")
        if self.provision is not None:
            raise IllegalTransition("provision is already recorded for this exclusion")
        if starts_on < self.start_date:
            raise Rejected([("starts_on", "provision starts on or after the exclusion's first day")])
        due = self.sixth_day_due
        late = 0 if starts_on <= due else calendar.count_school_days(calendar.next_school_day(due), starts_on)
        self.provision = Provision(provider, provider_urn, starts_on, at, starts_on <= due, late)
        self._changed(at, events.ProvisionArranged(aggregate_id=self.id, version=self._bump()))
        return self.provision

    def mark_provision_missed(self, today: date, at: datetime) -> bool:
        """Once, when the sixth day has passed and provision is still open."""
        if self.provision_missed_on is not None or not self.provision_open():
            return False
        assert self.sixth_day_due is not None
        if today <= self.sixth_day_due:
            return False
        self.provision_missed_on = today
        self._changed(
            at, events.ProvisionMissed(aggregate_id=self.id, version=self._bump(), detected_on=today)
        )
        return True

    def record_representations(self, received_on: date, at: datetime) -> None:
        """The parents made representations: for 6-15 days in a term the board must now consider
        them within 50 school days of being notified (for 5 days or fewer it considers them but
        need not meet)."""
        self._open_for_review()
        if self.reviews.representations_received_on is not None:
            raise IllegalTransition("the parents' representations are already recorded")
        self.reviews.representations_received_on = received_on
        self._bump()
        self._changed(at)

    def record_board_decision(
        self,
        *,
        outcome: BoardOutcome,
        decided_on: date,
        parents_notified_on: date,
        reinstated_on: date | None,
        at: datetime,
        calendar: SchoolCalendar,
    ) -> None:
        self._open_for_review()
        if self.reviews.board_outcome is not None:
            raise IllegalTransition("the governing board's decision is already recorded")
        errors: list[tuple[str, str]] = []
        if decided_on < self.start_date:
            errors.append(("decided_on", "the board decides after the exclusion starts"))
        if parents_notified_on < decided_on:
            errors.append(("parents_notified_on", "the parents are told after the board decides"))
        if errors:
            raise Rejected(errors)
        self.reviews.board_outcome = outcome
        self.reviews.board_decided_on = decided_on
        self.reviews.parents_notified_of_decision_on = parents_notified_on
        if outcome is BoardOutcome.REINSTATED:
            self.reinstated_on = reinstated_on or decided_on
        elif self.kind is Kind.PERMANENT:
            self.reviews.irp_application_due = rules.irp_application_due(calendar, parents_notified_on)
        self._bump()
        self._changed(at)

    def record_panel_decision(
        self,
        *,
        applied_on: date,
        outcome: PanelOutcome,
        decided_on: date,
        board_notified_on: date,
        at: datetime,
        calendar: SchoolCalendar,
    ) -> None:
        self._open_for_review()
        if self.kind is not Kind.PERMANENT:
            raise IllegalTransition("an independent review panel hears permanent exclusions only")
        if self.reviews.board_outcome is not BoardOutcome.UPHELD:
            raise IllegalTransition("the panel reviews a board's decision to uphold the exclusion")
        if self.reviews.panel_outcome is not None:
            raise IllegalTransition("the panel's decision is already recorded")
        due = self.reviews.irp_application_due
        errors: list[tuple[str, str]] = []
        if due is not None and applied_on > due:
            errors.append(
                ("applied_on", f"the application window closed on {due.isoformat()} (15 school days)")
            )
        if decided_on < applied_on:
            errors.append(("decided_on", "the panel decides after the application"))
        if board_notified_on < decided_on:
            errors.append(("board_notified_on", "the board is notified after the panel decides"))
        if errors:
            raise Rejected(errors)
        self.reviews.irp_applied_on = applied_on
        self.reviews.panel_outcome = outcome
        self.reviews.panel_decided_on = decided_on
        self.reviews.board_notified_of_panel_on = board_notified_on
        if outcome is not PanelOutcome.UPHELD:
            self.reviews.reconsideration_due = rules.reconsideration_due(calendar, board_notified_on)
        self._bump()
        self._changed(at)

    def record_reconsideration(self, *, outcome: BoardOutcome, decided_on: date, at: datetime) -> None:
        self._open_for_review()
        if self.reviews.reconsideration_due is None:
            raise IllegalTransition("no reconsideration was directed or recommended")
        if self.reviews.reconsideration_outcome is not None:
            raise IllegalTransition("the reconsideration is already recorded")
        assert self.reviews.panel_decided_on is not None
        if decided_on < self.reviews.panel_decided_on:
            raise Rejected([("decided_on", "the board reconsiders after the panel's decision")])
        self.reviews.reconsideration_outcome = outcome
        self.reviews.reconsidered_on = decided_on
        if outcome is BoardOutcome.REINSTATED:
            self.reinstated_on = decided_on
        self._bump()
        self._changed(at)

    def _open_for_review(self) -> None:
        if self.closed:
            raise IllegalTransition("the exclusion was withdrawn")


@dataclass(frozen=True)
class Counted:
    """One of the pupil's exclusions in a year, as the cap and the flag count it."""

    id: str
    kind: Kind
    days: float
    days_by_term: dict[str, float]


@dataclass
class PupilYear:
    child_ref: str
    academic_year: str
    repeat_flagged_on: date | None = None
    limit_reached_on: date | None = None
    version: int = 0
    persisted_version: int = 0
    updated_at: datetime | None = None
    pending_events: list[events.Event] = field(default_factory=list, repr=False)

    @property
    def id(self) -> str:
        return f"{self.child_ref}/{self.academic_year.replace('/', '-')}"

    @staticmethod
    def suspension_days(counted: list[Counted]) -> float:
        return sum(c.days for c in counted if c.kind is not Kind.PERMANENT)

    @staticmethod
    def suspensions(counted: list[Counted], policy: Policy) -> list[Counted]:
        kinds = {Kind.SUSPENSION, Kind.LUNCHTIME} if policy.repeat_counts_lunchtimes else {Kind.SUSPENSION}
        return [c for c in counted if c.kind in kinds]

    def consider(
        self, counted: list[Counted], *, school_urn: str, upn: str, today: date, at: datetime, policy: Policy
    ) -> None:
        """After a new suspension: raise the repeat flag and the limit warning, each once a year."""
        days = self.suspension_days(counted)
        suspensions = self.suspensions(counted, policy)
        if self.repeat_flagged_on is None and len(suspensions) >= policy.repeat_suspensions:
            self.repeat_flagged_on = today
            self.version += 1
            self.pending_events.append(
                events.RepeatSuspensionFlagged(
                    aggregate_id=self.id,
                    version=self.version,
                    school_urn=school_urn,
                    upn=upn,
                    exclusion_ids=tuple(c.id for c in suspensions),
                    suspensions=len(suspensions),
                    days=days,
                    flagged_on=today,
                )
            )
        if self.limit_reached_on is None and days >= policy.warning_days:
            self.limit_reached_on = today
            self.version += 1
            self.pending_events.append(
                events.SuspensionLimitReached(
                    aggregate_id=self.id,
                    version=self.version,
                    school_urn=school_urn,
                    upn=upn,
                    days=days,
                    warning_days=policy.warning_days,
                )
            )
        if self.pending_events:
            self.updated_at = at


@dataclass
class PartTimeTimetable:
    id: str
    child_ref: str
    upn: str
    school_urn: str
    starts_on: date
    planned_end_on: date
    hours_per_week: float
    reason: str
    parent_agreed_on: date
    review_dates: tuple[date, ...]
    review_due: date
    notified_at: datetime
    submitted_by: str
    reviews: list[dict[str, str | None]] = field(default_factory=list)
    ended_on: date | None = None
    outcome: TimetableOutcome | None = None
    updated_at: datetime | None = None
    version: int = 0
    persisted_version: int = 0
    pending_events: list[events.Event] = field(default_factory=list, repr=False)

    @staticmethod
    def check(
        *,
        starts_on: date,
        planned_end_on: date | None,
        review_dates: list[date],
        parent_agreed_on: date | None,
    ) -> list[tuple[str, str]]:
        errors: list[tuple[str, str]] = []
        if planned_end_on is None:
            errors.append(("planned_end_on", "a part-time timetable is time-limited: give its planned end"))
        elif planned_end_on < starts_on:
            errors.append(("planned_end_on", "the planned end is before the start"))
        if not review_dates:
            errors.append(
                ("review_dates", "a part-time timetable is reviewed: give at least one review date")
            )
        for i, day in enumerate(review_dates):
            if day < starts_on or (planned_end_on is not None and day > planned_end_on):
                errors.append(
                    (f"review_dates/{i}", "review dates fall between the start and the planned end")
                )
        if parent_agreed_on is None:
            errors.append(("parent_agreed_on", "a part-time timetable must be agreed with the parent"))
        elif parent_agreed_on > starts_on:
            errors.append(("parent_agreed_on", "the parent agrees before the timetable starts"))
        return errors

    @classmethod
    def start(cls, **values: object) -> PartTimeTimetable:
        timetable = cls(**values)  # type: ignore[arg-type]
        timetable.version = 1
        timetable.updated_at = timetable.notified_at
        timetable.pending_events.append(events.PartTimeTimetableStarted(aggregate_id=timetable.id, version=1))
        return timetable

    @property
    def last_reviewed_on(self) -> date | None:
        dates = [date.fromisoformat(str(r["on"])) for r in self.reviews]
        return max(dates) if dates else None

    def review(
        self,
        *,
        on: date,
        notes: str | None,
        new_planned_end_on: date | None,
        at: datetime,
        calendar: SchoolCalendar,
        policy: Policy,
    ) -> None:
        if self.ended_on is not None:
            raise IllegalTransition("the timetable has ended")
        errors: list[tuple[str, str]] = []
        if on < self.starts_on:
            errors.append(("reviewed_on", "a review comes after the timetable starts"))
        if new_planned_end_on is not None and new_planned_end_on < on:
            errors.append(("new_planned_end_on", "the new planned end is before the review"))
        if errors:
            raise Rejected(errors)
        self.reviews.append({"on": on.isoformat(), "notes": notes})
        if new_planned_end_on is not None:
            self.planned_end_on = new_planned_end_on
        last = self.last_reviewed_on or on
        self.review_due = rules.part_time_review_due(calendar, last, policy)
        self.version += 1
        self.updated_at = at

    def end(self, *, on: date, outcome: TimetableOutcome, at: datetime) -> None:
        if self.ended_on is not None:
            raise IllegalTransition("the timetable has already ended")
        if on < self.starts_on:
            raise Rejected([("ended_on", "a timetable ends on or after its start")])
        self.ended_on = on
        self.outcome = outcome
        self.version += 1
        self.updated_at = at
        self.pending_events.append(events.PartTimeTimetableEnded(aggregate_id=self.id, version=self.version))

    @property
    def ran_past_planned_end(self) -> bool:
        return self.ended_on is not None and self.ended_on > self.planned_end_on
