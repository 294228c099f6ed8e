"""The knowledge base: Markdown files split into passages by heading, retrieved by similarity."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ticketbolt.integrations.intents.normalize import normalize
from ticketbolt.integrations.intents.offline import Encoder

DEFAULT_KB_DIR = Path(__file__).with_name("sample_kb")

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


class KnowledgeBaseError(ValueError):
    """The knowledge-base directory is missing or holds no passages."""


@dataclass(frozen=True)
class Passage:
    """A section of a KB file: its heading path, body, source file and (when retrieved) score.

    `topic` is the file's stem (`shipping.md` → `shipping`), what an intent's `kb_topic` names.
    """

    title: str
    text: str
    source: str
    score: float = 0.0
    topic: str = ""


def split_markdown(markdown: str, source: str, topic: str) -> list[Passage]:
    """One passage per heading that has body text; its title joins the enclosing headings."""
    passages: list[Passage] = []
    trail: list[tuple[int, str]] = []  # (level, heading) of the enclosing sections
    body: list[str] = []

    def flush() -> None:
        text = "\n".join(body).strip()
        if text:
            title = " › ".join(heading for _, heading in trail) or topic
            passages.append(Passage(title=title, text=text, source=source, topic=topic))
        body.clear()

    for line in markdown.splitlines():
        match = _HEADING.match(line)
        if match is None:
            body.append(line)
            continue
        flush()
        level = len(match.group(1))
        while trail and trail[-1][0] >= level:
            trail.pop()
        trail.append((level, match.group(2)))
    flush()
    return passages


class KnowledgeBase:
    """Passages embedded once with the classifier's encoder; retrieval is a cosine ranking."""

    def __init__(self, encoder: Encoder, passages: Sequence[Passage]):
        if not passages:
            raise KnowledgeBaseError("the knowledge base holds no passages")
        self._encoder = encoder
        self._passages = list(passages)
        self._vectors = encoder.embed([normalize(f"{p.title}\n{p.text}") for p in self._passages])
        self._topics = np.array([p.topic for p in self._passages])

    @classmethod
    def from_dir(cls, encoder: Encoder, directory: Path | str | None = None) -> KnowledgeBase:
        """Load every `*.md` file under `directory` (`TICKETBOLT_KB_DIR`) or the built-in sample."""
        root = Path(directory) if directory is not None else DEFAULT_KB_DIR
        if not root.is_dir():
            raise KnowledgeBaseError(f"{root}: the knowledge-base directory does not exist")
        passages = [
            passage
            for file in sorted(root.rglob("*.md"))
            for passage in split_markdown(
                file.read_text(encoding="utf-8"), str(file.relative_to(root)), file.stem
            )
        ]
        if not passages:
            raise KnowledgeBaseError(f"{root}: no Markdown passages found")
        return cls(encoder, passages)

    @property
    def topics(self) -> set[str]:
        return {passage.topic for passage in self._passages}

    def __len__(self) -> int:
        return len(self._passages)

    def retrieve(self, query: str, k: int = 3, topic: str | None = None) -> list[Passage]:
        """The `k` passages most similar to `query`, optionally only from one topic, best first."""
        scores = self._vectors @ self._encoder.embed([normalize(query)])[0]
        if topic is not None:
            scores = np.where(self._topics == topic, scores, -np.inf)
        order = np.argsort(-scores, kind="stable")[:k]
        return [
            replace(self._passages[i], score=float(scores[i]))
            for i in order
            if np.isfinite(scores[i])
        ]
