"""The grounding check for written answers: they must quote a passage and invent no numbers."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ticketbolt.integrations.intents.normalize import normalize

# Four words in a row are rarely shared by chance ("you can return" is three), and an answer
# written from a passage nearly always repeats one of its phrases.
QUOTE_WORDS = 4
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The words of `text` after normalisation (case, Unicode forms and entities folded)."""
    return _WORD.findall(normalize(text, max_chars=100_000))


def _runs(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def grounded(answer: str, passages: Sequence[str]) -> bool:
    """Whether `answer` is grounded on `passages`, by two rules that both must hold.

    1. It quotes a passage: some run of `QUOTE_WORDS` consecutive words of the answer also
       appears, in order, in one passage (a passage shorter than that counts when quoted whole).
    2. It invents no numbers: every word of the answer that holds a digit (an amount, a date,
       a count of days, an order number) appears in one of the passages.

    Words are compared after `normalize`, so case, punctuation and Unicode forms do not matter.
    """
    said = words(answer)
    known = [words(passage) for passage in passages]
    vocabulary = {word for passage in known for word in passage}
    if any(any(c.isdigit() for c in word) and word not in vocabulary for word in said):
        return False
    for passage in known:
        n = min(QUOTE_WORDS, len(passage))
        if n and _runs(passage, n) & _runs(said, n):
            return True
    return False
