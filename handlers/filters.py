"""Listener matchers: which Slack messages are people talking, and which are bookkeeping."""

from __future__ import annotations

from typing import Any

# Subtypes that carry what a person wrote; every other subtype is Slack bookkeeping.
CONTENT_SUBTYPES = {None, "thread_broadcast", "file_share"}


def is_human_message(event: dict[str, Any]) -> bool:
    """True for a message a person wrote: no bot author, not hidden, not a membership notice."""
    if event.get("bot_id") or event.get("bot_profile") or event.get("hidden"):
        return False
    return event.get("subtype") in CONTENT_SUBTYPES and bool(event.get("user"))


def base_reaction(name: str) -> str:
    """`+1::skin-tone-4` → `+1`: skin tones do not change what a reaction means."""
    return name.split("::", 1)[0]
