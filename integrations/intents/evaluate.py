"""Score the offline cascade on labelled files (`ticketbolt intents eval`) and CLINC150."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ticketbolt.integrations.intents.config import IntentsConfig
from ticketbolt.integrations.intents.encoders import (
    INSTALL_HINT,
    Encoder,
    EncoderError,
    load_tier2,
    load_wordllama,
)
from ticketbolt.integrations.intents.eval_data import (
    EvalDataError,
    Row,
    clinc150_out_of_scope,
    clinc150_rows,
    read_examples,
    read_rows,
    read_texts,
    sample_per_intent,
    write_rows,
)
from ticketbolt.integrations.intents.fitting import fit_tiers
from ticketbolt.integrations.intents.normalize import normalize
from ticketbolt.integrations.intents.offline import (
    DEFAULT_PRECISION,
    OfflineClassifier,
    Prediction,
    _softmax,
)
from ticketbolt.integrations.intents.policy import handoff_reason
from ticketbolt.integrations.intents.tiers import TieredClassifier

__all__ = [
    "AUTO",
    "TIERS",
    "EvalDataError",
    "calibration_error",
    "clinc150_out_of_scope",
    "clinc150_rows",
    "format_report",
    "read_rows",
    "read_texts",
    "run_eval",
    "sample_per_intent",
    "write_rows",
]

Progress = Callable[[str], None]
Tier = Literal["1", "2", "cascade"]
TIERS: tuple[Tier, ...] = ("1", "2", "cascade")
# Averaged over `--samples` runs; the rest of a report is the first run's.
_AVERAGED = (
    "accuracy",
    "coverage",
    "accuracy_covered",
    "threshold",
    "calibration_error",
    "tier1_accuracy",
    "tier1_coverage",
    "tier1_accuracy_covered",
    "tier2_asked",
)
# Single-message latency is timed on a sample: a few hundred calls give a stable figure.
_SINGLE_SAMPLE = 500
_ROUNDS = 3


class _Auto:
    """The default of `run_eval(tier2=…)`: load the installed tier-2 model when one is needed."""


AUTO = _Auto()


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


def calibration_error(confidence: np.ndarray[Any, Any], correct: np.ndarray[Any, Any]) -> float:
    """Expected calibration error (ECE) over ten equal-width confidence bins: the mean gap
    between how sure the classifier said it was and how often it was right."""
    if len(confidence) == 0:
        return 0.0
    bins = np.minimum((confidence * 10).astype(int), 9)
    total = 0.0
    for b in range(10):
        mask = bins == b
        if mask.any():
            total += mask.sum() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(total / len(confidence))


_calibration_error = calibration_error


def _best_of(work: Callable[[], object], rounds: int = _ROUNDS) -> float:
    """The shortest wall time of `rounds` runs of `work`, in seconds."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def _single_latencies(classifier: TieredClassifier, texts: Sequence[str]) -> np.ndarray[Any, Any]:
    """Seconds per message, one `classify` call each (the live path); each message is timed
    `_ROUNDS` times and its fastest kept, so a busy neighbour does not count as our cost."""
    best = np.full(len(texts), np.inf)
    for _ in range(_ROUNDS):
        for i, text in enumerate(texts):
            started = time.perf_counter()
            classifier.classify(text)
            best[i] = min(best[i], time.perf_counter() - started)
    return best


def _latency(seconds: np.ndarray[Any, Any]) -> dict[str, float]:
    ms = seconds * 1000
    return {
        "latency_ms_mean": round(float(ms.mean()), 4),
        "latency_ms_p50": round(float(np.percentile(ms, 50)), 4),
        "latency_ms_p99": round(float(np.percentile(ms, 99)), 4),
    }


def _summary(
    predictions: Sequence[Prediction], truth: Sequence[str]
) -> tuple[dict[str, Any], np.ndarray[Any, Any]]:
    predicted = [p.intent for p in predictions]
    correct = np.array([p == t for p, t in zip(predicted, truth, strict=True)])
    confidence = np.array([p.confidence for p in predictions])
    covered = np.array([not p.uncertain for p in predictions])
    return {
        "accuracy": round(float(correct.mean()), 4),
        "coverage": round(float(covered.mean()), 4),
        "accuracy_covered": round(float(correct[covered].mean()), 4) if covered.any() else None,
        "calibration_error": round(calibration_error(confidence, correct), 4),
    }, correct


