"""Claims that do not grow with the backlog: a head marker per order key, and partial indexes.

`jobs.head` marks the job of each order key that may run now. Existing queued and running jobs
get it as the old claim decided it (no earlier queued or running job of the same key), so a
queue upgraded with a backlog keeps its order. `ix_jobs_due` holds only the due heads, and
`ix_jobs_order_active` replaces `ix_jobs_order` with the unfinished jobs of each key.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

QUEUED_HEAD = "state = 'queued' AND head"
ACTIVE_STATE = "state IN ('queued', 'running')"
ACTIVE = ("queued", "running")


def upgrade() -> None:
    op.add_column("jobs", sa.Column("head", sa.Boolean, nullable=False, server_default=sa.false()))
    jobs = sa.table(
        "jobs",
        sa.column("id", sa.Integer),
        sa.column("order_key", sa.String),
        sa.column("state", sa.String),
        sa.column("head", sa.Boolean),
    )
    earlier = jobs.alias("earlier")
    blocked = sa.exists().where(
        earlier.c.order_key == jobs.c.order_key,
        earlier.c.id < jobs.c.id,
        earlier.c.state.in_(ACTIVE),
    )
    # Before ix_jobs_order goes: it serves the lookup of earlier jobs here.
    op.execute(
        sa.update(jobs)
        .where(
            sa.or_(
                jobs.c.state == "running",
                sa.and_(jobs.c.state == "queued", sa.or_(jobs.c.order_key == "", ~blocked)),
            )
        )
        .values(head=sa.true())
    )
    op.drop_index("ix_jobs_order", table_name="jobs")
    op.create_index(
        "ix_jobs_order_active",
        "jobs",
        ["order_key", "id"],
        postgresql_where=sa.text(ACTIVE_STATE),
        sqlite_where=sa.text(ACTIVE_STATE),
    )
    op.create_index(
        "ix_jobs_due",
        "jobs",
        ["kind", "next_attempt_at", "id"],
        postgresql_where=sa.text(QUEUED_HEAD),
        sqlite_where=sa.text(QUEUED_HEAD),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_due", table_name="jobs")
    op.drop_index("ix_jobs_order_active", table_name="jobs")
    op.create_index("ix_jobs_order", "jobs", ["order_key", "id"])
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("head")
