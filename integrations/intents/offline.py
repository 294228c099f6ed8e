"""The offline intent classifier: sentence vectors and a logistic regression, per tier.

Tier 1 is wordllama (always installed), tier 2 a transformer on ONNX Runtime (optional; see
encoders.py) whose head reads tier 1's vector beside its own (features.py). Each tier has its
own head, temperature, threshold and out-of-scope guard, fitted together by `fit_tiers`
(fitting.py) and kept between starts by `load_or_fit` (model_cache.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ticketbolt.integrations.intents.encoders import (
    Encoder,
    Vectors,
    WordLlamaEncoder,
    load_encoder,
)
from ticketbolt.integrations.intents.features import Support
from ticketbolt.integrations.intents.normalize import normalize
from ticketbolt.integrations.intents.thresholds import (
    DEFAULT_PRECISION,
    DEFAULT_THRESHOLD,
    NO_FLOOR,
    ThresholdFit,
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
    "load_encoder",
]
# C=30 beat C=10 and C=100 on Banking77 with case-folded text (90.9 % against 90.5 / 90.2 %).
DEFAULT_C = 30.0
# Candidates kept per prediction: what a clarifying question offers.
TOP = 3


@dataclass(frozen=True)
class Prediction:
    """The most probable intent, its (calibrated) probability, whether the classifier is
    unsure (under the threshold, or further from every example of that intent than the
    similarity floor), the likeliest intents with their probabilities (best first), the tier,
    and the cosine similarity to the nearest example of the intent."""

    intent: str
    confidence: float
    uncertain: bool
    candidates: tuple[tuple[str, float], ...] = ()
    tier: int = 1  # which tier of the offline cascade answered
    similarity: float = 1.0
    # For an intent that acts on its own (a hand-off), the confidence without a sharpening
    # temperature: acting needs both to reach the threshold. None for the other intents.
    untempered: float | None = None


class OfflineClassifier:
    """Multinomial logistic regression over sentence vectors; its probabilities are the confidence.

    The logits are divided by a temperature fitted on out-of-fold predictions (`fit_record`),
    so that a confidence of 0.8 is right about 80 % of the time; `evaluate` reports the
    calibration error. Texts are normalised before embedding. With a `support`, a message
    less similar to every example of its predicted intent than the fitted floor is unsure
    however high its confidence: the softmax of an out-of-scope message can still be peaked.
    For the intents in `cautious` (those that hand off), a temperature under 1 does not count
    towards being sure: the untempered confidence must reach the threshold too.
    """

    def __init__(
        self,
        encoder: Encoder,
        labels: Sequence[str],
        weights: Vectors,
        bias: Vectors,
        threshold: float = DEFAULT_THRESHOLD,
        temperature: float = 1.0,
        support: Support | None = None,
    ):
        self._encoder = encoder
        self.support = support
        self.cautious: frozenset[str] = frozenset()
        self._labels = list(labels)
        self._raw = (weights, bias)
        # Dividing the weights and bias divides the logits: calibration costs nothing per call.
        self._weights = np.asarray(weights / temperature, dtype=np.float32)
        self._bias = np.asarray(bias / temperature, dtype=np.float32)
        self.threshold = threshold
        self.temperature = temperature
        self.fit_record = ThresholdFit(threshold, False, DEFAULT_PRECISION, temperature=temperature)

    @property
    def similarity_floor(self) -> float:
        return NO_FLOOR if self.support is None else self.support.floor

    def sure(self, prediction: Prediction, threshold: float | None = None) -> bool:
        """Confident enough (`threshold`, else this tier's) and near enough to the examples."""
        return self._sure(
            prediction.confidence, prediction.untempered, prediction.similarity, threshold
        )

    def _sure(
        self,
        confidence: float,
        untempered: float | None,
        similarity: float,
        threshold: float | None,
    ) -> bool:
        bar = self.threshold if threshold is None else threshold
        if untempered is not None and untempered < bar:
            return False
        return confidence >= bar and similarity >= self.similarity_floor

    @property
    def encoder(self) -> Encoder:
        return self._encoder

    @property
    def intents(self) -> list[str]:
        return list(self._labels)

    def probabilities(self, texts: Sequence[str]) -> Vectors:
        """Rows of class probabilities, columns in the order of `intents`."""
        return self.embedded(texts)[1]

    def embedded(self, texts: Sequence[str]) -> tuple[Vectors, Vectors]:
        """(the texts' feature vectors, their rows of class probabilities)."""
        vectors = self._encoder.embed([normalize(text) for text in texts])
        return vectors, _softmax(vectors, self._weights, self._bias)

    def classify_batch(self, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        vectors, probabilities = self.embedded(texts)
        return self.predictions(probabilities, vectors)

    def predictions(
        self, probabilities: Vectors, vectors: Vectors | None = None
    ) -> list[Prediction]:
        """Predictions from rows of `probabilities` (columns in the order of `intents`) and,
        for the out-of-scope guard, the texts' feature `vectors`."""
        k = min(TOP, probabilities.shape[1])
        top = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
        if self.support is None or vectors is None:
            similarity = np.ones(len(probabilities), dtype=np.float32)
        else:
            similarity = self.support.nearest(vectors, top[:, 0])
        result = []
        for number, (row, order, near) in enumerate(
            zip(probabilities, top, similarity, strict=True)
        ):
            intent, confidence = self._labels[order[0]], float(row[order[0]])
            untempered = None
            if intent in self.cautious and self.temperature < 1 and vectors is not None:
                untempered = float(_softmax(vectors[number : number + 1], *self._raw)[0, order[0]])
            result.append(
                Prediction(
                    intent,
                    confidence,
                    not self._sure(confidence, untempered, float(near), None),
                    tuple((self._labels[i], float(row[i])) for i in order),
                    similarity=float(near),
                    untempered=untempered,
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
