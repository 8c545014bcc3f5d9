"""Tables of referral-api's own database (no other service reads them)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Index, Integer, String, Table, Text

from inclusion_kit.db.metadata import KitTables, make_metadata

metadata = make_metadata()
# Outbox, inbox, dead letters and audit log: the plumbing every service owns.
tables = KitTables(metadata)

# The reference list of schools (GIAS-style import): phase and district flow into events.
schools = Table(
    "schools",
    metadata,
    Column("urn", String(6), primary_key=True),
    Column("laestab", String(7), nullable=True, unique=True),
    Column("la_code", String(3), nullable=True),
    Column("name", String(200), nullable=False),
    Column("phase", String(20), nullable=False),
    Column("district", String(100), nullable=True),
    Column("is_open", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The platform's reference for a child: one per UPN where the UPN is known.
children = Table(
    "children",
    metadata,
    Column("child_ref", String(64), primary_key=True),
    Column("upn", String(13), nullable=True, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

referrals = Table(
    "referrals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("child_ref", String(64), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("school_urn", String(6), nullable=True),
    Column("referrer", JSON, nullable=False),
    Column("child", JSON, nullable=False),  # personal data: read only through audited endpoints
    Column("summary", Text, nullable=True),
    Column("details", JSON, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("response_due", Date, nullable=False),
    Column("submitted_by", String(200), nullable=False),
    Column("decision_reason", Text, nullable=True),
    Column("redirected_to", String(200), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("decided_by", String(200), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)
Index("ix_referrals_updated_at_id", referrals.c.updated_at, referrals.c.id)
Index("ix_referrals_school_urn_updated_at", referrals.c.school_urn, referrals.c.updated_at)
Index("ix_referrals_status_response_due", referrals.c.status, referrals.c.response_due)
Index("ix_referrals_child_ref", referrals.c.child_ref)

# Deletion and new-pupil returns, as received (personal data in `child` and `details`).
roll_changes = Table(
    "roll_changes",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("school_urn", String(6), nullable=False),
    Column("child_ref", String(64), nullable=False),
    Column("child", JSON, nullable=False),
    Column("details", JSON, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("submitted_by", String(200), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)
Index("ix_roll_changes_kind_updated_at_id", roll_changes.c.kind, roll_changes.c.updated_at, roll_changes.c.id)
Index("ix_roll_changes_school_urn", roll_changes.c.school_urn)

# Who is on which school's roll, from new-pupil and deletion returns and the schools' roll
# imports (attendance marks check it). Imports add the year group and census characteristics that
# PupilEnrolmentRecorded carries; ``version`` counts those events per enrolment.
roll = Table(
    "roll",
    metadata,
    Column("school_urn", String(6), primary_key=True),
    Column("child_ref", String(64), primary_key=True),
    Column("upn", String(13), nullable=True),
    Column("on_roll_from", Date, nullable=False),
    Column("left_on", Date, nullable=True),
    Column("year_group", String(3), nullable=True),
    Column("person", JSON, nullable=True),  # personal data: names, date of birth, sex
    Column("characteristics", JSON, nullable=True),  # special category data
    Column("version", Integer, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=True),
)
Index("ix_roll_school_urn_upn", roll.c.school_urn, roll.c.upn)

# Register marks: one row per (school, UPN, date, session); a correction replaces the code and
# remembers the one it replaced for the submission that changed it.
attendance_marks = Table(
    "attendance_marks",
    metadata,
    Column("school_urn", String(6), primary_key=True),
    Column("upn", String(13), primary_key=True),
    Column("date", Date, primary_key=True),
    Column("session", String(2), primary_key=True),
    Column("child_ref", String(64), nullable=False),
    Column("code", String(3), nullable=False),
    Column("regime", String(4), nullable=False),
    Column("minutes_late", Integer, nullable=True),
    Column("previous_code", String(3), nullable=True),
    Column("submission_id", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Per pupil and school: the version carried by that pupil's AttendanceRecorded events.
attendance_versions = Table(
    "attendance_versions",
    metadata,
    Column("school_urn", String(6), primary_key=True),
    Column("child_ref", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
)
