"""Normalise customer text (Slack markup, entities, Unicode, case, spaces) for models and keys."""

from __future__ import annotations

import html
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


# The tag every LLM prompt puts around customer text; prompts tell the model it holds data only.
FENCE_TAG = "customer_message"
# Applied after `normalize`, so the text is already casefolded and NFKC-folded.
_FENCE_NAME = re.compile(r"customer[\W_]*message")
_ANGLES = str.maketrans({"<": "‹", ">": "›"})
# Real text needs one or two rounds (`&amp;lt;`); deeper nesting is an attack, see `fenced`.
_DECODE_ROUNDS = 8


def fenced(text: str) -> str:
    """Customer text as every LLM prompt carries it: normalised, inside tags it cannot close.

    The text is normalised, then HTML entities of any kind (`&lt;`, `&#60;`, `&#xff1c;`) are
    decoded and the result normalised again until nothing changes, so encoded and full-width
    look-alikes of `<` become `<`. Text still changing after `_DECODE_ROUNDS` loses its `&`s.
    Then every `<` and `>` becomes `‹` and `›`, and the tag's name is broken up wherever it
    appears. Those last steps hold whatever the decoding left, so no input can write the closing
    tag: the fenced text holds exactly one, at its end.
    """
    body = normalize(text)
    for _ in range(_DECODE_ROUNDS):
        decoded = normalize(html.unescape(body))
        if decoded == body:
            break
        body = decoded
    else:
        body = body.replace("&", " ")
    body = _FENCE_NAME.sub("customer message", body.translate(_ANGLES))
    return f"<{FENCE_TAG}>\n{body}\n</{FENCE_TAG}>"