def _tier_report(
    classifier: TieredClassifier,
    predictions: Sequence[Prediction],
    correct: np.ndarray[Any, Any],
    texts: Sequence[str],
    truth: Sequence[str],
) -> list[dict[str, Any]]:
    """Per tier: the share of messages it was asked about, the share it answered (confident),
    its accuracy on those, its calibration error before and after the temperature on every
    test message, and its own cost per message."""
    n = len(predictions)
    tiers = []
    for number, tier in enumerate(classifier.tiers, start=1):
        asked = sum(p.tier >= number for p in predictions)
        mine = np.array([p.tier == number and not p.uncertain for p in predictions])
        vectors = tier.encoder.embed([normalize(text) for text in texts])
        alone = _softmax(vectors, tier._weights, tier._bias)
        raw = _softmax(vectors, *tier._raw)  # before the temperature
        right = np.array(
            [tier.intents[i] == t for i, t in zip(alone.argmax(axis=1), truth, strict=True)]
        )
        sample = list(texts[: min(_SINGLE_SAMPLE, len(texts))])
        seconds = _single_latencies(TieredClassifier([tier]), sample)
        tiers.append(
            {
                "tier": number,
                "encoder": tier.encoder.name,
                "threshold": round(tier.threshold, 4),
                "temperature": round(tier.temperature, 4),
                "c": tier.fit_record.c,
                "similarity_floor": round(tier.similarity_floor, 4),
                "asked": round(asked / n, 4),
                "answered": round(float(mine.mean()), 4),
                "accuracy_answered": round(float(correct[mine].mean()), 4) if mine.any() else None,
                "accuracy_alone": round(float(right.mean()), 4),
                "calibration_error": round(calibration_error(alone.max(axis=1), right), 4),
                "calibration_error_uncalibrated": round(
                    calibration_error(raw.max(axis=1), right), 4
                ),
                **_latency(seconds),
            }
        )
    return tiers


def evaluate(
    classifier: TieredClassifier | OfflineClassifier, rows: Sequence[Row]
) -> dict[str, Any]:
    """Accuracy, coverage at the thresholds, calibration, per-intent scores, per-tier figures
    and the cost per message of the whole offline cascade on labelled rows.

    `accuracy` is the cascade's: tier 1's answer when it is sure, else tier 2's (when there is
    a tier 2). `tier1_*` are tier 1 alone, from the same fit.
    """
    if isinstance(classifier, OfflineClassifier):
        classifier = TieredClassifier([classifier])
    texts = [text for text, _ in rows]
    truth = [label for _, label in rows]
    classifier.classify_batch(texts[:64])  # warm the tokenizers and BLAS before timing
    predictions = classifier.classify_batch(texts)
    headline, correct = _summary(predictions, truth)
    # Best of a few rounds: on a shared machine the fastest round is the best estimate of what
    # the classifier itself costs; slower rounds measure the neighbours.
    batch_seconds = _best_of(lambda: classifier.classify_batch(texts))
    sample = texts[:_SINGLE_SAMPLE]
    single = _single_latencies(classifier, sample)
    first = classifier.limited(1)
    alone, _ = _summary(first.classify_batch(texts), truth)
    tiers = _tier_report(classifier, predictions, correct, texts, truth)
    return {
        **headline,
        "n": len(rows),
        "intents": len(set(truth)),
        "per_intent": _per_intent(truth, [p.intent for p in predictions]),
        "messages_per_second": round(len(texts) / max(batch_seconds, 1e-9)),
        "messages_per_second_single": round(len(sample) / max(float(single.sum()), 1e-9)),
        **_latency(single),
        "threshold": round(classifier.threshold, 4),
        "thresholds": [round(t, 4) for t in classifier.thresholds],
        "tier2_asked": tiers[1]["asked"] if len(tiers) > 1 else 0.0,
        "tier1_accuracy": alone["accuracy"],
        "tier1_coverage": alone["coverage"],
        "tier1_accuracy_covered": alone["accuracy_covered"],
        "tier1_calibration_error": alone["calibration_error"],
        "tiers": tiers,
    }


