"""The offline intent classifier: wordllama sentence vectors and a logistic regression."""

from __future__ import annotations

import hashlib
import json
import logging
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from tokenizers import Tokenizer

from ticketbolt.integrations.intents.config import IntentsConfig
from ticketbolt.integrations.intents.normalize import normalize
from ticketbolt.integrations.intents.thresholds import (
    DEFAULT_PRECISION,
    DEFAULT_THRESHOLD,
    FOLDS,
    ThresholdFit,
    enough_examples,
    pick_threshold,
    stratified_folds,
)

Vectors = npt.NDArray[np.float32]

# DEFAULT_THRESHOLD (thresholds.py), used when there are too few examples to fit one: measured
# with bench/intents.py, at 0.7 the offline stage decides 84 % of Banking77 at 96.7 % accuracy,
# and 55 % of the built-in intents (5-fold) at 95.8 %; 0.5 drops to ~91 %.
__all__ = ["DEFAULT_PRECISION", "DEFAULT_THRESHOLD", "Encoder", "OfflineClassifier", "Prediction"]
# C=30 beat C=10 and C=100 on Banking77 with case-folded text (90.9 % against 90.5 / 90.2 %).
DEFAULT_C = 30.0
# Bumped whenever the stored model's layout or the training recipe changes.
_MODEL_FORMAT = "2"


