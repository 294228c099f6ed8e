"""The offline threshold, chosen by cross-validation on the intents' own examples.

Method: the examples are split into `FOLDS` stratified folds; each fold is classified by a model
fitted on the others, which gives one out-of-fold confidence per example and whether its label
was right. Sorted by confidence, the accepted answers at a threshold t are those at or above t;
the chosen t is the lowest one whose accepted answers are right at least `precision` of the
time, by the lower end of a one-standard-error Wilson interval rather than the bare share (so as
many messages as possible are decided offline, at that precision on new messages), kept within
[`FLOOR`, `CEILING`]. When the target is out of reach even for the most confident answers, the
ceiling is used. With fewer than `MIN_EXAMPLES` examples, or an intent with fewer than
`MIN_PER_INTENT`, the estimate is noise and `DEFAULT_THRESHOLD` stands.

The out-of-scope guard (`similarity_floor`) needs no folds: each example's similarity to its
nearest other example of the same intent is how near a new message of that intent can be
expected to come; a message whose nearest example of its predicted intent is less similar than
all but `SUPPORT_PERCENTILE` % of those is unlike anything the intent was taught.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

DEFAULT_THRESHOLD = 0.7
DEFAULT_PRECISION = 0.97
FOLDS = 5
MIN_EXAMPLES = 30
MIN_PER_INTENT = 3
# Never lower: out-of-scope messages spread their probability thin, and 0.3 keeps most of them
# under the threshold even with a hundred intents. Never higher than 0.95: above it the
# probabilities of a logistic regression say more about its regularisation than about errors.
FLOOR = 0.3
CEILING = 0.95
# The share of in-scope examples the similarity floor gives up. On CLINC150's test sets, with the
# cascade's thresholds, 2 % cost 0.9 points of coverage and sent 88 % of the out-of-scope messages
# to a question (from 80 %); 1 % and 5 % gave 85 % and 93 % for 0.5 and 3.7 points.
SUPPORT_PERCENTILE = 2.0
# No floor: every similarity passes.
NO_FLOOR = -1.0


@dataclass(frozen=True)
class ThresholdFit:
    """The chosen threshold and what cross-validation measured there (None when not fitted).

    `temperature` divides the logits (1: uncalibrated); `chosen_on` counts the out-of-fold
    examples the threshold was chosen on: all of them for tier 1, those tier 1 was unsure of
    for tier 2 (0 when not fitted). `c` is the logistic regression's inverse regularisation
    (chosen by cross-validation for later tiers), `similarity_floor` the out-of-scope guard
    (`NO_FLOOR` when there were too few examples to fit it).
    """

    threshold: float
    fitted: bool
    precision_target: float
    cv_precision: float | None = None
    cv_coverage: float | None = None
    examples: int = 0
    temperature: float = 1.0
    chosen_on: int = 0
    c: float = 0.0
    similarity_floor: float = NO_FLOOR

    def as_dict(self) -> dict[str, Any]:
        return {
            "threshold": round(self.threshold, 4),
            "fitted": self.fitted,
            "precision_target": self.precision_target,
            "cv_precision": None if self.cv_precision is None else round(self.cv_precision, 4),
            "cv_coverage": None if self.cv_coverage is None else round(self.cv_coverage, 4),
            "examples": self.examples,
            "temperature": round(self.temperature, 4),
            "chosen_on": self.chosen_on,
            "c": self.c,
            "similarity_floor": round(self.similarity_floor, 4),
        }


def enough_examples(labels: Sequence[str]) -> bool:
    """Whether there are enough examples of every intent for the folds to mean something."""
    counts: dict[str, int] = defaultdict(int)
    for label in labels:
        counts[label] += 1
    return len(labels) >= MIN_EXAMPLES and min(counts.values()) >= MIN_PER_INTENT


def stratified_folds(labels: Sequence[str], folds: int = FOLDS, seed: int = 0) -> list[int]:
    """A fold number per example; each intent's examples are dealt round the folds in turn."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        by_label[label].append(index)
    rng = random.Random(seed)
    assignment = [0] * len(labels)
    start = 0
    for label in sorted(by_label):
        members = by_label[label]
        rng.shuffle(members)
        for offset, index in enumerate(members):
            assignment[index] = (start + offset) % folds
        start += len(members)  # spreads the remainders of small intents over the folds
    return assignment


def pick_threshold(
    confidence: npt.ArrayLike,
    correct: npt.ArrayLike,
    precision: float,
    ceiling: float = CEILING,
) -> tuple[float, float | None, float | None]:
    """(threshold, precision and coverage of the accepted answers there) for a target precision.

    The threshold is the lowest confidence whose accepted answers (confidence ≥ it) reach the
    target with one standard error to spare (the Wilson lower bound), clamped to
    [FLOOR, `ceiling`]; the measured precision and coverage are at the clamped threshold (None
    when it accepts nothing).
    """
    conf = np.asarray(confidence, dtype=np.float64)
    right = np.asarray(correct, dtype=bool)
    order = np.argsort(-conf, kind="stable")
    accepted_n = np.arange(1, len(order) + 1)
    lower = _wilson_lower(np.cumsum(right[order]) / accepted_n, accepted_n)
    reached = np.flatnonzero(lower >= precision)
    chosen = float(conf[order[reached[-1]]]) if reached.size else ceiling
    threshold = min(max(chosen, FLOOR), ceiling)
    accepted = conf >= threshold
    if not accepted.any():
        return threshold, None, None
    return threshold, float(right[accepted].mean()), float(accepted.mean())


def _wilson_lower(share: npt.NDArray[np.float64], n: npt.NDArray[np.int64], z: float = 1.0) -> Any:
    """The lower end of the Wilson score interval of a proportion `share` out of `n`.

    Choosing by the bare proportion picks the luckiest cut-off: on held-out data it then falls
    short of the target (by two to three points at 0.9 in our tests); one standard error does not.
    """
    centre = share + z * z / (2 * n)
    spread = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n)


def nearest_same_intent(unit: npt.NDArray[np.float32], offsets: npt.NDArray[np.int64]) -> Any:
    """Each example's cosine similarity to its nearest *other* example of the same intent;
    rows are unit vectors grouped by intent (intent i is rows offsets[i]:offsets[i+1]). An
    intent with one example gives NaN."""
    nearest = np.full(len(unit), np.nan)
    for start, stop in itertools.pairwise(offsets):
        if stop - start < 2:
            continue
        block = unit[start:stop]
        similarity = block @ block.T
        np.fill_diagonal(similarity, -np.inf)
        nearest[start:stop] = similarity.max(axis=1)
    return nearest


def similarity_floor(
    unit: npt.NDArray[np.float32],
    offsets: npt.NDArray[np.int64],
    percentile: float = SUPPORT_PERCENTILE,
) -> float:
    """The `percentile` of the examples' nearest-same-intent similarities (`NO_FLOOR` when no
    intent has two examples): a message less similar to every example of its predicted intent
    than that is out of scope, whatever the softmax says."""
    nearest = nearest_same_intent(unit, offsets)
    known = nearest[~np.isnan(nearest)]
    if known.size < MIN_EXAMPLES:
        return NO_FLOOR
    return float(np.percentile(known, percentile))
