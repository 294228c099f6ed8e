"""A faithful emulator of Gorgias' REST API and HTTP integrations, on loopback."""

from ticketbolt.integrations.gorgias.emulator.app import GorgiasEmulator, create_app
from ticketbolt.integrations.gorgias.emulator.gateway import Faults

__all__ = ["Faults", "GorgiasEmulator", "create_app"]
