"""The assistant's decision offline (no LLM): unsure guesses ask, they never open a ticket."""

# STYLE.md: asserts read `expected == actual`, which SIM300 calls a Yoda condition.

from __future__ import annotations

import json
from dataclasses import dataclass

import openai
import pytest

from ticketbolt.cache.layers import CacheLayers
from ticketbolt.cache.memory import MemoryCache
from ticketbolt.handlers.assistant_engine import AssistantEngine
from ticketbolt.integrations.intents.cascade import IntentCascade
from ticketbolt.integrations.intents.config import IntentsConfig, load_intents
from ticketbolt.integrations.intents.kb import KnowledgeBase
from ticketbolt.integrations.intents.model_cache import classifier_from_config
from ticketbolt.integrations.intents.offline import Encoder, OfflineClassifier, load_encoder
from ticketbolt.integrations.llm.client import LlmClassifier
from ticketbolt.integrations.llm.emulator import LlmEmulator

# CLINC150 out-of-scope test messages whose best guess among the built-in intents is a hand-off
# intent (complaint), with a probability far under any threshold.
OUT_OF_SCOPE = ("how do you make sure a bridge doesn't fall down", "fold my hand")


@dataclass(frozen=True)
class Turn:
    role: str
    intent: str | None


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return load_encoder()


@pytest.fixture(scope="module")
def intents() -> IntentsConfig:
    return load_intents()


@pytest.fixture(scope="module")
def offline(encoder: Encoder, intents: IntentsConfig) -> OfflineClassifier:
    return classifier_from_config(encoder, intents)


@pytest.fixture
def engine(encoder: Encoder, intents: IntentsConfig, offline: OfflineClassifier) -> AssistantEngine:
    layers = CacheLayers(MemoryCache())
    cascade = IntentCascade(offline, None, layers.intents)
    return AssistantEngine(cascade, intents, KnowledgeBase.from_dir(encoder), layers)


@pytest.mark.parametrize("text", OUT_OF_SCOPE)
async def test_an_unsure_hand_off_guess_asks_instead_of_opening_a_ticket(
    engine: AssistantEngine, offline: OfflineClassifier, intents: IntentsConfig, text: str
) -> None:
    """Below the threshold with no LLM, a best guess that is a hand-off intent is not acted on:
    the customer is asked to rephrase or to ask for a person."""
    guess = offline.classify(text)
    assert (True, "handoff") == (guess.uncertain, intents.get(guess.intent).action)  # type: ignore[union-attr]
    reply = await engine.reply(text, [])
    assert ("clarify", "") == (reply.action, reply.reason)
    assert "rephrase" in reply.text
    assert "ask for a person" in reply.text


async def test_an_explicit_request_for_a_person_still_hands_off(engine: AssistantEngine) -> None:
    """Asking for a human hands off whatever the classifier thinks."""
    reply = await engine.reply("fold my hand, or let me talk to a human", [])
    assert ("handoff", "asked for a person") == (reply.action, reply.reason)


async def test_a_confident_hand_off_intent_hands_off(engine: AssistantEngine) -> None:
    """A hand-off intent the classifier is sure of opens a ticket, as configured."""
    reply = await engine.reply("My package says delivered but it's not here", [])
    assert ("handoff", "shipping_issue") == (reply.action, reply.intent)
    assert "shipping_issue needs a person" == reply.reason


async def test_still_unsure_after_asking_once_hands_off(engine: AssistantEngine) -> None:
    """An unsure message right after a request to rephrase goes to a person: repeated failure."""
    history = [Turn("customer", None), Turn("bot", "clarify")]
    reply = await engine.reply(OUT_OF_SCOPE[0], history)
    assert ("handoff", "two replies without progress") == (reply.action, reply.reason)


@pytest.mark.parametrize(
    ("confidence", "action"), [(0.3, "clarify"), (0.95, "handoff")], ids=["guess", "sure"]
)
async def test_the_llm_hand_off_answer_counts_only_when_it_is_confident(
    encoder: Encoder,
    intents: IntentsConfig,
    offline: OfflineClassifier,
    confidence: float,
    action: str,
) -> None:
    """The LLM answering a hand-off intent with a low confidence of its own is a guess: the
    assistant asks. The same answer given with confidence hands off."""
    layers = CacheLayers(MemoryCache())
    async with LlmEmulator(api_key="test-key") as emulator:
        client = openai.AsyncOpenAI(api_key="test-key", base_url=emulator.base_url, max_retries=0)
        try:
            llm = LlmClassifier(client, "gpt-4o-mini", intents)
            cascade = IntentCascade(offline, llm, layers.intents, threshold=1.01)
            engine = AssistantEngine(cascade, intents, KnowledgeBase.from_dir(encoder), layers)
            emulator.reply_with(json.dumps({"intent": "cancel_order", "confidence": confidence}))
            reply = await engine.reply("about the thing from before", [])
        finally:
            await client.close()
    assert (action, "cancel_order", "llm") == (reply.action, reply.intent, reply.stage)


async def test_the_clarifying_question_offers_the_likeliest_intents(
    engine: AssistantEngine, offline: OfflineClassifier
) -> None:
    """Unsure with no LLM: two or three configured intents to choose from, likeliest first,
    never `other` (no answer) nor `talk_to_human` (a person has a button of its own)."""
    text = "where is my parcel, and can I still change the address"
    guess = offline.classify(text)
    assert guess.uncertain
    reply = await engine.reply(text, [])
    assert "clarify" == reply.action
    assert 2 <= len(reply.options) <= 3
    assert not {"other", "talk_to_human"} & set(reply.options)
    ranked = [name for name, _ in guess.candidates if name not in {"other", "talk_to_human"}]
    assert ranked[: len(reply.options)] == list(reply.options)


async def test_a_chosen_intent_is_acted_on_as_a_trusted_decision(engine: AssistantEngine) -> None:
    """A button's intent answers from its topic, or hands off when its action says so."""
    answer = await engine.chosen("about my order from last week", "order_status")
    assert ("answer", "order_status", "choice") == (answer.action, answer.intent, answer.stage)
    handoff = await engine.chosen("about my order from last week", "cancel_order")
    assert ("handoff", "the customer chose cancel order") == (handoff.action, handoff.reason)
    unknown = await engine.chosen("about my order from last week", "no_such_intent")
    assert "clarify" == unknown.action
