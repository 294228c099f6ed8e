"""The knowledge base: passages by heading, and retrieval by similarity within a topic."""

# STYLE.md: asserts read `expected == actual`, which SIM300 calls a Yoda condition.

from __future__ import annotations

from pathlib import Path

import pytest

from ticketbolt.integrations.intents.config import IntentsConfig
from ticketbolt.integrations.intents.kb import KnowledgeBase, KnowledgeBaseError, split_markdown
from ticketbolt.integrations.intents.offline import Encoder


@pytest.fixture(scope="module")
def kb(encoder: Encoder) -> KnowledgeBase:
    return KnowledgeBase.from_dir(encoder)


def test_split_by_heading_keeps_the_heading_path() -> None:
    """Each section with text becomes a passage titled by its enclosing headings."""
    markdown = "# Shipping\nIntro.\n## Costs\nFour euros.\n### Express\nTwelve.\n## Times\nFast.\n"
    passages = split_markdown(markdown, "shipping.md", "shipping")
    assert [
        ("Shipping", "Intro."),
        ("Shipping › Costs", "Four euros."),
        ("Shipping › Costs › Express", "Twelve."),
        ("Shipping › Times", "Fast."),
    ] == [(p.title, p.text) for p in passages]
    assert {"shipping"} == {p.topic for p in passages}


def test_sample_kb_covers_every_answer_topic(
    kb: KnowledgeBase, default_intents: IntentsConfig
) -> None:
    """Every kb_topic of the built-in intents has passages in the sample KB."""
    wanted = {i.kb_topic for i in default_intents.intents if i.kb_topic}
    assert set() == wanted - kb.topics


@pytest.mark.parametrize(
    ("query", "topic"),
    [
        ("how long until my refund shows up on my card", "refunds"),
        ("how do I reset my password", "account"),
        ("how should I wash my merino jumper", "product-care"),
    ],
)
def test_retrieve_finds_the_right_topic(kb: KnowledgeBase, query: str, topic: str) -> None:
    """The best passage for a question comes from the file that answers it."""
    assert topic == kb.retrieve(query, k=1)[0].topic


def test_retrieve_respects_topic_and_k(kb: KnowledgeBase) -> None:
    """With a topic only that topic's passages return, at most k, best first."""
    passages = kb.retrieve("where is my parcel", k=3, topic="shipping")
    assert 3 == len(passages)
    assert {"shipping"} == {p.topic for p in passages}
    scores = [p.score for p in passages]
    assert sorted(scores, reverse=True) == scores
    assert [] == kb.retrieve("where is my parcel", topic="no-such-topic")


def test_missing_directory_is_an_error(encoder: Encoder, tmp_path: Path) -> None:
    """A KB directory that does not exist, or holds no Markdown, is reported."""
    with pytest.raises(KnowledgeBaseError, match="does not exist"):
        KnowledgeBase.from_dir(encoder, tmp_path / "absent")
    with pytest.raises(KnowledgeBaseError, match="no Markdown passages"):
        KnowledgeBase.from_dir(encoder, tmp_path)


def test_refresh_follows_edited_files(encoder: Encoder, tmp_path: Path) -> None:
    """An edited passage is read at the next refresh and changes the fingerprint; an unchanged
    directory and a directory emptied mid-edit keep what is loaded."""
    article = tmp_path / "returns.md"
    article.write_text("# Returns\n## Window\nReturns within 30 days.\n", encoding="utf-8")
    kb = KnowledgeBase.from_dir(encoder, tmp_path)
    before = kb.fingerprint
    assert kb.refresh() is False

    article.write_text("# Returns\n## Window\nReturns within 45 days, always.\n", encoding="utf-8")
    assert kb.refresh() is True
    assert before != kb.fingerprint
    assert ["Returns within 45 days, always."] == [p.text for p in kb.retrieve("returns", k=1)]

    edited = kb.fingerprint
    article.write_text("", encoding="utf-8")
    assert kb.refresh() is False
    assert edited == kb.fingerprint
    assert ["Returns within 45 days, always."] == [p.text for p in kb.retrieve("returns", k=1)]


def test_a_kb_built_from_passages_never_reloads(encoder: Encoder) -> None:
    """Passages given directly have no files to follow."""
    kb = KnowledgeBase(encoder, split_markdown("# A\nText.\n", "a.md", "a"))
    assert kb.refresh() is False
