"""SLA clocks: one row per ticket with its due times, when its clocks stopped, what was posted.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
FLAGS = ("first_response_warned", "first_response_breached", "resolution_warned")


def upgrade() -> None:
    op.create_table(
        "sla_clocks",
        sa.Column("ticket_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("message_ts", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=False),
        sa.Column("policy", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("first_response_at", TS, nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("first_response_warn_at", TS, nullable=True),
        sa.Column("first_response_due_at", TS, nullable=True),
        sa.Column("resolution_warn_at", TS, nullable=True),
        sa.Column("resolution_due_at", TS, nullable=True),
        *(sa.Column(flag, sa.Boolean, nullable=False) for flag in FLAGS),
        sa.Column("resolution_breached", sa.Boolean, nullable=False),
        sa.Column("next_check_at", TS, nullable=True),
    )
    op.create_index("ix_sla_clocks_next_check_at", "sla_clocks", ["next_check_at"])


def downgrade() -> None:
    op.drop_table("sla_clocks")
