"""When a message goes to a person: an explicit request, frustration, a trusted hand-off intent."""

from __future__ import annotations

import re

from ticketbolt.integrations.intents.config import Intent

HUMAN_REQUEST = re.compile(
    r"\b(human|real person|a person|someone real|representative|live agent|an agent|"
    r"speak to (?:someone|somebody)|talk to (?:someone|somebody))\b",
    re.I,
)
FRUSTRATION = re.compile(
    r"\b(useless|ridiculous|unacceptable|terrible|worst|furious|angry|scam|wtf|fed up)\b|!!!",
    re.I,
)


def frustrated(text: str) -> bool:
    """Shouting (mostly capitals) or words of frustration."""
    letters = [c for c in text if c.isalpha()]
    shouting = len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.8
    return shouting or bool(FRUSTRATION.search(text))


def handoff_reason(text: str, intent: Intent | None, *, unsure: bool, stalled: bool) -> str:
    """Why this message goes to a person, or "" when the assistant answers or asks instead.

    An intent whose action is `handoff` opens a ticket only when the classification is trusted
    (`unsure` is false): the best guess of an unsure classifier is as often a message the store
    never configured, and acting on it opens tickets nobody asked for. Unsure messages are
    handed off only on an explicit request, frustration, or when the previous reply was already
    a request to rephrase (`stalled`).
    """
    if HUMAN_REQUEST.search(text):
        return "asked for a person"
    if frustrated(text):
        return "the customer is frustrated"
    if unsure:
        return "two replies without progress" if stalled else ""
    if intent is not None and intent.action == "handoff":
        return f"{intent.name} needs a person"
    return ""
