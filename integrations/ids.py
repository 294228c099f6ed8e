"""Strict parsing of numeric ids that arrive from outside: slash commands, webhooks, payloads."""

from __future__ import annotations

MAX_ID = 2**63 - 1  # Gorgias ids and our BIGINT columns are signed 64-bit
_MAX_DIGITS = len(str(MAX_ID))


def parse_id(value: object) -> int | None:
    """The id `value` holds, or None when it holds none.

    An id is 1..2**63-1, given as an int or as a string of ASCII digits `0`-`9` only. Refused:
    booleans, floats, signs, spaces, underscores, non-ASCII digits such as "²" or "٣" (which
    `str.isdigit()` accepts and `int()` then rejects or reads as a different number), zero, and
    anything beyond 64 bits, which a database would refuse later with an error.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif (
        isinstance(value, str)
        and 0 < len(value) <= _MAX_DIGITS
        and value.isascii()
        and value.isdigit()
    ):
        number = int(value)
    else:
        return None
    return number if 1 <= number <= MAX_ID else None
