"""Slack helpers: mrkdwn rendering and a faithful emulator of Slack's Web and Events APIs."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from integrations.slack.text import find_emails, mentioned_ids, render_plain

if TYPE_CHECKING:
    from integrations.slack.emulator import SlackEmulator
    from integrations.slack.emulator_api import Call
    from integrations.slack.emulator_cli import seed_demo
    from integrations.slack.emulator_events import Delivery, SignatureMode
    from integrations.slack.emulator_faults import Faults
    from integrations.slack.emulator_interactions import HookPost
    from integrations.slack.emulator_state import Channel, Message, User

# The emulator loads on first use: `python -m integrations.slack.emulator` must be able to run
# the module as `__main__` without the package having imported it already.
_LAZY = {
    "SlackEmulator": "emulator",
    "HookPost": "emulator_interactions",
    "Call": "emulator_api",
    "seed_demo": "emulator_cli",
    "Delivery": "emulator_events",
    "SignatureMode": "emulator_events",
    "Faults": "emulator_faults",
    "Channel": "emulator_state",
    "Message": "emulator_state",
    "User": "emulator_state",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)


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
    "find_emails",
    "mentioned_ids",
    "render_plain",
    "seed_demo",
]
