"""Normalisation strips Slack markup and folds case, Unicode and spaces."""

# STYLE.md: asserts read `expected == actual`, which SIM300 calls a Yoda condition.

from __future__ import annotations

import pytest

from ticketbolt.integrations.intents.normalize import normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<@U123ABC> where is my order?", "where is my order?"),
        ("<@U123|sam> hi <!here>", "hi"),
        ("see <#C0123|returns> please", "see #returns please"),
        ("see <#C0123> please", "see please"),
        ("track it at <https://example.com/t/1|this link>", "track it at this link"),
        ("track it at <https://example.com/t/1>", "track it at https://example.com/t/1"),
        ("mail <mailto:a@b.com|a@b.com>", "mail a@b.com"),
        ("fish &amp; chips &lt;3 &gt;", "fish & chips <3 >"),
        ("  WHERE\n\tIs   My ORDER  ", "where is my order"),
        ("ｆｕｌｌｗｉｄｔｈ", "fullwidth"),
        ("zero\u200bwidth", "zerowidth"),
        ("Straße", "strasse"),
        ("bell\x07char", "bell char"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    """Slack markup, entities, invisible characters, case and whitespace are normalised."""
    assert expected == normalize(raw)


def test_equivalent_messages_normalise_alike() -> None:
    """Messages that differ only in markup and spacing share one normal form (one cache key)."""
    assert normalize("<@UBOT> Where is my ORDER?") == normalize("where  is my order?")


def test_long_text_is_truncated() -> None:
    """The normal form is capped, so a huge paste cannot blow up prompts or keys."""
    assert "ab" * 25 == normalize("ab" * 1000, max_chars=50)
