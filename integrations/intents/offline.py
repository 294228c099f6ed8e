"""The offline intent classifier: sentence vectors and a logistic regression, per tier.

Tier 1 is wordllama (always installed), tier 2 a transformer on ONNX Runtime (optional; see
encoders.py). Each tier has its own head, temperature and threshold, fitted together by
`fit_tiers`: tier 2's threshold is chosen on the examples tier 1 is unsure of, the only ones it
will ever be asked about.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ticketbolt.integrations.intents.config import IntentsConfig
from ticketbolt.integrations.intents.encoders import (
    Encoder,
    Vectors,
    WordLlamaEncoder,
    load_encoder,
)
from ticketbolt.integrations.intents.normalize import normalize
from ticketbolt.integrations.intents.thresholds import (
    DEFAULT_PRECISION,
    DEFAULT_THRESHOLD,
    FOLDS,
    MIN_EXAMPLES,
    ThresholdFit,
    enough_examples,
    pick_threshold,
    stratified_folds,
)

# DEFAULT_THRESHOLD (thresholds.py), used when there are too few examples to fit one: measured
# with bench/intents.py, at 0.7 the offline stage decides 84 % of Banking77 at 96.7 % accuracy,
# and 55 % of the built-in intents (5-fold) at 95.8 %; 0.5 drops to ~91 %.
__all__ = [
    "DEFAULT_PRECISION",
    "DEFAULT_THRESHOLD",
    "Encoder",
    "OfflineClassifier",
    "Prediction",
    "Vectors",
    "WordLlamaEncoder",
    "fit_tiers",
    "load_encoder",
    "load_or_fit",
]
# C=30 beat C=10 and C=100 on Banking77 with case-folded text (90.9 % against 90.5 / 90.2 %).
DEFAULT_C = 30.0
# Bumped whenever the stored model's layout or the training recipe changes.
_MODEL_FORMAT = "3"
# Candidates kept per prediction: what a clarifying question offers.
TOP = 3
# The temperature is searched in [1/20, 20]; 1 leaves the probabilities as fitted.
_T_RANGE = (math.log(0.05), math.log(20.0))


@dataclass(frozen=True)
class Prediction:
    """The most probable intent, its (calibrated) probability, whether that falls under the
    threshold, the likeliest intents with their probabilities (best first), and the tier."""

    intent: str
    confidence: float
    uncertain: bool
    candidates: tuple[tuple[str, float], ...] = ()
    tier: int = 1  # which tier of the offline cascade answered


class OfflineClassifier:
    """Multinomial logistic regression over sentence vectors; its probabilities are the confidence.

    The logits are divided by a temperature fitted on out-of-fold predictions (`fit_record`),
    so that a confidence of 0.8 is right about 80 % of the time; `evaluate` reports the
    calibration error. Texts are normalised before embedding.
    """

    def __init__(
        self,
        encoder: Encoder,
        labels: Sequence[str],
        weights: Vectors,
        bias: Vectors,
        threshold: float = DEFAULT_THRESHOLD,
        temperature: float = 1.0,
    ):
        self._encoder = encoder
        self._labels = list(labels)
        self._raw = (weights, bias)
        # Dividing the weights and bias divides the logits: calibration costs nothing per call.
        self._weights = np.asarray(weights / temperature, dtype=np.float32)
        self._bias = np.asarray(bias / temperature, dtype=np.float32)
        self.threshold = threshold
        self.temperature = temperature
        self.fit_record = ThresholdFit(threshold, False, DEFAULT_PRECISION, temperature=temperature)

    @classmethod
    def fit(
        cls,
        encoder: Encoder,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        threshold: float | None = DEFAULT_THRESHOLD,
        precision: float = DEFAULT_PRECISION,
        c: float = DEFAULT_C,
    ) -> OfflineClassifier:
        """Fit on example texts and their intent labels (at least two distinct labels).

        With `threshold=None` the threshold is chosen by cross-validation on these examples for
        the target `precision` (see thresholds.py); `fit_record` says what was measured.
        """
        return fit_tiers([encoder], texts, labels, threshold=threshold, precision=precision, c=c)[0]

    @classmethod
    def from_config(
        cls,
        encoder: Encoder,
        config: IntentsConfig,
        *,
        threshold: float | None = None,
        precision: float = DEFAULT_PRECISION,
        c: float = DEFAULT_C,
        cache_dir: Path | None = None,
    ) -> OfflineClassifier:
        """Fit on the configured examples, or reuse a fit stored in `cache_dir` for this config.

        Without an explicit `threshold` the fitted one is used (chosen for `precision`); it is
        stored with the weights, so later starts skip the cross-validation too.
        """
        return load_or_fit(
            [encoder], config, threshold=threshold, precision=precision, c=c, cache_dir=cache_dir
        )[0]

    @property
    def encoder(self) -> Encoder:
        return self._encoder

    @property
    def intents(self) -> list[str]:
        return list(self._labels)

    def probabilities(self, texts: Sequence[str]) -> Vectors:
        """Rows of class probabilities, columns in the order of `intents`."""
        vectors = self._encoder.embed([normalize(text) for text in texts])
        return _softmax(vectors, self._weights, self._bias)

    def classify_batch(self, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        return self.predictions(self.probabilities(texts))

    def predictions(self, probabilities: Vectors) -> list[Prediction]:
        """Predictions from rows of `probabilities` (columns in the order of `intents`)."""
        k = min(TOP, probabilities.shape[1])
        top = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
        result = []
        for row, order in zip(probabilities, top, strict=True):
            best = float(row[order[0]])
            result.append(
                Prediction(
                    self._labels[order[0]],
                    best,
                    best < self.threshold,
                    tuple((self._labels[i], float(row[i])) for i in order),
                )
            )
        return result

    def classify(self, text: str) -> Prediction:
        return self.classify_batch([text])[0]


def _softmax(vectors: Vectors, weights: Vectors, bias: Vectors) -> Vectors:
    logits: Vectors = vectors @ weights.T + bias
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits


def _fit_head(
    vectors: Vectors, labels: Sequence[str], c: float
) -> tuple[list[str], Vectors, Vectors]:
    """(classes, weights, bias) of a multinomial logistic regression on unit vectors."""
    # Imported here: only fitting needs scikit-learn; starting from a cached fit does not.
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
    from threadpoolctl import threadpool_limits  # noqa: PLC0415  (scikit-learn's dependency)

    # One BLAS thread: these matrices are small, and OpenBLAS's threads spin against each other
    # and the event loop on a busy machine (13 s instead of 0.26 s for the built-in intents at
    # load average 12 on 2 cores).
    with threadpool_limits(1):
        model = LogisticRegression(C=c, max_iter=3000).fit(vectors, list(labels))
    classes = [str(label) for label in model.classes_]
    weights = np.asarray(model.coef_, dtype=np.float32)
    bias = np.asarray(model.intercept_, dtype=np.float32)
    if len(classes) == 2:
        # Binary models keep one logit; softmax over (0, z) gives the same probabilities.
        weights = np.vstack([np.zeros_like(weights), weights])
        bias = np.concatenate([np.zeros(1, dtype=np.float32), bias])
    return classes, weights, bias


def _out_of_fold_logits(
    vectors: Vectors, labels: list[str], classes: list[str], folds: np.ndarray, c: float
) -> np.ndarray:
    """Each example's logits (columns in the order of `classes`) from the model of the other
    folds; an intent absent from a fold's training examples gets -inf."""
    logits = np.full((len(labels), len(classes)), -np.inf)
    truth = np.array(labels)
    column = {name: i for i, name in enumerate(classes)}
    for fold in range(FOLDS):
        held = folds == fold
        if not held.any():
            continue
        names, weights, bias = _fit_head(vectors[~held], list(truth[~held]), c)
        columns = np.array([column[name] for name in names], dtype=np.int64)
        logits[np.ix_(np.flatnonzero(held), columns)] = vectors[held] @ weights.T + bias
    return logits