def score_out_of_scope(
    classifier: TieredClassifier | OfflineClassifier,
    texts: Sequence[str],
    intents: IntentsConfig | None,
) -> dict[str, Any]:
    """What the offline assistant does with messages that match no intent.

    `recall`: the share it is unsure of (under the threshold of every tier), so it asks rather
    than acts. `false_handoffs`: the messages that would open a ticket with no LLM and no
    history: an explicit request for a person or frustration in the text, or a hand-off intent
    (known only when the examples are an intents file) predicted above the threshold.
    """
    if isinstance(classifier, OfflineClassifier):
        classifier = TieredClassifier([classifier])
    predictions = classifier.classify_batch(texts)
    unsure = sum(p.uncertain for p in predictions)
    handoffs = sum(
        bool(
            handoff_reason(
                text,
                intents.get(p.intent) if intents is not None else None,
                unsure=p.uncertain,
                stalled=False,
            )
        )
        for text, p in zip(texts, predictions, strict=True)
    )
    return {
        "n": len(texts),
        "recall": round(unsure / len(texts), 4),
        "false_handoffs": handoffs,
        "false_handoff_rate": round(handoffs / len(texts), 4),
    }


def _encoders(
    tier: str, encoder: Encoder | None, tier2: Encoder | _Auto | None, report: Progress
) -> tuple[list[Encoder], str]:
    """The encoders `tier` needs, loaded unless given, and a note on tier 2."""
    if tier not in TIERS:
        raise EvalDataError(f"--tier must be one of {', '.join(TIERS)}, not {tier!r}")
    note = ""
    second: Encoder | None = None
    if tier != "1":
        if isinstance(tier2, _Auto):
            report("loading the tier-2 encoder")
            try:
                second, status = load_tier2()
            except EncoderError as error:
                raise EvalDataError(str(error)) from error
            note = status.detail
        else:
            second = tier2
            note = "" if second is None else f"tier 2 {second.name}"
        if second is None:
            if tier == "2":
                raise EvalDataError(f"--tier 2: no tier-2 model ({note or INSTALL_HINT})")
            note = note or f"tier 2 not loaded: {INSTALL_HINT}"
    if tier == "2":
        assert second is not None
        return [second], note
    if encoder is None:
        report("loading the encoder")
        encoder = load_wordllama()
    return ([encoder] if second is None else [encoder, second]), note


