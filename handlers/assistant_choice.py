"""A clarifying question's buttons: the likeliest intents and a person, and the click on one."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_sdk.errors import SlackApiError

from ticketbolt.handlers.assistant_handoff import Handoff
from ticketbolt.handlers.deps import Deps, JobLike
from ticketbolt.handlers.posting import post_once

log = logging.getLogger(__name__)

CHOICE_JOB = "assistant_choice"
# The buttons of a clarifying question: `assistant_choice:0`, `:1`, … and `:person`.
CHOICE_ACTION = "assistant_choice"
CHOICE_PATTERN = re.compile(rf"^{CHOICE_ACTION}:")
PERSON = "__person__"


def label(intent: str) -> str:
    """An intent's name as a button reads it: `order_status` → `Order status`."""
    return intent.replace("_", " ").capitalize()


def clarify_blocks(
    text: str, options: tuple[str, ...], conversation: str, ts: str
) -> list[dict[str, Any]]:
    """The clarifying question: its text, one button per offered intent, and one for a person.

    Each button's value names the conversation, the customer message asked about and the
    intent, so a click is handled without anything kept in memory.
    """

    def button(suffix: str, text: str, intent: str) -> dict[str, Any]:
        value = json.dumps({"c": conversation, "t": ts, "i": intent}, separators=(",", ":"))
        return {
            "type": "button",
            "action_id": f"{CHOICE_ACTION}:{suffix}",
            "text": {"type": "plain_text", "text": text[:75]},
            "value": value,
        }

    buttons = [button(str(i), label(name), name) for i, name in enumerate(options)]
    buttons.append(button("person", "Talk to a person", PERSON))
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": f"assistant_choice_{ts}", "elements": buttons},
    ]


class Choices:
    """Takes a click on a clarifying question's button as the customer's intent."""

    def __init__(self, deps: Deps, handoff: Handoff):
        self._deps = deps
        self._handoff = handoff

    async def on_click(self, ack: Any, body: dict[str, Any]) -> None:
        """A button of a clarifying question: queued, so the answer takes the job path."""
        await ack()
        action = (body.get("actions") or [{}])[0]
        try:
            value = json.loads(action.get("value") or "")
            conversation, ts, intent = str(value["c"]), str(value["t"]), str(value["i"])
        except (ValueError, KeyError, TypeError):
            return  # not a button of ours, or a forged value: nothing to do
        team = str((body.get("team") or {}).get("id") or body.get("team_id") or "")
        channel = str((body.get("channel") or {}).get("id") or "")
        container = body.get("container") or {}
        message = body.get("message") or {}
        if not conversation.startswith(f"{team}:{channel}:"):
            return  # a button copied into another conversation
        await self._deps.jobs.enqueue(
            CHOICE_JOB,
            {
                "team_id": team,
                "channel": channel,
                "user": str((body.get("user") or {}).get("id") or ""),
                "ts": ts,
                "thread_ts": str(container.get("thread_ts") or message.get("thread_ts") or ""),
                "conversation": conversation,
                "intent": intent,
                "question_ts": str(container.get("message_ts") or message.get("ts") or ""),
            },
            key=f"choice:{conversation}:{ts}",
            order_key=f"conv:{conversation}",
        )

    async def run(self, job: JobLike) -> None:
        """The customer picked an intent (or a person) for a message the assistant was unsure
        of: act on it as a trusted decision, once, and take the buttons off the question."""
        p, turns = job.payload, self._deps.turns
        if self._deps.assistant is None or await self._handoff.open_for(p) is not None:
            return
        history = await turns.history(p["conversation"])
        asked = next((t for t in history if t.role == "customer" and t.message_ts == p["ts"]), None)
        if asked is None or asked.author != p["user"]:
            return  # only the customer who asked may answer the question
        if any(t.message_ts == f"bot:choice:{p['ts']}" for t in history):
            return  # already acted on: a second click, or a retry after the answer
        p = {**p, "text": asked.text}
        chosen = "a person" if p["intent"] == PERSON else label(p["intent"])
        await turns.add(
            p["conversation"], f"choice:{p['ts']}", "customer", p["user"], f"(chose: {chosen})"
        )
        await self._close_question(p, chosen)
        if p["intent"] == PERSON:
            await self._handoff.request(p, "talk_to_human", "asked for a person")
            return
        reply = await self._deps.assistant.chosen(asked.text, p["intent"])  # AssistantEngine
        log.info(
            "assistant choice",
            extra={"intent": reply.intent, "stage": reply.stage, "action": reply.action},
        )
        if reply.action == "handoff":
            await self._handoff.request(p, reply.intent, reply.reason)
            return
        await post_once(
            self._deps.slack,
            job,
            channel=p["channel"],
            thread_ts=p["thread_ts"] or None,
            after_ts=p["ts"],
            text=reply.text,
            marker=f"choice:{p['conversation']}:{p['ts']}",
            notes=self._deps.cache,
            unfurl_links=False,
        )
        await turns.add(
            p["conversation"], f"bot:choice:{p['ts']}", "bot", "assistant", reply.text, reply.intent
        )

    async def _close_question(self, p: dict[str, Any], chosen: str) -> None:
        """The question without its buttons, saying what was chosen (best effort)."""
        if not p.get("question_ts"):
            return
        try:
            await self._deps.slack.chat_update(
                channel=p["channel"],
                ts=p["question_ts"],
                text=f"You chose: {chosen}",
                blocks=[
                    {
                        "type": "section",
                        "text": {"type": "mrkdwn", "text": f"You chose: *{chosen}*"},
                    }
                ],
            )
        except SlackApiError as exc:
            log.info("could not update the clarifying question: %s", exc)