def fit_temperature(logits: np.ndarray, truth: np.ndarray) -> float:
    """The temperature T minimising the log-loss of softmax(logits / T) (Guo et al., 2017)."""
    from scipy.optimize import minimize_scalar  # noqa: PLC0415

    finite = np.where(np.isfinite(logits), logits, -1e9)
    rows = np.arange(len(truth))

    def loss(log_t: float) -> float:
        scaled = finite / math.exp(log_t)
        scaled -= scaled.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(scaled).sum(axis=1))
        return float((log_norm - scaled[rows, truth]).mean())

    found = minimize_scalar(loss, bounds=_T_RANGE, method="bounded")
    return float(math.exp(found.x))


def _calibrated(logits: np.ndarray, temperature: float) -> np.ndarray:
    scaled = np.where(np.isfinite(logits), logits, -1e9) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    np.exp(scaled, out=scaled)
    return np.asarray(scaled / scaled.sum(axis=1, keepdims=True))


def fit_tiers(
    encoders: Sequence[Encoder],
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    threshold: float | None = None,
    precision: float = DEFAULT_PRECISION,
    c: float = DEFAULT_C,
) -> list[OfflineClassifier]:
    """One classifier per encoder (tier 1 first), fitted on the same examples.

    With enough examples (thresholds.py), the examples are split into stratified folds; from
    the out-of-fold logits each tier gets a temperature (calibration) and, unless `threshold`
    fixes it, the lowest threshold whose accepted answers reach `precision`. A later tier's
    threshold is chosen on the examples every earlier tier was unsure of: in the cascade it
    is asked about those alone, and they are harder than the average example.
    """
    if len(set(labels)) < 2:
        raise ValueError("the offline classifier needs examples of at least two intents")
    labels = list(labels)
    cleaned = [normalize(text) for text in texts]
    cross_validate = enough_examples(labels)
    folds = np.array(stratified_folds(labels, FOLDS)) if cross_validate else None
    reaching = np.ones(len(labels), dtype=bool)  # unsure at every earlier tier
    classifiers = []
    for encoder in encoders:
        vectors = encoder.embed(cleaned)
        classes, weights, bias = _fit_head(vectors, labels, c)
        if folds is None:
            chosen = DEFAULT_THRESHOLD if threshold is None else threshold
            record = ThresholdFit(chosen, False, precision, examples=len(labels))
            classifier = OfflineClassifier(encoder, classes, weights, bias, chosen)
            classifier.fit_record = record
            classifiers.append(classifier)
            continue
        logits = _out_of_fold_logits(vectors, labels, classes, folds, c)
        index = {name: i for i, name in enumerate(classes)}
        truth = np.array([index[label] for label in labels])
        temperature = fit_temperature(logits, truth)
        probabilities = _calibrated(logits, temperature)
        confidence = probabilities.max(axis=1)
        correct = probabilities.argmax(axis=1) == truth
        # Too few unsure examples to choose on: choose on all of them, as for tier 1.
        pool = reaching if reaching.sum() >= MIN_EXAMPLES else np.ones_like(reaching)
        if threshold is None:
            chosen, measured, coverage = pick_threshold(confidence[pool], correct[pool], precision)
            record = ThresholdFit(
                chosen,
                True,
                precision,
                measured,
                coverage,
                len(labels),
                temperature,
                int(pool.sum()),
            )
        else:
            chosen = threshold
            record = ThresholdFit(
                chosen, False, precision, examples=len(labels), temperature=temperature
            )
        reaching &= confidence < chosen
        classifier = OfflineClassifier(encoder, classes, weights, bias, chosen, temperature)
        classifier.fit_record = record
        classifiers.append(classifier)
    return classifiers


