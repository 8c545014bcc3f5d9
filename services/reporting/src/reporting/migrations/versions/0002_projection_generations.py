"""projection generations

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
        "projection_generations",
        sa.Column("generation", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("layout", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("generation", name=op.f("pk_projection_generations")),
    )
    with op.batch_alter_table("projection_generations", schema=None) as batch_op:
        batch_op.create_index("ix_projection_generations_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("projection_generations", schema=None) as batch_op:
        batch_op.drop_index("ix_projection_generations_status")
    op.drop_table("projection_generations")
