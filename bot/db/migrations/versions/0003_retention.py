"""Indexes for retention and hand-off caps: turns by time, assistant tickets by source and time.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_turns_at", "turns", ["at"])
    op.create_index("ix_ticket_links_source_created", "ticket_links", ["source", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_ticket_links_source_created", table_name="ticket_links")
    op.drop_index("ix_turns_at", table_name="turns")
