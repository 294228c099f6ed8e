"""The offline cascade: tier 1 answers when sure; tier 2 is asked only when tier 1 is unsure."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ticketbolt.integrations.intents.config import IntentsConfig
from ticketbolt.integrations.intents.encoders import Encoder, Tier2Status
from ticketbolt.integrations.intents.features import JoinedEncoder
from ticketbolt.integrations.intents.model_cache import load_or_fit
from ticketbolt.integrations.intents.offline import (
    DEFAULT_PRECISION,
    OfflineClassifier,
    Prediction,
)
from ticketbolt.integrations.intents.thresholds import NO_FLOOR


class TieredClassifier:
    """Offline classifiers in order of cost; each later one sees only what the earlier were
    unsure of. `calls[i]` counts the messages tier i+1 classified (batches count each one).

    A prediction is confident when its confidence reaches its tier's threshold, or `threshold`
    when one is given for the call, and the message is near enough to the examples of that
    intent (the tier's similarity floor). Unsure at every tier, the last tier's guess is
    returned, flagged uncertain.
    """

    def __init__(self, tiers: Sequence[OfflineClassifier], tier2: Tier2Status | None = None):
        if not tiers:
            raise ValueError("at least one tier")
        self.tiers = list(tiers)
        self.calls = [0] * len(self.tiers)
        self.tier2 = tier2 or Tier2Status(len(self.tiers) > 1, "")

    @classmethod
    def from_config(
        cls,
        encoders: Sequence[Encoder],
        config: IntentsConfig,
        *,
        threshold: float | None = None,
        precision: float = DEFAULT_PRECISION,
        cache_dir: Path | None = None,
        tier2: Tier2Status | None = None,
    ) -> TieredClassifier:
        tiers = load_or_fit(
            encoders, config, threshold=threshold, precision=precision, cache_dir=cache_dir
        )
        return cls(tiers, tier2)

    @property
    def threshold(self) -> float:
        """Tier 1's threshold (each tier has its own: `thresholds`)."""
        return self.tiers[0].threshold

    @property
    def thresholds(self) -> list[float]:
        return [tier.threshold for tier in self.tiers]

    @property
    def intents(self) -> list[str]:
        return self.tiers[0].intents

    def describe(self) -> list[str]:
        """One line per tier: its model, threshold and similarity floor."""
        lines = []
        for i, tier in enumerate(self.tiers, start=1):
            encoder = tier.encoder
            model = (
                f"{encoder.main.name} + tier 1"
                if isinstance(encoder, JoinedEncoder)
                else encoder.name
            )
            floor = tier.similarity_floor
            guard = "" if floor == NO_FLOOR else f", similarity floor {floor:.2f}"
            lines.append(f"tier {i} {model} (threshold {tier.threshold:.2f}{guard})")
        return lines

    def limited(self, tiers: int) -> TieredClassifier:
        """The same fitted tiers, only the first `tiers` of them (for `intents eval --tier 1`)."""
        return TieredClassifier(self.tiers[:tiers], self.tier2)

    def classify(self, text: str, threshold: float | None = None) -> Prediction:
        prediction: Prediction | None = None
        for number, tier in enumerate(self.tiers, start=1):
            self.calls[number - 1] += 1
            prediction = dataclasses.replace(tier.classify(text), tier=number)
            if tier.sure(prediction, threshold):
                return dataclasses.replace(prediction, uncertain=False)
        assert prediction is not None
        return dataclasses.replace(prediction, uncertain=True)

    def classify_batch(
        self, texts: Sequence[str], threshold: float | None = None
    ) -> list[Prediction]:
        """Like `classify` for each text; each tier embeds its share of the texts in one batch."""
        result: list[Prediction | None] = [None] * len(texts)
        pending = list(range(len(texts)))
        for number, tier in enumerate(self.tiers, start=1):
            if not pending:
                break
            self.calls[number - 1] += len(pending)
            last = number == len(self.tiers)
            unsure = []
            for index, prediction in zip(
                pending, tier.classify_batch([texts[i] for i in pending]), strict=True
            ):
                sure = tier.sure(prediction, threshold)
                if sure or last:
                    result[index] = dataclasses.replace(prediction, tier=number, uncertain=not sure)
                else:
                    unsure.append(index)
            pending = unsure
        return [p for p in result if p is not None]

    def reached(self, predictions: Sequence[Prediction]) -> np.ndarray:
        """How many of `predictions` each tier answered (a count per tier)."""
        counts = np.zeros(len(self.tiers), dtype=int)
        for prediction in predictions:
            counts[prediction.tier - 1] += 1
        return counts
