"""The fitted tiers kept between starts: one file per intents file, encoders and recipe."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ticketbolt.integrations.intents.config import IntentsConfig
from ticketbolt.integrations.intents.encoders import Encoder
from ticketbolt.integrations.intents.features import Support, tier_features
from ticketbolt.integrations.intents.fitting import C_CANDIDATES, fit_tiers
from ticketbolt.integrations.intents.offline import DEFAULT_C, OfflineClassifier
from ticketbolt.integrations.intents.thresholds import DEFAULT_PRECISION, ThresholdFit

# Bumped whenever the stored model's layout or the training recipe changes.
_MODEL_FORMAT = "4"


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
    and these encoders; an explicit `threshold` overrides the stored ones but is not stored.
    The intents that hand off are `cautious` (no temperature under 1 to act on them)."""
    classifiers = _load_or_fit(encoders, config, threshold, precision, c, cache_dir)
    handoffs = frozenset(intent.name for intent in config.intents if intent.action == "handoff")
    for classifier in classifiers:
        classifier.cautious = handoffs
    return classifiers


def _load_or_fit(
    encoders: Sequence[Encoder],
    config: IntentsConfig,
    threshold: float | None,
    precision: float,
    c: float,
    cache_dir: Path | None,
) -> list[OfflineClassifier]:
    texts, labels = config.training_rows()
    if cache_dir is None:
        return fit_tiers(encoders, texts, labels, threshold=threshold, precision=precision, c=c)
    features = tier_features(encoders)
    names = ":".join(encoder.name for encoder in features)
    recipe = f"{_MODEL_FORMAT}:{names}:{c}:{C_CANDIDATES}:{precision}:{config.version}"
    path = cache_dir / f"intents-{hashlib.sha256(recipe.encode()).hexdigest()[:16]}.npz"
    if path.exists():
        return _load(path, features, threshold)
    classifiers = fit_tiers(encoders, texts, labels, threshold=None, precision=precision, c=c)
    cache_dir.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {"labels": np.array(classifiers[0].intents)}
    for tier, classifier in enumerate(classifiers):
        weights, bias = classifier._raw
        arrays[f"weights_{tier}"] = weights
        arrays[f"bias_{tier}"] = bias
        arrays[f"fit_record_{tier}"] = np.array(json.dumps(classifier.fit_record.__dict__))
        if classifier.support is not None:
            arrays[f"support_{tier}"] = classifier.support.unit
            arrays[f"offsets_{tier}"] = classifier.support.offsets
    # Write then rename, so a concurrent start-up never reads half a file.
    partial = path.with_suffix(".tmp.npz")
    np.savez(partial, **arrays)  # type: ignore[arg-type]
    partial.replace(path)
    if threshold is not None:
        for classifier in classifiers:
            classifier.threshold = threshold
    return classifiers


def _load(
    path: Path, features: Sequence[Encoder], threshold: float | None
) -> list[OfflineClassifier]:
    classifiers = []
    with np.load(path, allow_pickle=False) as stored:
        labels = [str(label) for label in stored["labels"]]
        for tier, encoder in enumerate(features):
            record = ThresholdFit(**json.loads(str(stored[f"fit_record_{tier}"])))
            support = None
            if f"support_{tier}" in stored:
                support = Support(
                    stored[f"support_{tier}"], stored[f"offsets_{tier}"], record.similarity_floor
                )
            classifier = OfflineClassifier(
                encoder,
                labels,
                stored[f"weights_{tier}"],
                stored[f"bias_{tier}"],
                record.threshold if threshold is None else threshold,
                record.temperature,
                support,
            )
            classifier.fit_record = record
            classifiers.append(classifier)
    return classifiers


def classifier_from_config(
    encoder: Encoder,
    config: IntentsConfig,
    *,
    threshold: float | None = None,
    precision: float = DEFAULT_PRECISION,
    c: float = DEFAULT_C,
    cache_dir: Path | None = None,
) -> OfflineClassifier:
    """One tier fitted on the configured examples, or the fit stored in `cache_dir` for this
    config. Without an explicit `threshold` the fitted one is used (chosen for `precision`); it
    is stored with the weights, so later starts skip the cross-validation too."""
    return load_or_fit(
        [encoder], config, threshold=threshold, precision=precision, c=c, cache_dir=cache_dir
    )[0]
