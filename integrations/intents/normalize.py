"""Normalise customer text (Slack markup, entities, Unicode, case, spaces) for models and keys."""

from __future__ import annotations

import re
import unicodedata

# Long enough for any real support message; the LLM sees the same truncated text the key hashes.
MAX_CHARS = 2000

# <@U123>, <@U123|name>, <!here>, <!subteam^S1|@team>: addressing, not content.
_MENTION = re.compile(r"<[@!][^<>]*>")
# <#C123|general> keeps the channel name, which can carry meaning ("#returns"); <#C123> has none.
_CHANNEL = re.compile(r"<#[A-Z0-9]+(?:\|([^<>]*))?>")
# <https://x|label> → label; <https://x> or <mailto:a@b> → the target itself.
_LINK = re.compile(r"<((?:https?|mailto|tel):[^<>|]*)(?:\|([^<>]*))?>")
_SPACES = re.compile(r"\s+")
# ASCII text (most messages) needs no Unicode folding: a regex is ten times faster than the loop.
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Slack escapes only these three; html.unescape would also decode customer-typed "&copy;".
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def _channel(match: re.Match[str]) -> str:
    name = match.group(1)
    return f"#{name}" if name else " "


def _link(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if label:
        return label
    return target.removeprefix("mailto:").removeprefix("tel:")


def normalize(text: str, max_chars: int = MAX_CHARS) -> str:
    """Strip Slack markup, decode Slack's entities, NFKC-fold, casefold and collapse whitespace."""
    text = _MENTION.sub(" ", text)
    text = _CHANNEL.sub(_channel, text)
    text = _LINK.sub(_link, text)
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    if text.isascii():
        text = _ASCII_CONTROL.sub(" ", text)
    else:
        text = unicodedata.normalize("NFKC", text)
        # Zero-width and other format characters (Cf) hide text from people but not from a
        # model, and would make identical-looking messages hash to different cache keys.
        text = "".join(
            " " if unicodedata.category(char) == "Cc" else char
            for char in text
            if unicodedata.category(char) != "Cf"
        )
    text = _SPACES.sub(" ", text.casefold()).strip()
    return text[:max_chars].rstrip()
