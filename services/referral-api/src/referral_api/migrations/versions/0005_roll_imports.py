"""roll imports: year group, personal details, census characteristics and a version per enrolment;
drop the marks' submission index (events are built from the submission's changes, not read back)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("roll", schema=None) as batch_op:
        batch_op.add_column(sa.Column("year_group", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("person", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("characteristics", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("attendance_marks", schema=None) as batch_op:
        batch_op.drop_index("ix_attendance_marks_submission_id")


def downgrade() -> None:
    with op.batch_alter_table("attendance_marks", schema=None) as batch_op:
        batch_op.create_index("ix_attendance_marks_submission_id", ["submission_id"], unique=False)
    with op.batch_alter_table("roll", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("version")
        batch_op.drop_column("characteristics")
        batch_op.drop_column("person")
        batch_op.drop_column("year_group")
