"""`python -m ticketbolt` is the `ticketbolt` command."""

from ticketbolt.bot.cli import main

raise SystemExit(main())
