"""Slack mrkdwn to plain, readable text for helpdesk tickets, and what a message mentions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

# Slack wraps every special token (mentions, links, broadcasts) in angle brackets; a literal `<`
# typed by a user arrives escaped as `&lt;`, so a bare bracket pair is always markup.
_TOKEN = re.compile(r"<([^<>]*)>")
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")
_CHANNEL = re.compile(r"<#(C[A-Z0-9]+|G[A-Z0-9]+|D[A-Z0-9]+)(?:\|[^<>]*)?>")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_BROADCASTS = frozenset({"here", "channel", "everyone"})


def _span(marker: str, name: str) -> str:
    # A marker opens after a non-word character and closes before one, as in Slack, so
    # snake_case_names and 2*3*4 stay as typed; a token inside a span is taken whole, so a marker
    # inside a URL never opens or closes one.
    m = re.escape(marker)
    return (
        rf"(?<![\w{m}]){m}(?=[^\s{m}])"
        rf"(?P<{name}>(?:<[^<>]*>|[^{m}<\n])+?)"
        rf"(?<=[^\s{m}]){m}(?![\w{m}])"
    )


# Everything mrkdwn marks up, tried left to right: code first (its content is literal, but a
# token in it is taken whole: a backtick in a mention's label opens nothing), then tokens, then
# *bold*, _italics_ and ~strike~ (which nest, and may hold tokens).
_MARKUP = re.compile(
    r"```(?P<block>(?:<[^<>]*>|[^<])*?)```|`(?P<code>(?:<[^<>]*>|[^`\n<])+)`|<(?P<token>[^<>]*)>|"
    + "|".join(_span(marker, name) for marker, name in (("*", "b"), ("_", "i"), ("~", "s"))),
    re.DOTALL,
)


def _unescape(text: str) -> str:
    # Slack escapes exactly these three; `&amp;` last so `&amp;lt;` stays the literal `&lt;`.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _special(command: str, label: str) -> str:
    if command in _BROADCASTS:
        return f"@{command}"
    if command.startswith("subteam^"):
        return label or f"@{command.removeprefix('subteam^')}"
    # `<!date^…|fallback>` and anything newer: the label is Slack's own readable fallback.
    if not label and command.startswith("date^"):
        return _date(command)
    return label or f"@{command}"


def slack_time(ts: str) -> datetime | None:
    """When a Slack message was sent, from its `ts` (seconds since the epoch); None when the
    value is no such number (Slack's own are; a forged one need not be)."""
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _date(command: str) -> str:
    # `date^1392734382^{date_short}` without the fallback Slack requires: the moment in UTC.
    try:
        moment = datetime.fromtimestamp(int(command.split("^")[1]), UTC)
    except (ValueError, OverflowError, OSError):
        return "(a date)"
    return moment.strftime("%Y-%m-%d %H:%M UTC")


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


def _code_block(text: str, start: int, end: int, body: str) -> str:
    # A code block stands on lines of its own, as Slack shows it.
    before = "\n" if start > 0 and text[start - 1] != "\n" else ""
    after = "\n" if end < len(text) and text[end] != "\n" else ""
    return before + body.strip("\n") + after


def _strip_markup(text: str, users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    def tokens(inner: str) -> str:
        return _TOKEN.sub(lambda match: _render_token(match.group(1), users, channels), inner)

    def replace(match: re.Match[str]) -> str:
        if match["block"] is not None:
            return _code_block(text, match.start(), match.end(), tokens(match["block"]))
        if match["code"] is not None:
            return tokens(match["code"])
        if match["token"] is not None:
            return _render_token(match["token"], users, channels)
        styled = next(part for part in (match["b"], match["i"], match["s"]) if part is not None)
        return _strip_markup(styled, users, channels)

    return _MARKUP.sub(replace, text)


def render_plain(text: str, users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    """Render Slack mrkdwn as plain text: names for mentions, labelled URLs, decoded entities,
    and no formatting marks (`*bold*`, `_italics_`, `~strike~`, code spans and blocks).

    `users` maps user ids to display names and `channels` maps channel ids to names; ids that are
    missing fall back to the label Slack put in the token, then to the id itself. This is the one
    conversion of Slack text for Gorgias: ticket bodies, their thread replies and mirrored messages.
    """
    return _unescape(_strip_markup(text, users, channels))


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
