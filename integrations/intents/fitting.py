"""Fitting the tiers: a logistic head per tier, its C, temperature and threshold, by
cross-validation on the examples (see thresholds.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ticketbolt.integrations.intents.encoders import Encoder, Vectors
from ticketbolt.integrations.intents.features import Support, tier_features
from ticketbolt.integrations.intents.normalize import normalize
from ticketbolt.integrations.intents.offline import DEFAULT_C, OfflineClassifier
from ticketbolt.integrations.intents.thresholds import (
    CEILING,
    DEFAULT_PRECISION,
    DEFAULT_THRESHOLD,
    FOLDS,
    MIN_EXAMPLES,
    ThresholdFit,
    enough_examples,
    pick_threshold,
    stratified_folds,
)

# A later tier's C is chosen by cross-validation among these: its best was 10 on Banking77's
# full set, 30 on CLINC150 and 100 with 10 examples an intent (0.3 to 0.6 points above the worst).
C_CANDIDATES = (10.0, 30.0, 100.0)
# A tier followed by another answers only at a sixth of the target error rate (0.995 for 0.97),
# up to a confidence of 0.99, so that few of its confident mistakes keep a message from the better
# tier: the cascade then scores within 0.1 point of that tier alone (Banking77 93.60 against
# 93.60 %, CLINC150 95.98 against 96.09 %; at the plain target, 92.82 and 94.13 %).
EARLY_ERROR_SHARE = 1 / 6
EARLY_CEILING = 0.99
# The temperature is searched in [1/20, 20]; 1 leaves the probabilities as fitted.
_T_RANGE = (math.log(0.05), math.log(20.0))


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


def _choose_c(
    vectors: Vectors,
    labels: list[str],
    classes: list[str],
    truth: np.ndarray,
    folds: np.ndarray,
    candidates: Sequence[float],
) -> tuple[float, np.ndarray]:
    """The candidate C with the most out-of-fold answers right (the first on a tie), and its
    out-of-fold logits."""
    best: tuple[int, float, np.ndarray] | None = None
    for c in candidates:
        logits = _out_of_fold_logits(vectors, labels, classes, folds, c)
        right = int((logits.argmax(axis=1) == truth).sum())
        if best is None or right > best[0]:
            best = (right, c, logits)
    assert best is not None
    return best[1], best[2]


def fit_tiers(
    encoders: Sequence[Encoder],
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    threshold: float | None = None,
    precision: float = DEFAULT_PRECISION,
    c: float = DEFAULT_C,
) -> list[OfflineClassifier]:
    """One classifier per encoder (tier 1 first), fitted on the same examples; a later tier
    reads tier 1's vector beside its own (`tier_features`).

    With enough examples (thresholds.py), the examples are split into stratified folds; from
    the out-of-fold logits each tier gets a temperature (calibration) and, unless `threshold`
    fixes it, the lowest threshold whose accepted answers reach `precision` (a tier followed by
    another: `1 - (1 - precision) * EARLY_ERROR_SHARE`, up to `EARLY_CEILING`). A later
    tier's threshold is chosen on the examples every earlier tier was unsure of, and its C
    among `C_CANDIDATES` (tier 1 keeps `c`). Every tier gets a similarity floor from its
    examples (the out-of-scope guard, thresholds.similarity_floor).
    """
    if len(set(labels)) < 2:
        raise ValueError("the offline classifier needs examples of at least two intents")
    labels = list(labels)
    cleaned = [normalize(text) for text in texts]
    cross_validate = enough_examples(labels)
    folds = np.array(stratified_folds(labels, FOLDS)) if cross_validate else None
    reaching = np.ones(len(labels), dtype=bool)  # unsure at every earlier tier
    features = tier_features(encoders)
    classifiers = []
    for number, encoder in enumerate(features, start=1):
        vectors = encoder.embed(cleaned)
        last = number == len(features)
        target = precision if last else 1 - (1 - precision) * EARLY_ERROR_SHARE
        ceiling = CEILING if last else max(CEILING, EARLY_CEILING)
        classes = sorted(set(labels))
        index = {name: i for i, name in enumerate(classes)}
        truth = np.array([index[label] for label in labels])
        support = Support.of(vectors, labels, classes)
        if folds is None:
            classes, weights, bias = _fit_head(vectors, labels, c)
            chosen = DEFAULT_THRESHOLD if threshold is None else threshold
            classifier = OfflineClassifier(encoder, classes, weights, bias, chosen, support=support)
            classifier.fit_record = ThresholdFit(
                chosen, False, precision, examples=len(labels), c=c, similarity_floor=support.floor
            )
            classifiers.append(classifier)
            continue
        candidates = (c,) if number == 1 else C_CANDIDATES
        chosen_c, logits = _choose_c(vectors, labels, classes, truth, folds, candidates)
        fitted_classes, weights, bias = _fit_head(vectors, labels, chosen_c)
        assert fitted_classes == classes
        temperature = fit_temperature(logits, truth)
        probabilities = _calibrated(logits, temperature)
        confidence = probabilities.max(axis=1)
        correct = probabilities.argmax(axis=1) == truth
        # Too few unsure examples to choose on: choose on all of them, as for tier 1.
        pool = reaching if reaching.sum() >= MIN_EXAMPLES else np.ones_like(reaching)
        if threshold is None:
            chosen, measured, coverage = pick_threshold(
                confidence[pool], correct[pool], target, ceiling
            )
            record = ThresholdFit(
                chosen,
                True,
                target,
                measured,
                coverage,
                len(labels),
                temperature,
                int(pool.sum()),
                chosen_c,
                support.floor,
            )
        else:
            chosen = threshold
            record = ThresholdFit(
                chosen,
                False,
                target,
                examples=len(labels),
                temperature=temperature,
                c=chosen_c,
                similarity_floor=support.floor,
            )
        reaching &= confidence < chosen
        classifier = OfflineClassifier(
            encoder, classes, weights, bias, chosen, temperature, support
        )
        classifier.fit_record = record
        classifiers.append(classifier)
    return classifiers


def fit_classifier(
    encoder: Encoder,
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    threshold: float | None = DEFAULT_THRESHOLD,
    precision: float = DEFAULT_PRECISION,
    c: float = DEFAULT_C,
) -> OfflineClassifier:
    """One tier fitted on example texts and their intent labels (at least two distinct labels).

    With `threshold=None` the threshold is chosen by cross-validation on these examples for the
    target `precision` (see thresholds.py); `fit_record` says what was measured.
    """
    return fit_tiers([encoder], texts, labels, threshold=threshold, precision=precision, c=c)[0]
