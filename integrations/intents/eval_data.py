"""Labelled messages for `ticketbolt intents eval`: CSV files, intents files, CLINC150, samples."""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from ticketbolt.integrations.intents.config import IntentsConfig, load_intents

Row = tuple[str, str]

TEXT_COLUMN = "text"
LABEL_COLUMNS = ("intent", "label", "category")
INTENTS_SUFFIXES = (".yml", ".yaml")


class EvalDataError(ValueError):
    """A CSV file cannot be read or lacks the text or label column."""


def _table(file: Path, text: str) -> tuple[list[str], list[dict[str, str]]]:
    """A CSV's column names (stripped) and rows; it must have the `text` column."""
    try:
        with file.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = [name.strip() for name in reader.fieldnames or []]
            if text not in columns:
                raise EvalDataError(
                    f"{file}: no '{text}' column (found: {', '.join(columns) or 'none'})"
                )
            reader.fieldnames = columns
            return columns, list(reader)
    except OSError as error:
        raise EvalDataError(f"{file}: cannot read: {error}") from error


def read_rows(
    path: Path | str, *, text_column: str | None = None, label_column: str | None = None
) -> list[Row]:
    """(text, intent) rows of a CSV with a header: `text` (or `text_column`), and `intent`,
    `label` or `category` (or `label_column`)."""
    file = Path(path)
    text = text_column or TEXT_COLUMN
    accepted = (label_column,) if label_column else LABEL_COLUMNS
    columns, table = _table(file, text)
    label = next((name for name in accepted if name in columns), None)
    if label is None:
        raise EvalDataError(
            f"{file}: no label column; expected one of {', '.join(accepted)} "
            f"(found: {', '.join(columns)})"
        )
    rows = [
        (row[text].strip(), row[label].strip())
        for row in table
        if (row.get(text) or "").strip() and (row.get(label) or "").strip()
    ]
    if not rows:
        raise EvalDataError(f"{file}: no labelled rows")
    return rows


def read_texts(path: Path | str, *, text_column: str | None = None) -> list[str]:
    """The messages of a CSV with a header and a `text` (or `text_column`) column; other
    columns, labels included, are ignored (out-of-scope sets need none)."""
    file, text = Path(path), text_column or TEXT_COLUMN
    _, table = _table(file, text)
    texts = [t for row in table if (t := (row.get(text) or "").strip())]
    if not texts:
        raise EvalDataError(f"{file}: no messages")
    return texts


def read_examples(
    path: Path | str, *, text_column: str | None = None, label_column: str | None = None
) -> tuple[list[Row], IntentsConfig | None]:
    """Training rows from a CSV, or from an intents file (`.yml`), which also gives the
    intents' actions (so hand-offs can be counted)."""
    file = Path(path)
    if file.suffix.lower() not in INTENTS_SUFFIXES:
        return read_rows(file, text_column=text_column, label_column=label_column), None
    try:
        config = load_intents(file)
    except ValueError as error:
        raise EvalDataError(str(error)) from error
    texts, labels = config.training_rows()
    return list(zip(texts, labels, strict=True)), config


def sample_per_intent(rows: Sequence[Row], n: int, seed: int = 0) -> list[Row]:
    """At most `n` rows of each intent, drawn with a fixed seed so runs are comparable."""
    by_intent: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_intent[row[1]].append(row)
    rng = random.Random(seed)
    sample: list[Row] = []
    for intent in sorted(by_intent):
        group = by_intent[intent]
        sample.extend(rng.sample(group, min(n, len(group))))
    return sample


def clinc150_rows(path: Path | str) -> tuple[list[Row], list[Row]]:
    """The in-scope (train, test) rows of CLINC150's data_full.json; out-of-scope rows left out."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    train = [(str(text), str(label)) for text, label in data["train"]]
    test = [(str(text), str(label)) for text, label in data["test"]]
    return train, test


def write_rows(rows: Sequence[Row], path: Path | str) -> Path:
    """Write rows as a `text,intent` CSV, the format `ticketbolt intents eval` reads."""
    file = Path(path)
    with file.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([TEXT_COLUMN, "intent"])
        writer.writerows(rows)
    return file


def clinc150_out_of_scope(path: Path | str) -> list[str]:
    """The out-of-scope test messages of CLINC150's data_full.json (`oos_test`)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [str(text) for text, _label in data["oos_test"]]