def run_eval(
    examples_path: Path | str,
    test_path: Path | str,
    *,
    per_intent: int | None = None,
    samples: int = 1,
    text_column: str | None = None,
    label_column: str | None = None,
    out_of_scope: Path | str | None = None,
    progress: Progress | None = None,
    encoder: Encoder | None = None,
    tier2: Encoder | _Auto | None = AUTO,
    tier: str = "cascade",
    threshold: float | None = None,
    precision: float = DEFAULT_PRECISION,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit on the examples (a CSV or an intents file; optionally `per_intent` of each, seeded)
    and score TEST with `tier`: "1" (wordllama alone), "2" (the transformer alone) or
    "cascade" (tier 1, then tier 2 when tier 1 is unsure: what the assistant does offline;
    tier 1 alone when no tier-2 model is installed, as the assistant does). With `samples` > 1,
    `per_intent` is drawn that many times (seeds `seed`, `seed`+1, …) and the headline figures
    are means, with their standard deviations in `spread`. Thresholds are fitted for
    `precision` unless `threshold` is given. `encoder` is tier 1's and `tier2` tier 2's
    (None: none; by default the installed model is loaded when `tier` needs it)."""
    report = progress or (lambda _message: None)
    if samples < 1 or (samples > 1 and per_intent is None):
        raise EvalDataError("--samples needs --per-intent, and at least 1")
    columns = {"text_column": text_column, "label_column": label_column}
    examples, intents = read_examples(examples_path, **columns)
    test = read_rows(test_path, **columns)
    outside = read_texts(out_of_scope, text_column=text_column) if out_of_scope else None
    encoders, note = _encoders(tier, encoder, tier2, report)
    runs = []
    for run in range(samples):
        train = examples
        if per_intent is not None:
            train = sample_per_intent(examples, per_intent, seed + run)
        report(
            f"fitting on {len(train)} examples of {len({label for _, label in train})} intents "
            f"({len(encoders)} tier(s))"
        )
        started = time.perf_counter()
        classifier = TieredClassifier(
            fit_tiers(
                encoders,
                [t for t, _ in train],
                [label for _, label in train],
                threshold=threshold,
                precision=precision,
            )
        )
        fit_seconds = time.perf_counter() - started
        if intents is not None:
            handoffs = frozenset(i.name for i in intents.intents if i.action == "handoff")
            for fitted in classifier.tiers:
                fitted.cautious = handoffs
        report(f"scoring {len(test)} messages")
        result = evaluate(classifier, test)
        result["tier"] = tier
        if note:
            result["tier2"] = note
        result["train_n"] = len(train)
        result["fit_seconds"] = round(fit_seconds, 2)
        result["threshold_fit"] = classifier.tiers[0].fit_record.as_dict()
        result["threshold_fits"] = [t.fit_record.as_dict() for t in classifier.tiers]
        if outside is not None:
            report(f"scoring {len(outside)} out-of-scope messages")
            result["out_of_scope"] = score_out_of_scope(classifier, outside, intents)
            result["tier1_out_of_scope"] = score_out_of_scope(
                classifier.limited(1), outside, intents
            )
        runs.append(result)
    return _combine(runs) if samples > 1 else runs[0]


def _combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The first run's report with the headline figures averaged over all runs."""
    combined = dict(runs[0])
    combined["samples"] = len(runs)
    combined["spread"] = {}
    for key in _AVERAGED:
        values = [r[key] for r in runs if r.get(key) is not None]
        if values:
            combined[key] = round(statistics.fmean(values), 4)
            combined["spread"][key] = round(statistics.stdev(values), 4)
    for name in ("out_of_scope", "tier1_out_of_scope"):
        if name in combined:
            scopes = [r[name] for r in runs]
            combined[name] = {
                "n": scopes[0]["n"],
                **{
                    key: round(statistics.fmean(scope[key] for scope in scopes), 4)
                    for key in ("recall", "false_handoffs", "false_handoff_rate")
                },
            }
    combined["runs"] = [
        {key: r[key] for key in _AVERAGED if key in r} | {"train_n": r["train_n"]} for r in runs
    ]
    return combined


def format_report(result: dict[str, Any], *, per_intent: bool = True) -> str:
    """A plain-text summary, then one line per intent (worst F1 first)."""
    covered = result.get("accuracy_covered")
    spread = result.get("spread", {})

    def pm(key: str) -> str:
        return f" ± {spread[key]:.2%}" if key in spread else ""

    fit = result.get("threshold_fit") or {}
    how = f"fitted for precision {fit['precision_target']}" if fit.get("fitted") else "fixed"
    thresholds = result.get("thresholds") or [result.get("threshold", "?")]
    tier = {"1": "tier 1", "2": "tier 2", "cascade": "offline cascade"}.get(
        str(result.get("tier", "cascade")), "offline"
    )
    lines = [
        f"accuracy      {result['accuracy']:.2%}{pm('accuracy')} on {result['n']} messages, "
        f"{result['intents']} intents, {tier}"
        + (f" (mean of {result['samples']} samples)" if "samples" in result else ""),
        f"coverage      {result['coverage']:.2%}{pm('coverage')} at threshold(s) "
        f"{', '.join(str(t) for t in thresholds)} ({how})"
        + (f", accuracy {covered:.2%}{pm('accuracy_covered')} on those" if covered else ""),
    ]
    if "calibration_error" in result:
        lines.append(f"calibration   ECE {result['calibration_error']:.3f}")
    if "latency_ms_mean" in result:
        lines.append(
            f"latency       mean {result['latency_ms_mean']:.3f} ms, "
            f"p99 {result['latency_ms_p99']:.3f} ms a message"
        )
    lines.append(
        f"throughput    {result['messages_per_second']:,} msgs/s batched"
        + (
            f", {result['messages_per_second_single']:,} single"
            if "messages_per_second_single" in result
            else ""
        )
    )
    for row in result.get("tiers") or []:
        answered = row["accuracy_answered"]
        lines.append(
            f"tier {row['tier']}        {row['encoder']}: asked {row['asked']:.1%}, answered "
            f"{row['answered']:.1%}"
            + (f" at {answered:.2%}" if answered is not None else "")
            + f"; alone {row['accuracy_alone']:.2%}, ECE {row['calibration_error']:.3f} "
            f"(T={row['temperature']}), mean {row['latency_ms_mean']:.3f} ms"
        )
    if result.get("tier2"):
        lines.append(f"              {result['tier2']}")
    outside = result.get("out_of_scope")
    if outside:
        lines.append(
            f"out of scope  recall {outside['recall']:.2%} on {outside['n']} messages, "
            f"{outside['false_handoffs']} false hand-offs ({outside['false_handoff_rate']:.2%})"
        )
    if per_intent:
        lines += ["", f"{'intent':<32} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>7}"]
        ranked = sorted(result["per_intent"].items(), key=lambda item: item[1]["f1"])
        lines += [
            f"{name[:32]:<32} {s['precision']:>9.2f} {s['recall']:>7.2f} {s['f1']:>6.2f} "
            f"{s['support']:>7}"
            for name, s in ranked
        ]
    return "\n".join(lines)
