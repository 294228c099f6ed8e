"""A faithful emulator of Slack's Web API, Events API, interactivity and Socket Mode."""

from ticketbolt.integrations.slack.emulator.api import Call
from ticketbolt.integrations.slack.emulator.app import SlackEmulator
from ticketbolt.integrations.slack.emulator.events import Delivery, SignatureMode
from ticketbolt.integrations.slack.emulator.faults import Faults
from ticketbolt.integrations.slack.emulator.interactions import HookPost
from ticketbolt.integrations.slack.emulator.seed import seed_demo
from ticketbolt.integrations.slack.emulator.state import Channel, Message, User

__all__ = [
    "Call",
    "Channel",
    "Delivery",
    "Faults",
    "HookPost",
    "Message",
    "SignatureMode",
    "SlackEmulator",
    "User",
    "seed_demo",
]