def load_or_fit(
    encoders: Sequence[Encoder],
    config: IntentsConfig,
    *,
    threshold: float | None = None,
    precision: float = DEFAULT_PRECISION,
    c: float = DEFAULT_C,
    cache_dir: Path | None = None,
) -> list[OfflineClassifier]:
    """`fit_tiers` on the configured examples, or the fit stored in `cache_dir` for this config
    and these encoders; an explicit `threshold` overrides the stored ones but is not stored."""
    texts, labels = config.training_rows()
    if cache_dir is None:
        return fit_tiers(encoders, texts, labels, threshold=threshold, precision=precision, c=c)
    names = ":".join(encoder.name for encoder in encoders)
    recipe = f"{_MODEL_FORMAT}:{names}:{c}:{precision}:{config.version}"
    path = cache_dir / f"intents-{hashlib.sha256(recipe.encode()).hexdigest()[:16]}.npz"
    if path.exists():
        classifiers = []
        with np.load(path, allow_pickle=False) as stored:
            labels = [str(label) for label in stored["labels"]]
            for tier, encoder in enumerate(encoders):
                record = ThresholdFit(**json.loads(str(stored[f"fit_record_{tier}"])))
                chosen = record.threshold if threshold is None else threshold
                classifier = OfflineClassifier(
                    encoder,
                    labels,
                    stored[f"weights_{tier}"],
                    stored[f"bias_{tier}"],
                    chosen,
                    record.temperature,
                )
                classifier.fit_record = record
                classifiers.append(classifier)
        return classifiers
    classifiers = fit_tiers(encoders, texts, labels, threshold=None, precision=precision, c=c)
    cache_dir.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {"labels": np.array(classifiers[0].intents)}
    for tier, classifier in enumerate(classifiers):
        weights, bias = classifier._raw
        arrays[f"weights_{tier}"] = weights
        arrays[f"bias_{tier}"] = bias
        arrays[f"fit_record_{tier}"] = np.array(json.dumps(classifier.fit_record.__dict__))
    # Write then rename, so a concurrent start-up never reads half a file.
    partial = path.with_suffix(".tmp.npz")
    np.savez(partial, **arrays)  # type: ignore[arg-type]
    partial.replace(path)
    if threshold is not None:
        for classifier in classifiers:
            classifier.threshold = threshold
    return classifiers