class Encoder:
    """wordllama's 256-d static token embeddings, mean-pooled and L2-normalised.

    Pooling is a sparse (texts x vocabulary) averaging matrix times the embedding table: the same
    vectors as `WordLlamaInference.embed`, without padding every batch to its longest text, which
    makes batches about five times faster.
    """

    name = "wordllama-l2_supercat-256"

    def __init__(self, tokenizer: Tokenizer, table: Vectors):
        self._tokenizer = tokenizer
        self._table = table

    @property
    def dim(self) -> int:
        return int(self._table.shape[1])

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit vector per text; an empty text gives the zero vector."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) == 1:
            # One message (the live path): a plain gather beats building a sparse matrix.
            single = self._tokenizer.encode(texts[0], add_special_tokens=False).ids
            vector = self._table[single].mean(axis=0, keepdims=True) if single else None
            if vector is None:
                return np.zeros((1, self.dim), dtype=np.float32)
            return np.asarray(vector / max(float(np.linalg.norm(vector)), 1e-12), np.float32)
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        ids = [encoding.ids for encoding in encodings]
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter((i for row in ids for i in row), dtype=np.int64, count=lengths.sum())
        indptr = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        weights = np.repeat((1.0 / np.maximum(lengths, 1)).astype(np.float32), lengths)
        rows = sp.csr_matrix((weights, flat, indptr), shape=(len(ids), self._table.shape[0]))
        vectors: Vectors = np.asarray(rows @ self._table, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors /= np.maximum(norms, 1e-12)
        return vectors


def load_encoder() -> Encoder:
    """Load wordllama's bundled weights and tokenizer from the installed wheel; never downloads."""
    # Imported here: it takes half a second, which commands that never classify should not pay.
    # Its import also calls logging.basicConfig(level=INFO); undo that so the composition root
    # alone decides how logging is configured.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import wordllama  # noqa: PLC0415

    root.handlers[:] = handlers
    root.setLevel(level)

    # Without an explicit cache_dir wordllama looks for the tokenizer in the wrong folder and
    # falls back to downloading it from the Hugging Face hub.
    model = wordllama.WordLlama.load(
        cache_dir=pathlib.Path(wordllama.__file__).parent, disable_download=True
    )
    tokenizer = Tokenizer.from_str(model.tokenizer.to_str())
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return Encoder(tokenizer, np.ascontiguousarray(model.embedding, dtype=np.float32))


@dataclass(frozen=True)
class Prediction:
    """The most probable intent, its probability, and whether that falls under the threshold."""

    intent: str
    confidence: float
    uncertain: bool


class OfflineClassifier:
    """Multinomial logistic regression over sentence vectors; its probabilities are the confidence.

    Fitting minimises log-loss, so the probabilities are calibrated well enough to threshold
    (`evaluate` reports the calibration error). Texts are normalised before embedding.
    """

    def __init__(
        self,
        encoder: Encoder,
        labels: Sequence[str],
        weights: Vectors,
        bias: Vectors,
        threshold: float = DEFAULT_THRESHOLD,
    ):
        self._encoder = encoder
        self._labels = list(labels)
        self._weights = weights
        self._bias = bias
        self.threshold = threshold
        self.fit_record = ThresholdFit(threshold, False, DEFAULT_PRECISION)

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
        if len(set(labels)) < 2:
            raise ValueError("the offline classifier needs examples of at least two intents")
        vectors = encoder.embed([normalize(text) for text in texts])
        classes, weights, bias = _fit_head(vectors, labels, c)
        if threshold is not None:
            record = ThresholdFit(threshold, False, precision, examples=len(labels))
        else:
            record = _cross_validate(vectors, list(labels), precision, c)
        classifier = cls(encoder, classes, weights, bias, record.threshold)
        classifier.fit_record = record
        return classifier

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
        texts, labels = config.training_rows()
        if cache_dir is None:
            return cls.fit(encoder, texts, labels, threshold=threshold, precision=precision, c=c)
        recipe = f"{_MODEL_FORMAT}:{encoder.name}:{c}:{precision}:{config.version}"
        path = cache_dir / f"intents-{hashlib.sha256(recipe.encode()).hexdigest()[:16]}.npz"
        if path.exists():
            with np.load(path, allow_pickle=False) as stored:
                labels = [str(label) for label in stored["labels"]]
                record = ThresholdFit(**json.loads(str(stored["fit_record"])))
                chosen = record.threshold if threshold is None else threshold
                classifier = cls(encoder, labels, stored["weights"], stored["bias"], chosen)
                classifier.fit_record = record
                return classifier
        classifier = cls.fit(encoder, texts, labels, threshold=None, precision=precision, c=c)
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a concurrent start-up never reads half a file.
        partial = path.with_suffix(".tmp.npz")
        np.savez(
            partial,
            labels=np.array(classifier.intents),
            weights=classifier._weights,
            bias=classifier._bias,
            fit_record=np.array(json.dumps(classifier.fit_record.__dict__)),
        )
        partial.replace(path)
        if threshold is not None:
            classifier.threshold = threshold
        return classifier

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
        probabilities = self.probabilities(texts)
        best = probabilities.argmax(axis=1)
        return [
            Prediction(self._labels[i], float(p), bool(p < self.threshold))
            for i, p in zip(best, probabilities[np.arange(len(best)), best], strict=True)
        ]

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

    model = LogisticRegression(C=c, max_iter=3000).fit(vectors, list(labels))
    classes = [str(label) for label in model.classes_]
    weights = np.asarray(model.coef_, dtype=np.float32)
    bias = np.asarray(model.intercept_, dtype=np.float32)
    if len(classes) == 2:
        # Binary models keep one logit; softmax over (0, z) gives the same probabilities.
        weights = np.vstack([np.zeros_like(weights), weights])
        bias = np.concatenate([np.zeros(1, dtype=np.float32), bias])
    return classes, weights, bias


def _cross_validate(
    vectors: Vectors, labels: list[str], precision: float, c: float
) -> ThresholdFit:
    """The threshold for `precision` from out-of-fold predictions (method: thresholds.py)."""
    if not enough_examples(labels):
        return ThresholdFit(DEFAULT_THRESHOLD, False, precision, examples=len(labels))
    folds = np.array(stratified_folds(labels, FOLDS))
    truth = np.array(labels)
    confidence = np.zeros(len(labels))
    correct = np.zeros(len(labels), dtype=bool)
    for fold in range(FOLDS):
        held = folds == fold
        classes, weights, bias = _fit_head(vectors[~held], list(truth[~held]), c)
        probabilities = _softmax(vectors[held], weights, bias)
        confidence[held] = probabilities.max(axis=1)
        correct[held] = np.array(classes)[probabilities.argmax(axis=1)] == truth[held]
    threshold, measured, coverage = pick_threshold(confidence, correct, precision)
    return ThresholdFit(threshold, True, precision, measured, coverage, len(labels))
