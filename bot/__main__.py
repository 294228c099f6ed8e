"""`python -m bot` is the `ticketbolt` command."""

from bot.cli import main

raise SystemExit(main())
