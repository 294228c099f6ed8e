"""The knowledge base: Markdown files split into passages by heading, retrieved by similarity."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ticketbolt.cache.layers import content_hash
from ticketbolt.integrations.intents.normalize import normalize
from ticketbolt.integrations.intents.offline import Encoder, Vectors

logger = logging.getLogger(__name__)

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


def load_passages(root: Path) -> list[Passage]:
    """Every passage of every `*.md` file under `root`, files in name order."""
    return [
        passage
        for file in sorted(root.rglob("*.md"))
        for passage in split_markdown(
            file.read_text(encoding="utf-8"), str(file.relative_to(root)), file.stem
        )
    ]


def _files(root: Path) -> tuple[tuple[str, int, int, int], ...]:
    """What `stat` says of each file: a change to any of them means the files must be read.

    Checked before every retrieval, so it walks with `os.scandir` (which `Path.rglob` costs
    several times more than)."""
    found = []
    folders = [str(root)]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):  # as rglob: no symlink loops
                    folders.append(entry.path)
                elif entry.name.endswith(".md") and entry.is_file():
                    stat = entry.stat()
                    found.append((entry.path, stat.st_ino, stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(found))


@dataclass(frozen=True)
class _Index:
    """One version of the passages with their vectors; replaced whole, never changed."""

    passages: list[Passage]
    vectors: Vectors  # one unit row per passage
    topics: npt.NDArray[np.str_]  # the passages' topics, for masking
    rows: dict[str, Vectors]  # embedded text → its vector, reused when files change
    fingerprint: str


class KnowledgeBase:
    """Passages embedded with the classifier's encoder; retrieval is a cosine ranking.

    Loaded from a directory, it follows the files: `refresh()` (the assistant calls it before
    each retrieval) re-reads them when any was added, removed or changed, and embeds only
    passages whose text is new. `fingerprint` hashes every passage, so cache keys that include
    it change as soon as a passage does.
    """

    def __init__(self, encoder: Encoder, passages: Sequence[Passage], root: Path | None = None):
        if not passages:
            raise KnowledgeBaseError("the knowledge base holds no passages")
        self._encoder = encoder
        self._root = root
        self._files = _files(root) if root is not None else ()
        self._index = self._build(list(passages), {})

    @classmethod
    def from_dir(cls, encoder: Encoder, directory: Path | str | None = None) -> KnowledgeBase:
        """Load every `*.md` file under `directory` (`TICKETBOLT_KB_DIR`) or the built-in sample."""
        root = Path(directory) if directory is not None else DEFAULT_KB_DIR
        if not root.is_dir():
            raise KnowledgeBaseError(f"{root}: the knowledge-base directory does not exist")
        passages = load_passages(root)
        if not passages:
            raise KnowledgeBaseError(f"{root}: no Markdown passages found")
        return cls(encoder, passages, root)

    def _build(self, passages: list[Passage], known: dict[str, Vectors]) -> _Index:
        texts = [normalize(f"{p.title}\n{p.text}") for p in passages]
        new = [text for text in dict.fromkeys(texts) if text not in known]
        rows = {text: known[text] for text in texts if text in known}
        if new:
            rows.update(zip(new, self._encoder.embed(new), strict=True))
        fingerprint = content_hash(*(f"{p.source}\n{p.title}\n{p.text}" for p in passages))
        return _Index(
            passages,
            np.stack([rows[text] for text in texts]),
            np.array([p.topic for p in passages]),
            rows,
            fingerprint,
        )

    def refresh(self) -> bool:
        """Re-read the directory if a file changed on disk; True when the passages changed.

        A directory that cannot be read, or that holds no passages any more, keeps the passages
        already loaded (with a warning): a half-finished edit never empties the assistant.
        """
        if self._root is None:
            return False
        try:
            files = _files(self._root)
            if files == self._files:
                return False
            passages = load_passages(self._root)
        except (OSError, UnicodeDecodeError) as exc:
            logger.warning("knowledge base not reloaded, keeping the last version: %s", exc)
            return False
        self._files = files
        if not passages:
            logger.warning("knowledge base now holds no passages, keeping the last version")
            return False
        before = self._index
        self._index = self._build(passages, before.rows)
        changed = self._index.fingerprint != before.fingerprint
        if changed:
            logger.info("knowledge base reloaded: %d passages", len(passages))
        return changed

    @property
    def fingerprint(self) -> str:
        """A hash of every passage's source, title and text."""
        return self._index.fingerprint

    @property
    def topics(self) -> set[str]:
        return {passage.topic for passage in self._index.passages}

    def __len__(self) -> int:
        return len(self._index.passages)

    def retrieve(self, query: str, k: int = 3, topic: str | None = None) -> list[Passage]:
        """The `k` passages most similar to `query`, optionally only from one topic, best first."""
        index = self._index
        scores = index.vectors @ self._encoder.embed([normalize(query)])[0]
        if topic is not None:
            scores = np.where(index.topics == topic, scores, -np.inf)
        order = np.argsort(-scores, kind="stable")[:k]
        return [
            replace(index.passages[i], score=float(scores[i]))
            for i in order
            if np.isfinite(scores[i])
        ]
