"""Tables of enforcement's own database (no other service reads them)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Index, Integer, String, Table, Text

from inclusion_kit.db.metadata import KitTables, make_metadata

metadata = make_metadata()
# Outbox, inbox, dead letters and audit log: the plumbing every service owns.
tables = KitTables(metadata)

# Schools as AttendanceRecorded describes them (district scopes officers; events carry them).
schools = Table(
    "schools",
    metadata,
    Column("urn", String(6), primary_key=True),
    Column("laestab", String(7), nullable=True),
    Column("la_code", String(3), nullable=True),
    Column("name", String(200), nullable=True),
    Column("phase", String(20), nullable=False),
    Column("district", String(100), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# One row per enrolment (school, child) and session: the mark counted, and the version of the
# AttendanceRecorded that set it (an older event never overwrites a newer mark).
attendance_marks = Table(
    "attendance_marks",
    metadata,
    Column("school_urn", String(6), primary_key=True),
    Column("child_ref", String(64), primary_key=True),
    Column("date", Date, primary_key=True),
    Column("session", String(2), primary_key=True),
    Column("code", String(3), nullable=False),
    Column("regime", String(4), nullable=False),
    Column("category", String(8), nullable=False),
    Column("threshold", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    # What the last replacement replaced (the counts it took back); NULL until a correction.
    Column("replaced_category", String(8), nullable=True),
    Column("replaced_threshold", Boolean, nullable=True),
)


def _counts() -> list[Column[int]]:
    return [
        Column(name, Integer, nullable=False, default=0)
        for name in ("possible", "present", "aea", "authorised", "unauthorised", "threshold")
    ]


# Counts per enrolment and school week (the rolling 10-school-week window reads these).
attendance_weeks = Table(
    "attendance_weeks",
    metadata,
    Column("school_urn", String(6), primary_key=True),
    Column("child_ref", String(64), primary_key=True),
    Column("week_start", Date, primary_key=True),
    Column("academic_year", String(7), nullable=False),
    Column("term", String(12), nullable=False),
    *_counts(),
)

# Counts per enrolment, academic year and term.
attendance_terms = Table(
    "attendance_terms",
    metadata,
    Column("school_urn", String(6), primary_key=True),
    Column("child_ref", String(64), primary_key=True),
    Column("academic_year", String(7), primary_key=True),
    Column("term", String(12), primary_key=True),
    *_counts(),
)

# The position per enrolment and academic year: year-to-date counts and the persistent-absence
# flags that make each crossing raise its event once per term.
attendance_positions = Table(
    "attendance_positions",
    metadata,
    Column("school_urn", String(6), primary_key=True),
    Column("child_ref", String(64), primary_key=True),
    Column("academic_year", String(7), primary_key=True),
    Column("id", String(90), nullable=False),  # "<urn>/<child_ref>/<year>": the list cursor's id
    Column("upn", String(13), nullable=True),
    *_counts(),
    Column("as_at", Date, nullable=False),
    Column("as_at_term", String(12), nullable=False),
    Column("remaining_in_term", Integer, nullable=False),
    Column("pa_reached", Boolean, nullable=False, default=False),
    Column("sa_reached", Boolean, nullable=False, default=False),
    Column("pa_event_term", String(12), nullable=True),
    Column("sa_event_term", String(12), nullable=True),
    Column("warn_event_term", String(12), nullable=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_attendance_positions_school_urn_upn", attendance_positions.c.school_urn, attendance_positions.c.upn)
Index("ix_attendance_positions_updated_at_id", attendance_positions.c.updated_at, attendance_positions.c.id)

# Liable parents (personal data), one reference per person so the limit per parent per child
# holds across requests from different schools.
parents = Table(
    "parents",
    metadata,
    Column("parent_ref", String(64), primary_key=True),
    Column("match_key", String(400), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

penalty_requests = Table(
    "penalty_requests",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("child_ref", String(64), nullable=False),
    Column("school_urn", String(6), nullable=False),
    Column("la_code", String(3), nullable=False),
    Column("upn", String(13), nullable=False),
    Column("offence_type", String(40), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("parents", JSON, nullable=False),  # personal data: read only through audited endpoints
    Column("notice_to_improve_issued_on", Date, nullable=True),
    Column("aggravating_factors", JSON, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("decision", JSON, nullable=True),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)
Index("ix_penalty_requests_updated_at_id", penalty_requests.c.updated_at, penalty_requests.c.id)
Index(
    "ix_penalty_requests_school_urn_updated_at", penalty_requests.c.school_urn, penalty_requests.c.updated_at
)
Index("ix_penalty_requests_status", penalty_requests.c.status)
Index("ix_penalty_requests_child_ref", penalty_requests.c.child_ref)

penalty_notices = Table(
    "penalty_notices",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("number", String(40), nullable=False, unique=True),
    Column("request_id", String(64), nullable=False),
    Column("child_ref", String(64), nullable=False),
    Column("school_urn", String(6), nullable=False),
    Column("parent_ref", String(64), nullable=False),
    Column("code_of_conduct", String(40), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("amounts", JSON, nullable=False),
    Column("offence_type", String(40), nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("issued_by", String(200), nullable=False),
    Column("issue_due_by", Date, nullable=True),
    Column("service_method", String(10), nullable=False),
    Column("served_on", Date, nullable=False),
    Column("received_on", Date, nullable=False),
    Column("reduced_due_by", Date, nullable=True),
    Column("full_due_by", Date, nullable=False),
    Column("last_offence_date", Date, nullable=True),
    Column("status", String(20), nullable=False),
    Column("paid_on", Date, nullable=True),
    Column("paid_pence", Integer, nullable=True),
    Column("payment_rate", String(10), nullable=True),
    Column("withdrawn_on", Date, nullable=True),
    Column("withdrawal_ground", String(40), nullable=True),
    Column("withdrawal_note", Text, nullable=True),
    Column("prosecution_case_id", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)
Index("ix_penalty_notices_parent_ref_child_ref", penalty_notices.c.parent_ref, penalty_notices.c.child_ref)
Index("ix_penalty_notices_status_full_due_by", penalty_notices.c.status, penalty_notices.c.full_due_by)
Index("ix_penalty_notices_updated_at_id", penalty_notices.c.updated_at, penalty_notices.c.id)
Index("ix_penalty_notices_request_id", penalty_notices.c.request_id)

prosecution_cases = Table(
    "prosecution_cases",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("notice_id", String(64), nullable=True, unique=True),
    Column("child_ref", String(64), nullable=False),
    Column("school_urn", String(6), nullable=False),
    Column("parent_ref", String(64), nullable=False),
    Column("offence_section", String(10), nullable=False),
    Column("last_offence_date", Date, nullable=False),
    Column("time_limit", Date, nullable=False),
    Column("started_on", Date, nullable=False),
    Column("status", String(20), nullable=False),
    Column("laid_on", Date, nullable=True),
    Column("hearing_on", Date, nullable=True),
    Column("outcome", String(20), nullable=True),
    Column("concluded_on", Date, nullable=True),
    Column("fine_pence", Integer, nullable=True),
    Column("costs_pence", Integer, nullable=True),
    Column("orders", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)
Index("ix_prosecution_cases_updated_at_id", prosecution_cases.c.updated_at, prosecution_cases.c.id)
Index("ix_prosecution_cases_status_time_limit", prosecution_cases.c.status, prosecution_cases.c.time_limit)

# Notice numbers: one counter per LA and year of issue ("886-2025-000001").
notice_counters = Table(
    "notice_counters",
    metadata,
    Column("scope", String(20), primary_key=True),
    Column("last", Integer, nullable=False),
)
