"""Satisfaction on SLA clocks: the score posted back to the thread, and when the watchdog last
asked Gorgias for it.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sla_clocks") as table:
        table.add_column(sa.Column("csat_score", sa.Integer, nullable=True))
        table.add_column(sa.Column("csat_checked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sla_clocks") as table:
        table.drop_column("csat_checked_at")
        table.drop_column("csat_score")
