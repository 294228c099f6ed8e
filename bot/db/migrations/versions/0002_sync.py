"""Thread sync: the Slack messages mirrored into tickets, and each ticket's last announced assignee.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mirrored_messages",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("ticket_id", sa.Integer, nullable=False),
        sa.Column("gorgias_message_id", sa.Integer, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_mirrored_messages_ticket_id", "mirrored_messages", ["ticket_id"])
    op.create_index(
        "ix_mirrored_messages_gorgias_message_id", "mirrored_messages", ["gorgias_message_id"]
    )
    op.create_table(
        "synced_tickets",
        sa.Column("ticket_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("assignee_id", sa.Integer, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("synced_tickets")
    op.drop_table("mirrored_messages")
