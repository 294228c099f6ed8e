"""What the assistant says: classify, then answer from the knowledge base, clarify, or hand off."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ticketbolt.cache.layers import CacheLayers, content_hash
from ticketbolt.handlers.assistant_choice import label
from ticketbolt.handlers.sync_gorgias import mrkdwn_escape
from ticketbolt.integrations.intents.cascade import Decision, IntentCascade
from ticketbolt.integrations.intents.config import OTHER, Intent, IntentsConfig
from ticketbolt.integrations.intents.kb import KnowledgeBase, Passage
from ticketbolt.integrations.intents.normalize import normalize
from ticketbolt.integrations.intents.policy import handoff_reason as _policy_reason
from ticketbolt.integrations.llm.client import LlmError, LlmWriter

Action = Literal["answer", "clarify", "handoff"]
PASSAGES = 3  # retrieved per question, and given to the writer
CLARIFY = (
    "I'm not sure I understood. Could you rephrase, or say a bit more about your order or "
    "question? You can also ask for a person at any time."
)
CLARIFY_CHOICES = (
    "I'm not sure I understood. Is it about one of these? You can also rephrase, or ask for a "
    "person at any time."
)
# A clarifying question offers at most this many intents, each at least this likely.
OPTIONS, OPTION_FLOOR = 3, 0.02
# Never offered as a choice: `other` is no answer, and a person has a button of its own.
NOT_OFFERED = frozenset({OTHER, "talk_to_human"})


class TurnLike(Protocol):
    @property
    def role(self) -> str: ...
    @property
    def intent(self) -> str | None: ...


@dataclass(frozen=True)
class Reply:
    """What to do. A clarifying question lists `options`, the intents it offers as buttons."""

    action: Action
    text: str
    intent: str
    stage: str
    reason: str = ""
    options: tuple[str, ...] = ()


def options_of(decision: Decision, intents: IntentsConfig) -> tuple[str, ...]:
    """The two or three likeliest configured intents to offer, best first (none when fewer
    than two are plausible: a choice of one is no choice)."""
    offered = tuple(
        name
        for name, probability in decision.candidates
        if name not in NOT_OFFERED and intents.get(name) is not None and probability >= OPTION_FLOOR
    )[:OPTIONS]
    return offered if len(offered) >= 2 else ()


def no_progress(history: Sequence[TurnLike]) -> bool:
    """The bot's last reply was already a request to rephrase."""
    bot_turns = [t for t in history if t.role == "bot"]
    return bool(bot_turns) and bot_turns[-1].intent == "clarify"


def handoff_reason(
    text: str, intent: Intent | None, *, unsure: bool, history: Sequence[TurnLike]
) -> str:
    """Why this message goes to a person, or "" when the assistant answers or asks instead.

    An unsure guess never hands off by itself (see `integrations/intents/policy.py`).
    """
    return _policy_reason(text, intent, unsure=unsure, stalled=no_progress(history))


def templated(passages: Sequence[Passage]) -> str:
    best = passages[0]
    text = best.text.strip()
    if len(text) > 900:
        text = text[:900].rsplit(" ", 1)[0] + "…"
    return f"*{best.title}*\n{text}"


class AssistantEngine:
    """The decision for one customer message, given the conversation so far."""

    def __init__(
        self,
        cascade: IntentCascade,
        intents: IntentsConfig,
        kb: KnowledgeBase,
        layers: CacheLayers,
        writer: LlmWriter | None = None,
    ):
        self.cascade = cascade
        self.intents = intents
        self.kb = kb
        self.layers = layers
        self.writer = writer

    def cache_snapshot(self) -> dict[str, Any]:
        return self.layers.snapshot()

    async def reply(self, text: str, history: Sequence[TurnLike]) -> Reply:
        decision = await self.cascade.decide(text)
        intent = self.intents.get(decision.intent)
        # Unsure: the classifier (or the LLM) does not trust its answer, or answered `other`
        # outside the configured intents. Then the assistant asks; it never acts on a guess.
        unsure = decision.uncertain or intent is None
        reason = handoff_reason(text, intent, unsure=unsure, history=history)
        if reason:
            return self._handoff(decision.intent, decision.stage, reason)
        if unsure or intent is None or not intent.kb_topic:
            # Asked once, with the likeliest intents as buttons; a second unsure message after
            # this question hands off (`no_progress`), and so does a request for a person.
            options = options_of(decision, self.intents)
            text = CLARIFY_CHOICES if options else CLARIFY
            return Reply("clarify", text, decision.intent, decision.stage, options=options)
        return await self._answer(text, intent, decision.stage)

    async def chosen(self, text: str, name: str) -> Reply:
        """The customer picked `name` from a clarifying question about `text`: act on it as a
        trusted decision (answer from its topic, or hand off when its action says so)."""
        intent = self.intents.get(name)
        if intent is None:
            return Reply("clarify", CLARIFY, name, "choice")
        if intent.action == "handoff":
            return self._handoff(name, "choice", f"the customer chose {label(name).lower()}")
        if not intent.kb_topic:
            return Reply("clarify", CLARIFY, name, "choice")
        return await self._answer(text, intent, "choice")

    async def _answer(self, text: str, intent: Intent, stage: str) -> Reply:
        assert intent.kb_topic is not None
        passages = await self._passages(text, intent.kb_topic)
        if not passages:
            return self._handoff(intent.name, stage, "no answer in the knowledge base")
        answer = await self._write(text, intent.name, passages)
        return Reply(
            "answer", answer + "\n_Not what you needed? Ask for a person._", intent.name, stage
        )

    def _handoff(self, intent: str, stage: str, reason: str) -> Reply:
        return Reply("handoff", "", intent, stage, reason)

    async def _passages(self, text: str, topic: str) -> list[Passage]:
        # An edited file is read now, and its new fingerprint keys the cache: no stale passages.
        self.kb.refresh()
        key = self.layers.kb.key(normalize(text), topic, self.kb.fingerprint, str(PASSAGES))
        cached = await self.layers.kb.get_json(key)
        if isinstance(cached, list) and cached:
            return [Passage(**p) for p in cached]
        passages = self.kb.retrieve(text, k=PASSAGES, topic=topic)
        if passages:
            await self.layers.kb.set_json(key, [p.__dict__ for p in passages])
        return passages

    async def _write(self, text: str, intent: str, passages: Sequence[Passage]) -> str:
        """The LLM's grounded answer (escaped for Slack), else the best passage as a template."""
        if self.writer is None:
            return templated(passages)
        key = self.layers.responses.key(
            normalize(text),
            intent,
            self.writer.model,
            self.writer.prompt_hash,
            content_hash(*(f"{p.title}\n{p.text}" for p in passages)),
        )
        cached = await self.layers.responses.get_json(key)
        if isinstance(cached, dict) and cached.get("text"):
            return mrkdwn_escape(str(cached["text"]))
        try:
            answer = await self.writer.write(text, passages)
        except LlmError:
            # Failed, or not grounded on the passages: the template is useful and never cached.
            return templated(passages)
        await self.layers.responses.set_json(
            key, {"text": answer.text}, tokens=answer.usage.total_tokens
        )
        # Model output is text, never markup: no <!channel>, mentions or disguised links.
        return mrkdwn_escape(answer.text)
