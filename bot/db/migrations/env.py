"""Alembic environment: runs migrations on the connection `ticketbolt.bot.db.migrate` hands over."""

from __future__ import annotations

from alembic import context

from ticketbolt.bot.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with 'ticketbolt db upgrade', which supplies the connection")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
