"""The `ticketbolt` command line: `main` parses and dispatches; commands import lazily."""

from ticketbolt.bot.cli.main import main

__all__ = ["main"]
