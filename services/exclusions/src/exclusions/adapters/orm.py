"""Tables of exclusions's own database (no other service reads them)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Float, Index, Integer, String, Table, Text, text

from inclusion_kit.db.metadata import KitTables, make_metadata

metadata = make_metadata()
# Outbox, inbox, dead letters and audit log: the plumbing every service owns.
tables = KitTables(metadata)

# Schools as the roll events describe them (URN, phase, district): what events and lists need.
schools = Table(
    "schools",
    metadata,
    Column("urn", String(6), primary_key=True),
    Column("laestab", String(7), nullable=True),
    Column("la_code", String(3), nullable=True),
    Column("name", String(200), nullable=True),
    Column("phase", String(20), nullable=True),
    Column("district", String(100), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The local roll projection, from referral-api's roll events: which UPN is on which school's roll,
# from when until when, and the child's platform reference.
roll = Table(
    "roll",
    metadata,
    Column("school_urn", String(6), primary_key=True),
    Column("upn", String(13), primary_key=True),
    Column("child_ref", String(64), nullable=False),
    Column("on_roll_from", Date, nullable=True),
    Column("on_roll_until", Date, nullable=True),
    # PupilEnrolmentRecorded's aggregate version (stale ones are ignored) and the time of the last
    # roll event applied (a return older than the row's last change is ignored).
    Column("enrolment_version", Integer, nullable=True),
    Column("last_event_at", DateTime(timezone=True), nullable=False),
)
Index("ix_roll_child_ref", roll.c.child_ref)

# Suspensions, lunchtime suspensions and permanent exclusions as notified (personal data: upn,
# pupil flags). Deadlines are columns so lists can filter on them.
exclusions = Table(
    "exclusions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("child_ref", String(64), nullable=False),
    Column("upn", String(13), nullable=False),
    Column("school_urn", String(6), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("start_session", String(2), nullable=False),
    Column("end_date", Date, nullable=True),
    Column("sessions", Integer, nullable=True),
    Column("days", Float, nullable=False),
    Column("days_by_term", JSON, nullable=False),
    Column("reason_codes", JSON, nullable=False),
    Column("academic_year", String(7), nullable=False),
    Column("pupil", JSON, nullable=False),
    Column("parents_notified_at", DateTime(timezone=True), nullable=False),
    Column("notified_at", DateTime(timezone=True), nullable=False),
    Column("misses_public_exam", Boolean, nullable=False),
    Column("school_reference", String(100), nullable=True),
    Column("submitted_by", String(200), nullable=False),
    Column("board_review_due", Date, nullable=True),
    Column("board_review_reasons", JSON, nullable=False),
    Column("representations_review_due", Date, nullable=True),
    Column("sixth_day_due", Date, nullable=True),
    Column("provision_responsibility", String(20), nullable=True),
    Column("provision", JSON(none_as_null=True), nullable=True),
    Column("provision_missed_on", Date, nullable=True),
    Column("withdrawn_on", Date, nullable=True),
    Column("withdrawal_reason", Text, nullable=True),
    Column("reinstated_on", Date, nullable=True),
    Column("reviews", JSON, nullable=False),
    Column("next_deadline", Date, nullable=True),
    Column("next_deadline_kind", String(40), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)
Index("ix_exclusions_updated_at_id", exclusions.c.updated_at, exclusions.c.id)
Index("ix_exclusions_child_ref_academic_year", exclusions.c.child_ref, exclusions.c.academic_year)
Index("ix_exclusions_school_urn_updated_at", exclusions.c.school_urn, exclusions.c.updated_at)
Index("ix_exclusions_next_deadline", exclusions.c.next_deadline)
Index("ix_exclusions_sixth_day_due", exclusions.c.sixth_day_due)
# A natural duplicate (the same school, pupil, kind and start) is refused while the first stands.
Index(
    "uq_exclusions_natural_key",
    exclusions.c.school_urn,
    exclusions.c.child_ref,
    exclusions.c.kind,
    exclusions.c.start_date,
    exclusions.c.start_session,
    unique=True,
    sqlite_where=text("withdrawn_on IS NULL"),
    postgresql_where=text("withdrawn_on IS NULL"),
)

# One row per pupil and academic year: the once-a-year flags (and the row the cap check locks).
pupil_years = Table(
    "pupil_years",
    metadata,
    Column("child_ref", String(64), primary_key=True),
    Column("academic_year", String(7), primary_key=True),
    Column("repeat_flagged_on", Date, nullable=True),
    Column("limit_reached_on", Date, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)

part_time_timetables = Table(
    "part_time_timetables",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("child_ref", String(64), nullable=False),
    Column("upn", String(13), nullable=False),
    Column("school_urn", String(6), nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("planned_end_on", Date, nullable=False),
    Column("hours_per_week", Float, nullable=False),
    Column("reason", Text, nullable=False),
    Column("parent_agreed_on", Date, nullable=False),
    Column("review_dates", JSON, nullable=False),
    Column("reviews", JSON, nullable=False),
    Column("review_due", Date, nullable=False),
    Column("ended_on", Date, nullable=True),
    Column("outcome", String(40), nullable=True),
    Column("notified_at", DateTime(timezone=True), nullable=False),
    Column("submitted_by", String(200), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)
Index("ix_part_time_timetables_updated_at_id", part_time_timetables.c.updated_at, part_time_timetables.c.id)
Index("ix_part_time_timetables_school_urn", part_time_timetables.c.school_urn)
Index("ix_part_time_timetables_child_ref", part_time_timetables.c.child_ref)
# One running timetable per pupil at a school.
Index(
    "uq_part_time_timetables_running",
    part_time_timetables.c.school_urn,
    part_time_timetables.c.child_ref,
    unique=True,
    sqlite_where=text("ended_on IS NULL"),
    postgresql_where=text("ended_on IS NULL"),
)

# What the scheduler found overdue, once per subject, kind and due date: officers' work queue.
alerts = Table(
    "alerts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("subject_type", String(40), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("child_ref", String(64), nullable=False),
    Column("school_urn", String(6), nullable=False),
    Column("due_on", Date, nullable=False),
    Column("raised_on", Date, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("uq_alerts_kind_subject_due", alerts.c.kind, alerts.c.subject_id, alerts.c.due_on, unique=True)
Index("ix_alerts_updated_at_id", alerts.c.updated_at, alerts.c.id)
