"""Alembic migrations of the schema in `ticketbolt.bot.db.models`."""
