"""Score the offline classifier on labelled CSV files (`ticketbolt intents eval`) and CLINC150."""

from __future__ import annotations

import csv
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ticketbolt.integrations.intents.offline import (
    DEFAULT_THRESHOLD,
    Encoder,
    OfflineClassifier,
    load_encoder,
)

Row = tuple[str, str]
Progress = Callable[[str], None]

TEXT_COLUMN = "text"
LABEL_COLUMNS = ("intent", "label", "category")
# Single-message throughput is timed on a sample: a few hundred calls give a stable rate.
_SINGLE_SAMPLE = 500
_ROUNDS = 3


class EvalDataError(ValueError):
    """A CSV file cannot be read or lacks the text or label column."""


def read_rows(path: Path | str) -> list[Row]:
    """(text, intent) rows of a CSV with a header: `text`, and `intent`, `label` or `category`."""
    file = Path(path)
    try:
        with file.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = [name.strip() for name in reader.fieldnames or []]
            if TEXT_COLUMN not in columns:
                raise EvalDataError(
                    f"{file}: no '{TEXT_COLUMN}' column (found: {', '.join(columns) or 'none'})"
                )
            label = next((name for name in LABEL_COLUMNS if name in columns), None)
            if label is None:
                raise EvalDataError(
                    f"{file}: no label column; expected one of {', '.join(LABEL_COLUMNS)} "
                    f"(found: {', '.join(columns)})"
                )
            reader.fieldnames = columns
            rows = [
                (row[TEXT_COLUMN].strip(), row[label].strip())
                for row in reader
                if (row.get(TEXT_COLUMN) or "").strip() and (row.get(label) or "").strip()
            ]
    except OSError as error:
        raise EvalDataError(f"{file}: cannot read: {error}") from error
    if not rows:
        raise EvalDataError(f"{file}: no labelled rows")
    return rows


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


def _per_intent(truth: list[str], predicted: list[str]) -> dict[str, dict[str, float]]:
    result: dict[str, dict[str, float]] = {}
    for intent in sorted(set(truth) | set(predicted)):
        tp = sum(t == p == intent for t, p in zip(truth, predicted, strict=True))
        support = truth.count(intent)
        guessed = predicted.count(intent)
        precision = tp / guessed if guessed else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        result[intent] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": support,
        }
    return result


def _calibration_error(confidence: np.ndarray[Any, Any], correct: np.ndarray[Any, Any]) -> float:
    """Expected calibration error over ten equal-width confidence bins."""
    bins = np.minimum((confidence * 10).astype(int), 9)
    total = 0.0
    for b in range(10):
        mask = bins == b
        if mask.any():
            total += mask.sum() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(total / len(confidence))


def _best_of(work: Callable[[], object], rounds: int = _ROUNDS) -> float:
    """The shortest wall time of `rounds` runs of `work`, in seconds."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def evaluate(classifier: OfflineClassifier, rows: Sequence[Row]) -> dict[str, Any]:
    """Accuracy, coverage at the threshold, per-intent scores and throughput on labelled rows."""
    texts = [text for text, _ in rows]
    truth = [label for _, label in rows]
    classifier.classify_batch(texts[:64])  # warm the tokenizer and BLAS before timing
    predictions = classifier.classify_batch(texts)
    sample = texts[:_SINGLE_SAMPLE]
    # Best of a few rounds: on a shared machine the fastest round is the best estimate of what
    # the classifier itself costs; slower rounds measure the neighbours.
    batch_seconds = _best_of(lambda: classifier.classify_batch(texts))
    single_seconds = _best_of(lambda: [classifier.classify(text) for text in sample])

    predicted = [p.intent for p in predictions]
    correct = np.array([p == t for p, t in zip(predicted, truth, strict=True)])
    confidence = np.array([p.confidence for p in predictions])
    covered = confidence >= classifier.threshold
    return {
        "accuracy": round(float(correct.mean()), 4),
        "n": len(rows),
        "intents": len(set(truth)),
        "coverage": round(float(covered.mean()), 4),
        "per_intent": _per_intent(truth, predicted),
        "messages_per_second": round(len(texts) / max(batch_seconds, 1e-9)),
        "messages_per_second_single": round(len(sample) / max(single_seconds, 1e-9)),
        "threshold": classifier.threshold,
        "accuracy_covered": round(float(correct[covered].mean()), 4) if covered.any() else None,
        "calibration_error": round(_calibration_error(confidence, correct), 4),
    }


def run_eval(
    examples_path: Path | str,
    test_path: Path | str,
    *,
    per_intent: int | None = None,
    progress: Progress | None = None,
    encoder: Encoder | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit on TRAIN's examples (optionally `per_intent` of each, seeded) and score TEST."""
    report = progress or (lambda _message: None)
    train = read_rows(examples_path)
    test = read_rows(test_path)
    if per_intent is not None:
        train = sample_per_intent(train, per_intent, seed)
    if encoder is None:
        report("loading the encoder")
        encoder = load_encoder()
    report(f"fitting on {len(train)} examples of {len({label for _, label in train})} intents")
    started = time.perf_counter()
    classifier = OfflineClassifier.fit(
        encoder, [t for t, _ in train], [label for _, label in train], threshold=threshold
    )
    fit_seconds = time.perf_counter() - started
    report(f"scoring {len(test)} messages")
    result = evaluate(classifier, test)
    result["train_n"] = len(train)
    result["fit_seconds"] = round(fit_seconds, 2)
    return result


def format_report(result: dict[str, Any], *, per_intent: bool = True) -> str:
    """A plain-text summary, then one line per intent (worst F1 first)."""
    covered = result.get("accuracy_covered")
    lines = [
        f"accuracy      {result['accuracy']:.2%} on {result['n']} messages, "
        f"{result['intents']} intents",
        f"coverage      {result['coverage']:.2%} at threshold {result.get('threshold', '?')}"
        + (f" (accuracy {covered:.2%} on those)" if covered is not None else ""),
        f"throughput    {result['messages_per_second']:,} msgs/s batched"
        + (
            f", {result['messages_per_second_single']:,} single"
            if "messages_per_second_single" in result
            else ""
        ),
    ]
    if per_intent:
        lines += ["", f"{'intent':<32} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>7}"]
        ranked = sorted(result["per_intent"].items(), key=lambda item: item[1]["f1"])
        lines += [
            f"{name[:32]:<32} {s['precision']:>9.2f} {s['recall']:>7.2f} {s['f1']:>6.2f} "
            f"{s['support']:>7}"
            for name, s in ranked
        ]
    return "\n".join(lines)
