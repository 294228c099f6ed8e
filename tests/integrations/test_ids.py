"""`parse_id`: ids from outside are ASCII digits within 1..2**63-1, nothing else."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketbolt.integrations.ids import MAX_ID, parse_id


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("1", 1),
        ("0042", 42),
        (str(MAX_ID), MAX_ID),
        (MAX_ID, MAX_ID),
        (7, 7),
        (str(MAX_ID + 1), None),
        (MAX_ID + 1, None),
        (10**30, None),
        (str(10**30), None),
        ("²", None),
        ("١٢", None),
        ("１２", None),
        ("0", None),
        (0, None),
        (-1, None),
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1_000", None),
        ("1.0", None),
        (1.0, None),
        (True, None),
        (None, None),
        ("", None),
        ("9" * 5000, None),
        ([1], None),
    ],
)
def test_parse_id_examples(given: object, expected: int | None) -> None:
    """Digits that `str.isdigit()` accepts but are not ASCII, signs, spaces, floats, booleans,
    zero and anything past 64 bits are no id."""
    assert expected == parse_id(given)


@given(st.text(max_size=25))
def test_any_text_is_an_id_only_when_ascii_digits_in_range(text: str) -> None:
    """For any text: the number it spells in ASCII digits when within 1..2**63-1, else None."""
    digits = re.fullmatch(r"[0-9]{1,19}", text)
    expected = int(text) if digits and 1 <= int(text) <= MAX_ID else None
    assert expected == parse_id(text)


@given(st.integers())
def test_any_int_is_an_id_only_within_64_bits(number: int) -> None:
    """For any int, and its decimal text: itself when within 1..2**63-1, else None."""
    expected = number if 1 <= number <= MAX_ID else None
    assert (expected, expected) == (parse_id(number), parse_id(str(number)))
