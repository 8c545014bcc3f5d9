"""Schools and the roll projection, exclusions, pupil years, part-time timetables and alerts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "schools",
        sa.Column("urn", sa.String(6), nullable=False),
        sa.Column("laestab", sa.String(7), nullable=True),
        sa.Column("la_code", sa.String(3), nullable=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("phase", sa.String(20), nullable=True),
        sa.Column("district", sa.String(100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("urn", name=op.f("pk_schools")),
    )
    op.create_table(
        "roll",
        sa.Column("school_urn", sa.String(6), nullable=False),
        sa.Column("upn", sa.String(13), nullable=False),
        sa.Column("child_ref", sa.String(64), nullable=False),
        sa.Column("on_roll_from", sa.Date(), nullable=True),
        sa.Column("on_roll_until", sa.Date(), nullable=True),
        sa.Column("enrolment_version", sa.Integer(), nullable=True),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("school_urn", "upn", name=op.f("pk_roll")),
    )
    op.create_index("ix_roll_child_ref", "roll", ["child_ref"])
    op.create_table(
        "exclusions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("child_ref", sa.String(64), nullable=False),
        sa.Column("upn", sa.String(13), nullable=False),
        sa.Column("school_urn", sa.String(6), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("start_session", sa.String(2), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("sessions", sa.Integer(), nullable=True),
        sa.Column("days", sa.Float(), nullable=False),
        sa.Column("days_by_term", sa.JSON(), nullable=False),
        sa.Column("reason_codes", sa.JSON(), nullable=False),
        sa.Column("academic_year", sa.String(7), nullable=False),
        sa.Column("pupil", sa.JSON(), nullable=False),
        sa.Column("parents_notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("misses_public_exam", sa.Boolean(), nullable=False),
        sa.Column("school_reference", sa.String(100), nullable=True),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("board_review_due", sa.Date(), nullable=True),
        sa.Column("board_review_reasons", sa.JSON(), nullable=False),
        sa.Column("representations_review_due", sa.Date(), nullable=True),
        sa.Column("sixth_day_due", sa.Date(), nullable=True),
        sa.Column("provision_responsibility", sa.String(20), nullable=True),
        sa.Column("provision", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("provision_missed_on", sa.Date(), nullable=True),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        sa.Column("withdrawal_reason", sa.Text(), nullable=True),
        sa.Column("reinstated_on", sa.Date(), nullable=True),
        sa.Column("reviews", sa.JSON(), nullable=False),
        sa.Column("next_deadline", sa.Date(), nullable=True),
        sa.Column("next_deadline_kind", sa.String(40), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exclusions")),
    )
    op.create_index("ix_exclusions_updated_at_id", "exclusions", ["updated_at", "id"])
    op.create_index("ix_exclusions_child_ref_academic_year", "exclusions", ["child_ref", "academic_year"])
    op.create_index("ix_exclusions_school_urn_updated_at", "exclusions", ["school_urn", "updated_at"])
    op.create_index("ix_exclusions_next_deadline", "exclusions", ["next_deadline"])
    op.create_index("ix_exclusions_sixth_day_due", "exclusions", ["sixth_day_due"])
    op.create_index(
        "uq_exclusions_natural_key",
        "exclusions",
        ["school_urn", "child_ref", "kind", "start_date", "start_session"],
        unique=True,
        sqlite_where=sa.text("withdrawn_on IS NULL"),
        postgresql_where=sa.text("withdrawn_on IS NULL"),
    )
    op.create_table(
        "pupil_years",
        sa.Column("child_ref", sa.String(64), nullable=False),
        sa.Column("academic_year", sa.String(7), nullable=False),
        sa.Column("repeat_flagged_on", sa.Date(), nullable=True),
        sa.Column("limit_reached_on", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("child_ref", "academic_year", name=op.f("pk_pupil_years")),
    )
    op.create_table(
        "part_time_timetables",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("child_ref", sa.String(64), nullable=False),
        sa.Column("upn", sa.String(13), nullable=False),
        sa.Column("school_urn", sa.String(6), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("planned_end_on", sa.Date(), nullable=False),
        sa.Column("hours_per_week", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("parent_agreed_on", sa.Date(), nullable=False),
        sa.Column("review_dates", sa.JSON(), nullable=False),
        sa.Column("reviews", sa.JSON(), nullable=False),
        sa.Column("review_due", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("outcome", sa.String(40), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_part_time_timetables")),
    )
    op.create_index("ix_part_time_timetables_updated_at_id", "part_time_timetables", ["updated_at", "id"])
    op.create_index("ix_part_time_timetables_school_urn", "part_time_timetables", ["school_urn"])
    op.create_index("ix_part_time_timetables_child_ref", "part_time_timetables", ["child_ref"])
    op.create_index(
        "uq_part_time_timetables_running",
        "part_time_timetables",
        ["school_urn", "child_ref"],
        unique=True,
        sqlite_where=sa.text("ended_on IS NULL"),
        postgresql_where=sa.text("ended_on IS NULL"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject_type", sa.String(40), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("child_ref", sa.String(64), nullable=False),
        sa.Column("school_urn", sa.String(6), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("raised_on", sa.Date(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index("uq_alerts_kind_subject_due", "alerts", ["kind", "subject_id", "due_on"], unique=True)
    op.create_index("ix_alerts_updated_at_id", "alerts", ["updated_at", "id"])


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_table("part_time_timetables")
    op.drop_table("pupil_years")
    op.drop_table("exclusions")
    op.drop_table("roll")
    op.drop_table("schools")
