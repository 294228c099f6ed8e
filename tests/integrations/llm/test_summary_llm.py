"""The LLM summarizer against the emulator: strict schema, bounded time, breaker, junk refused."""

from __future__ import annotations

import json

import openai
import pytest

from ticketbolt.integrations.llm.client import LlmInvalidAnswer, LlmUnavailable
from ticketbolt.integrations.llm.emulator import LlmEmulator
from ticketbolt.integrations.llm.summary import Line, LlmSummarizer, conversation_prompt
from ticketbolt.integrations.resilience import CircuitBreaker

CONVERSATION = [
    Line("customer", "Dana", "My parcel never arrived"),
    Line("team", "Alex", "Did you check the locker?"),
    Line("customer", "Dana", "Yes, nothing there"),
    Line("team", "Alex", "We will resend it on Wednesday"),
]


def summarizer(client: openai.AsyncOpenAI, **options: float) -> LlmSummarizer:
    breaker = CircuitBreaker(name="llm-summaries", failure_threshold=2, reset_timeout=60)
    return LlmSummarizer(client, "gpt-4o-mini", breaker, **options)


async def test_a_summary_has_the_three_fields(
    llm_client: openai.AsyncOpenAI, emulator: LlmEmulator
) -> None:
    """A strict schema the emulator accepts; it quotes the first and the last message."""
    answer = await summarizer(llm_client).summarize(conversation_prompt(CONVERSATION))
    assert answer.who.startswith("dana: my parcel never arrived")
    assert answer.tried.startswith("alex: we will resend it")
    assert answer.usage.total_tokens > 0
    [request] = emulator.requests
    assert "summary" == request["response_format"]["json_schema"]["name"]


@pytest.mark.parametrize(
    "reply",
    [
        "not json",
        '{"who": "x", "need": "", "tried": ""}',
        '{"who": "x", "need": 3, "tried": ""}',
        '["who", "need", "tried"]',
    ],
)
async def test_junk_is_refused(
    llm_client: openai.AsyncOpenAI, emulator: LlmEmulator, reply: str
) -> None:
    """Not JSON, no need, a number, not an object: LlmInvalidAnswer, never a summary."""
    emulator.reply_with(reply)
    with pytest.raises(LlmInvalidAnswer):
        await summarizer(llm_client).summarize(conversation_prompt(CONVERSATION))


async def test_an_answer_cut_off_at_max_tokens_is_refused(
    llm_client: openai.AsyncOpenAI, emulator: LlmEmulator
) -> None:
    """The emulator cuts a reply longer than max_tokens, as the API does: finish_reason length."""
    emulator.reply_with(json.dumps({"who": "x" * 400, "need": "y", "tried": "z"}))
    with pytest.raises(LlmInvalidAnswer, match="cut off"):
        await summarizer(llm_client, max_tokens=20).summarize(conversation_prompt(CONVERSATION))


async def test_a_slow_endpoint_is_given_up_on_within_the_budget(emulator: LlmEmulator) -> None:
    """An endpoint slower than the budget raises LlmUnavailable; two such failures open the
    breaker, and the next summary is refused without a request."""
    emulator.latency = 5.0
    client = openai.AsyncOpenAI(api_key=emulator.api_key, base_url=emulator.base_url)
    try:
        writer = summarizer(client, budget=0.2)
        for _ in range(2):
            with pytest.raises(LlmUnavailable):
                await writer.summarize(conversation_prompt(CONVERSATION))
        sent = len(emulator.requests)
        with pytest.raises(LlmUnavailable, match="open"):
            await writer.summarize(conversation_prompt(CONVERSATION))
        assert sent == len(emulator.requests)
        assert "open" == writer.breaker.state
    finally:
        await client.close()


async def test_the_emulator_refuses_a_strict_schema_that_allows_extra_keys(
    llm_client: openai.AsyncOpenAI, emulator: LlmEmulator
) -> None:
    """As the API does: strict mode needs additionalProperties false and every key required."""
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    with pytest.raises(openai.BadRequestError, match="additionalProperties"):
        await llm_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "x", "strict": True, "schema": schema},
            },
        )
    assert [] == emulator.requests
