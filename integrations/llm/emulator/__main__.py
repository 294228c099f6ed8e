"""`python -m ticketbolt.integrations.llm.emulator`: the emulator served on loopback."""

from ticketbolt.integrations.llm.emulator.app import main

main()
