"""Alembic revisions, applied in order by `ticketbolt db upgrade`."""
