"""The customer assistant: DMs, mentions and assistant channels get an answer or a hand-off."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ticketbolt.handlers.assistant_choice import (
    CHOICE_JOB,
    CHOICE_PATTERN,
    Choices,
    clarify_blocks,
)
from ticketbolt.handlers.assistant_handoff import HANDOFF_JOB, Handoff
from ticketbolt.handlers.deps import Deps, JobLike
from ticketbolt.handlers.failures import gives_up
from ticketbolt.handlers.filters import is_human_message
from ticketbolt.handlers.posting import post_once

log = logging.getLogger(__name__)

SLACK_EVENTS: tuple[str, ...] = ()  # messages arrive through ticketbolt.handlers.messages
SCOPES = {
    "chat:write": "the assistant's answers",
    "users:read": "the customer's name for a hand-off ticket",
    "users:read.email": "the customer's e-mail picks the Gorgias customer",
}
REFUSAL = (
    "You're sending messages faster than I can answer. Please wait a minute, then "
    "write again — nothing you sent is lost."
)


def conversation_of(team: str, channel: str, event: dict[str, Any], in_dm: bool) -> tuple[str, str]:
    """(conversation key, thread to answer in); top-level DMs are one running conversation."""
    thread = event.get("thread_ts")
    if thread:
        return f"{team}:{channel}:{thread}", thread
    if in_dm:
        return f"{team}:{channel}:dm", ""
    return f"{team}:{channel}:{event['ts']}", event["ts"]


@asynccontextmanager
async def kept_if_unanswered(
    job: JobLike, turns: Any, conversation: str, customer: tuple[str, str, str, str, None]
) -> AsyncIterator[None]:
    """The customer's message is stored with its answer, after the post; when the job fails
    for good, it is stored anyway, so a later hand-off's transcript still carries it."""
    try:
        yield
    except Exception as exc:
        if gives_up(exc, job.last_attempt):
            await turns.add_each(conversation, [customer])
        raise


def register(app: Any, deps: Deps) -> None:
    config = deps.config
    handoff = Handoff(deps)

    async def on_message(body: dict[str, Any], event: dict[str, Any]) -> None:
        in_dm = event.get("channel_type") == "im"
        if in_dm or event.get("channel") in config.assistant_channels:
            await record(body, event, in_dm=in_dm)

    async def on_mention(body: dict[str, Any], event: dict[str, Any]) -> None:
        # In assistant channels the message itself is already answered; answer mentions elsewhere.
        if event.get("channel") not in config.assistant_channels:
            await record(body, event, in_dm=False)

    async def record(body: dict[str, Any], event: dict[str, Any], *, in_dm: bool) -> None:
        if not is_human_message(event) or deps.assistant is None:
            return
        team, channel, user = str(body.get("team_id", "")), event["channel"], event["user"]
        if event.get("thread_ts") and await deps.links.by_thread(team, channel, event["thread_ts"]):
            # A ticketed thread (in a DM too) belongs to the people working the ticket; thread
            # sync adds its replies to the ticket.
            return
        key, thread = conversation_of(team, channel, event, in_dm)
        # The per-user budget is checked before anything else costs money.
        count = await deps.cache.incr(f"assistant-rate:{team}:{user}", 60)
        await deps.jobs.enqueue(
            "assistant_reply",
            {
                "team_id": team,
                "channel": channel,
                "user": user,
                "ts": event["ts"],
                "text": event.get("text", ""),
                "thread_ts": thread,
                "conversation": key,
                "refused": count > config.assistant_rate_per_minute,
            },
            key=f"assist:{team}:{channel}:{event['ts']}",
            order_key=f"conv:{key}",
            correlation_id=str(body.get("event_id", "")),
            event_id=str(body.get("event_id", "")),
        )

    async def run_reply(job: JobLike) -> None:
        p = job.payload
        engine, turns, conversation = deps.assistant, deps.turns, p["conversation"]
        # One read for the conversation and its latest hand-off: each read and write here is
        # a round of the database that every customer's reply shares.
        history, marker = await turns.recent(conversation, "handoff")
        handed_off = await handoff.open_after(p, marker)
        if handed_off is not None:
            await handoff.follow_up(job, p, handed_off)
            return
        if p["refused"]:
            await say(job, p, REFUSAL)
            return
        if any(t.message_ts == f"bot:{p['ts']}" for t in history):
            return  # answered by an earlier try that died before finishing
        customer = (p["ts"], "customer", p["user"], p["text"], None)
        async with kept_if_unanswered(job, turns, conversation, customer):
            reply = await engine.reply(p["text"], history)
            log.info(
                "assistant decided",
                extra={"intent": reply.intent, "stage": reply.stage, "action": reply.action},
            )
            if reply.action == "handoff":
                # Stored with the hand-off's marker: the ticket's transcript carries it.
                await handoff.request(p, reply.intent, reply.reason, history, first=[customer])
                return
            blocks = (
                clarify_blocks(reply.text, reply.options, conversation, p["ts"])
                if reply.options
                else None
            )
            await say(job, p, reply.text, blocks=blocks)
        # The message and its answer in one write, after the post: a retry finds no answer
        # turn, decides again, and `say` does not post twice (the next message of the
        # conversation runs only after this job, so nothing reads the turns in between).
        said = "clarify" if reply.action == "clarify" else reply.intent
        answer = (f"bot:{p['ts']}", "bot", "assistant", reply.text, said)
        await turns.add_each(conversation, [customer, answer])

    async def say(
        job: JobLike,
        p: dict[str, Any],
        text: str,
        *,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        # One answer per customer message, even when a retry follows a post whose answer was lost.
        extra: dict[str, Any] = {} if blocks is None else {"blocks": blocks}
        await post_once(
            deps.slack,
            job,
            channel=p["channel"],
            thread_ts=p["thread_ts"] or None,
            after_ts=p["ts"],
            text=text,
            marker=f"answer:{p['conversation']}:{p['ts']}",
            notes=deps.cache,
            unfurl_links=False,
            **extra,
        )

    deps.message_consumers.append(on_message)
    deps.mention_consumers.append(on_mention)
    deps.job_handlers["assistant_reply"] = run_reply
    choices = Choices(deps, handoff)
    deps.job_handlers[CHOICE_JOB] = choices.run
    app.action(CHOICE_PATTERN)(choices.on_click)
    deps.job_handlers[HANDOFF_JOB] = handoff.run
