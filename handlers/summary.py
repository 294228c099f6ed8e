"""Ticket summaries: who, what they need, what was tried — by the LLM when it answers in time,
else quoted from the conversation. Summary text is data: it never sets a ticket's fields."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from slack_sdk.errors import SlackApiError

from ticketbolt.cache.layers import CacheLayer
from ticketbolt.handlers.slack_context import MessageContext, SlackReader
from ticketbolt.integrations.llm.client import LlmError
from ticketbolt.integrations.llm.summary import (
    Line,
    LlmSummarizer,
    LlmSummary,
    conversation_prompt,
    one_line,
    parse_summary,
)
from ticketbolt.integrations.resilience import Deferred

log = logging.getLogger(__name__)

# Every summary block starts with this; `/ticketbolt summary` finds it again on a ticket.
MARK = "Summary (machine-written"
LLM_HEADER = f"{MARK}):"
EXTRACT_HEADER = f"{MARK}, quoted from the conversation):"
DEFAULT_MAX_CHARS = 600
# A thread's replies are read at most this many pages of 200: a summary needs no more.
MAX_PAGES = 3
Source = Literal["llm", "cache", "extractive"]


@dataclass(frozen=True)
class Summary:
    """A summary block: a header line and short lines, no blank line, at most `max_chars`."""

    text: str
    source: Source


def block(header: str, items: Sequence[tuple[str, str]], max_chars: int) -> str:
    """`header` then one line per (label, value), each cut so the whole fits in `max_chars`."""
    room = (max_chars - len(header)) // max(len(items), 1) - 1  # -1: the line's newline
    lines = [header, *(one_line(f"{label}: {value}", room) for label, value in items)]
    return "\n".join(line for line in lines if line)


def from_llm(summary: LlmSummary, max_chars: int) -> str:
    items = [
        ("Who", summary.who or "not stated"),
        ("Needs", summary.need),
        ("Already tried", summary.tried or "nothing yet"),
    ]
    return block(LLM_HEADER, items, max_chars)


def extractive(lines: Sequence[Line], max_chars: int) -> str:
    """The customer's first message and the last reply by someone else (a person before the
    bot), quoted and cut short."""
    first = next((line for line in lines if line.role == "customer"), lines[0])
    others = [line for line in lines if line.role != "customer"]
    people = [line for line in others if line.role == "team"]
    items = [(f"First message, from {first.author}", first.text or "(no text)")]
    last = (people or others)[-1] if others else None
    if last is not None:
        items.append((f"Last reply, from {last.author}", last.text or "(no text)"))
    return block(EXTRACT_HEADER, items, max_chars)


def with_summary(summary: str, body: str) -> str:
    """A ticket's first message: the summary block, a blank line, then the message itself."""
    return f"{summary}\n\n{body}" if summary else body


def stored_summary(first_message: str) -> str | None:
    """The summary block a ticket's first message starts with, if it starts with one."""
    if not first_message.startswith(MARK):
        return None
    return first_message.split("\n\n", 1)[0]


class Summaries:
    """Writes summaries; never raises for a summary it cannot write (the caller goes on)."""

    def __init__(
        self,
        writer: LlmSummarizer | None,
        layer: CacheLayer | None,
        *,
        max_chars: int = DEFAULT_MAX_CHARS,
    ):
        self.writer = writer
        self.layer = layer
        self.max_chars = max_chars

    def snapshot(self) -> dict[str, Any]:
        return {self.layer.name: self.layer.snapshot()} if self.layer else {}

    @property
    def circuit(self) -> str:
        return self.writer.breaker.state if self.writer else "unconfigured"

    async def summarize(self, lines: Sequence[Line]) -> Summary | None:
        """The LLM's summary (cached by the conversation's content), else the quoted one.

        Only the customer's own messages quoted would repeat what the ticket already holds:
        such a conversation gets no quoted summary.
        """
        if not lines:
            return None
        if self.writer is not None:
            written = await self._written(lines, self.writer)
            if written is not None:
                return written
        if all(line.role == "customer" for line in lines):
            return None
        return Summary(extractive(lines, self.max_chars), "extractive")

    async def _written(self, lines: Sequence[Line], writer: LlmSummarizer) -> Summary | None:
        prompt = conversation_prompt(lines)
        layer = self.layer
        key = layer.key(prompt, writer.model, writer.prompt_hash) if layer else ""
        cached = await layer.get_json(key) if layer else None
        if isinstance(cached, dict):
            try:
                who, need, tried = parse_summary(json.dumps(cached))
            except LlmError:
                pass  # a foreign or damaged entry: ask again
            else:
                return Summary(from_llm(LlmSummary(who, need, tried), self.max_chars), "cache")
        try:
            answer = await writer.summarize(prompt)
        except LlmError as error:
            log.warning("LLM summary failed, quoting the conversation instead: %s", error)
            return None
        if layer:
            value = {"who": answer.who, "need": answer.need, "tried": answer.tried}
            await layer.set_json(key, value, tokens=answer.usage.total_tokens)
        return Summary(from_llm(answer, self.max_chars), "llm")

    async def of_thread(self, slack: Any, reader: SlackReader, context: MessageContext) -> str:
        """The summary block of the thread `context` starts; "" when it cannot be had."""
        try:
            lines = await thread_lines(slack, reader, context)
            summary = await self.summarize(lines)
        except (SlackApiError, Deferred) as error:
            # Reading the thread again later would delay the ticket: it goes out without one.
            log.warning("no summary: the thread could not be read now (%s)", error)
            return ""
        except Exception:
            # The summary is optional; nothing about it may keep a ticket from being made.
            log.exception("no summary: writing it failed")
            return ""
        return summary.text if summary else ""

    async def of_turns(self, turns: Sequence[Any], reader: SlackReader, customer: str) -> str:
        """The summary block of an assistant conversation being handed off; "" without one."""
        try:
            lines = [
                Line(
                    "customer" if turn.role == "customer" else "bot",
                    customer if turn.role == "customer" else "the assistant",
                    await reader.readable(turn.text),
                )
                for turn in turns
                if turn.role in ("customer", "bot")
            ]
            summary = await self.summarize(lines)
        except Exception:
            log.exception("no summary: writing it failed")  # the hand-off goes on without one
            return ""
        return summary.text if summary else ""


async def thread_lines(slack: Any, reader: SlackReader, context: MessageContext) -> list[Line]:
    """The thread as summary lines: the parent's author is the customer; their replies too."""
    customer = context.author.id if context.author else ""
    name = context.author.name if context.author else "a bot"
    lines = [Line("customer", name, context.text)]
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await slack.conversations_replies(
            channel=context.channel_id, ts=context.thread_ts, limit=200, cursor=cursor
        )
        for reply in page.get("messages") or []:
            if reply.get("ts") == context.thread_ts:
                continue
            text = await reader.readable(str(reply.get("text") or ""))
            user = str(reply.get("user") or "")
            if reply.get("bot_id") or not user:
                lines.append(Line("bot", "bot", text))
            else:
                who = (await reader.person(user)).name
                lines.append(Line("customer" if user == customer else "team", who, text))
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor or not page.get("has_more", True):
            break
    return lines
