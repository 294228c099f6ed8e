"""The grounding check: a written answer quotes one of its passages and invents no numbers."""

# STYLE.md: asserts read `expected == actual`, which SIM300 calls a Yoda condition.

from __future__ import annotations

import pytest

from ticketbolt.integrations.llm.grounding import grounded

PASSAGES = [
    "You can return unworn items with their tags attached within 30 days of delivery.",
    "Returns within the EU are free. From other countries the label costs 9.90 €.",
]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("You can return unworn items within 30 days of delivery.", True),
        ("Good news: RETURNS WITHIN THE EU are free of charge!", True),
        ("Sure! Your order ships tomorrow by express courier.", False),
        ("You can return unworn items within 60 days of delivery.", False),
        ("A return label from outside the EU costs 9.90 €.", False),
        ("From other countries the label costs 9.90 €.", True),
        ("", False),
    ],
    ids=[
        "quotes-a-passage",
        "quote-ignores-case-and-punctuation",
        "quotes-nothing",
        "invents-a-number",
        "three-words-are-not-a-quote",
        "number-from-a-passage",
        "empty",
    ],
)
def test_grounded(answer: str, expected: bool) -> None:
    """Four consecutive words from one passage, and only the passages' numbers."""
    assert expected == grounded(answer, PASSAGES)


def test_a_short_passage_counts_when_quoted_whole() -> None:
    """A passage of fewer than four words grounds an answer that repeats all of it."""
    assert grounded("Yes: ships worldwide, always.", ["Ships worldwide."])
    assert not grounded("We ship to most places.", ["Ships worldwide."])
