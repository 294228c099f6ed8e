"""`python -m ticketbolt.integrations.gorgias.emulator`: the emulator served on loopback."""

from ticketbolt.integrations.gorgias.emulator.app import main

main()
