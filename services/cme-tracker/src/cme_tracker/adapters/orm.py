"""Tables of cme-tracker's own database (no other service reads them)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Index, Integer, String, Table, Text

from inclusion_kit.db.metadata import BigIntId, KitTables, make_metadata

metadata = make_metadata()
# Outbox, inbox, dead letters and audit log: the plumbing every service owns.
tables = KitTables(metadata)

# CME cases (personal data in `child`; read only through audited endpoints).
cme_cases = Table(
    "cme_cases",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("child_ref", String(64), nullable=False),
    Column("upn", String(13), nullable=True),
    Column("child", JSON, nullable=False),
    Column("date_of_birth", Date, nullable=True),  # copied from `child` for the age filter
    Column("status", String(20), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("source", String(30), nullable=False),
    Column("source_id", String(64), nullable=False),
    Column("school", JSON, nullable=True),
    Column("school_urn", String(6), nullable=True),
    Column("district", String(100), nullable=True),
    Column("next_review_due", Date, nullable=False),
    Column("last_reviewed_on", Date, nullable=True),
    Column("located_on", Date, nullable=True),
    Column("days_to_located", Integer, nullable=True),
    Column("school_days_to_located", Integer, nullable=True),
    Column("placed_on", Date, nullable=True),
    Column("placed_school", JSON, nullable=True),
    Column("days_to_placed", Integer, nullable=True),
    Column("school_days_to_placed", Integer, nullable=True),
    Column("placed_within_target", Boolean, nullable=True),
    Column("closed_on", Date, nullable=True),
    Column("outcome", String(40), nullable=True),
    Column("other_la_code", String(3), nullable=True),
    Column("duplicate_of", String(64), nullable=True),
    Column("overdue_review_due", Date, nullable=True),
    Column("overdue_period", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)
Index("ix_cme_cases_updated_at_id", cme_cases.c.updated_at, cme_cases.c.id)
Index("ix_cme_cases_child_ref", cme_cases.c.child_ref)
Index("ix_cme_cases_upn", cme_cases.c.upn)
Index("ix_cme_cases_status_next_review_due", cme_cases.c.status, cme_cases.c.next_review_due)
Index("ix_cme_cases_district", cme_cases.c.district)

# Which referral or roll change fed which case: a source is taken once (idempotent beyond the inbox).
cme_case_sources = Table(
    "cme_case_sources",
    metadata,
    Column("source", String(30), primary_key=True),
    Column("source_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

cme_enquiries = Table(
    "cme_enquiries",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("made_on", Date, nullable=False),
    Column("made_by", String(200), nullable=False),
    Column("result", String(40), nullable=False),
    Column("notes", Text, nullable=True),  # may hold personal data
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by", String(200), nullable=False),
)
Index("ix_cme_enquiries_case_id", cme_enquiries.c.case_id)

# Append-only history of each case (who did what, when).
cme_case_history = Table(
    "cme_case_history",
    metadata,
    Column("seq", BigIntId, primary_key=True, autoincrement=True),
    Column("case_id", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("action", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("details", JSON, nullable=False),
)
Index("ix_cme_case_history_case_id_seq", cme_case_history.c.case_id, cme_case_history.c.seq)

# The elective home education register.
ehe_registrations = Table(
    "ehe_registrations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("child_ref", String(64), nullable=False),
    Column("upn", String(13), nullable=True),
    Column("child", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("source", String(30), nullable=False),
    Column("source_id", String(64), nullable=False),
    Column("registered_on", Date, nullable=False),
    Column("parent_notice_received_on", Date, nullable=True),
    Column("school", JSON, nullable=True),
    Column("school_urn", String(6), nullable=True),
    Column("district", String(100), nullable=True),
    Column("first_contact_due", Date, nullable=False),
    Column("first_contact_on", Date, nullable=True),
    Column("visit_offer_due", Date, nullable=False),
    Column("visit_offered_on", Date, nullable=True),
    Column("next_review_due", Date, nullable=False),
    Column("last_reviewed_on", Date, nullable=True),
    Column("ended_on", Date, nullable=True),
    Column("end_reason", String(200), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)
Index("ix_ehe_registrations_updated_at_id", ehe_registrations.c.updated_at, ehe_registrations.c.id)
Index("ix_ehe_registrations_child_ref", ehe_registrations.c.child_ref)
Index("ix_ehe_registrations_upn", ehe_registrations.c.upn)

# Every deletion return seen, for the off-rolling watch (no names: references and facts only).
roll_deletions = Table(
    "roll_deletions",
    metadata,
    Column("id", String(64), primary_key=True),  # the roll change id
    Column("child_ref", String(64), nullable=False),
    Column("school_urn", String(6), nullable=False),
    Column("school", JSON, nullable=False),
    Column("district", String(100), nullable=True),
    Column("ground", String(20), nullable=False),
    Column("ground_met_on", Date, nullable=False),
    Column("deleted_on", Date, nullable=True),
    Column("received_on", Date, nullable=False),
    Column("academic_year", String(7), nullable=False),
    Column("year_group", Integer, nullable=True),
    Column("evidence_gaps", JSON, nullable=False),
    Column("flagged", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index(
    "ix_roll_deletions_flagged_updated_at_id",
    roll_deletions.c.flagged,
    roll_deletions.c.updated_at,
    roll_deletions.c.id,
)
Index("ix_roll_deletions_academic_year_school", roll_deletions.c.academic_year, roll_deletions.c.school_urn)

# Pupils on schools' rolls by year group (PupilEnrolmentRecorded): the watch's denominators.
enrolments = Table(
    "enrolments",
    metadata,
    Column("school_urn", String(6), primary_key=True),
    Column("child_ref", String(64), primary_key=True),
    Column("school", JSON, nullable=False),
    Column("year_group", String(4), nullable=True),
    Column("on_roll_from", Date, nullable=False),
    Column("on_roll_until", Date, nullable=True),
    Column("version", Integer, nullable=False),
)
