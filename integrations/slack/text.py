"""Slack mrkdwn to plain, readable text for helpdesk tickets, and what a message mentions."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Slack wraps every special token (mentions, links, broadcasts) in angle brackets; a literal `<`
# typed by a user arrives escaped as `&lt;`, so a bare bracket pair is always markup.
_TOKEN = re.compile(r"<([^<>]*)>")
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")
_CHANNEL = re.compile(r"<#(C[A-Z0-9]+|G[A-Z0-9]+|D[A-Z0-9]+)(?:\|[^<>]*)?>")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_BROADCASTS = frozenset({"here", "channel", "everyone"})


def _unescape(text: str) -> str:
    # Slack escapes exactly these three; `&amp;` last so `&amp;lt;` stays the literal `&lt;`.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _special(command: str, label: str) -> str:
    if command in _BROADCASTS:
        return f"@{command}"
    if command.startswith("subteam^"):
        return label or f"@{command.removeprefix('subteam^')}"
    # `<!date^…|fallback>` and anything newer: the label is Slack's own readable fallback.
    return label or f"@{command}"


def _render_token(inner: str, users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        user_id = target[1:]
        return f"@{users.get(user_id) or label or user_id}"
    if target.startswith("#"):
        channel_id = target[1:]
        return f"#{channels.get(channel_id) or label or channel_id}"
    if target.startswith("!"):
        return _special(target[1:], label)
    if target.startswith("mailto:"):
        address = target.removeprefix("mailto:")
        return address if not label or label == address else f"{label} ({address})"
    if label and label != target:
        return f"{label} ({target})"
    return target


def render_plain(text: str, users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    """Render Slack mrkdwn as plain text: names for mentions, labelled URLs, decoded entities.

    `users` maps user ids to display names and `channels` maps channel ids to names; ids that are
    missing fall back to the label Slack put in the token, then to the id itself.
    """
    rendered = _TOKEN.sub(lambda match: _render_token(match.group(1), users, channels), text)
    return _unescape(rendered)


def mentioned_ids(text: str) -> tuple[list[str], list[str]]:
    """The user ids and channel ids a message mentions, each once, in order of appearance."""
    users = list(dict.fromkeys(_USER.findall(text)))
    channels = list(dict.fromkeys(_CHANNEL.findall(text)))
    return users, channels


def find_emails(text: str) -> list[str]:
    """E-mail addresses written in a message (also inside mailto links), each once, as written."""
    found: dict[str, str] = {}
    for address in _EMAIL.findall(_unescape(text)):
        found.setdefault(address.lower(), address)
    return list(found.values())
