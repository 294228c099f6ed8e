"""What the database refuses is taken out of every string at the boundary, and nothing else."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ticketbolt.bot.db.upsert import storable

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@given(JSON)
def test_every_string_becomes_storable(value: Any) -> None:
    """No NUL survives, every string encodes as UTF-8, and cleaning twice changes nothing."""
    cleaned = storable(value)
    strings = _strings(cleaned)
    assert [] == [s for s in strings if "\x00" in s]
    for s in strings:
        s.encode("utf-8")
    assert cleaned == storable(cleaned)


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")))
def test_text_the_database_accepts_is_left_alone(text: str) -> None:
    """Ordinary text (emoji, any script, control characters but NUL) is stored unchanged."""
    assert text == storable(text)
