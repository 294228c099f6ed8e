"""The second offline tier: the ONNX encoder, the pinned hashes, the cascade, calibration."""

# STYLE.md: asserts read `expected == actual`, which SIM300 calls a Yoda condition.

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from tests.integrations.intents.test_thresholds import generated
from ticketbolt.cache.layers import CacheLayer
from ticketbolt.cache.memory import MemoryCache
from ticketbolt.integrations.intents import encoders as encoders_module
from ticketbolt.integrations.intents.cascade import IntentCascade
from ticketbolt.integrations.intents.config import IntentsConfig, parse_intents
from ticketbolt.integrations.intents.encoders import (
    ENV,
    MODEL_SHA256,
    TOKENIZER_DIR,
    EncoderError,
    OnnxEncoder,
    load_onnx,
    load_tier2,
    pinned_model_path,
    sha256_of,
)
from ticketbolt.integrations.intents.evaluate import calibration_error, run_eval, write_rows
from ticketbolt.integrations.intents.features import JOIN_WEIGHT, JoinedEncoder
from ticketbolt.integrations.intents.fitting import (
    C_CANDIDATES,
    EARLY_ERROR_SHARE,
    fit_classifier,
    fit_temperature,
    fit_tiers,
)
from ticketbolt.integrations.intents.model_cache import classifier_from_config, load_or_fit
from ticketbolt.integrations.intents.offline import Encoder, OfflineClassifier
from ticketbolt.integrations.intents.tiers import TieredClassifier

SMALL = """
intents:
  - name: order_status
    description: Where is my order.
    action: answer
    kb_topic: orders
    examples: [where is my order, has my parcel shipped yet, tracking number please,
               when will my package arrive, is my order on its way]
  - name: refund_request
    description: Money back.
    action: answer
    kb_topic: refunds
    examples: [i want my money back, please refund me, when will the refund arrive,
               refund my purchase, how long do refunds take]
  - name: greeting
    description: Hello.
    action: answer
    kb_topic: general
    examples: [hello, hi there, good morning, thanks a lot, hey]
"""
TESTS = [
    ("where's my parcel", "order_status"),
    ("can you refund me", "refund_request"),
    ("hey there", "greeting"),
]


@pytest.fixture(scope="module")
def small() -> IntentsConfig:
    return parse_intents(SMALL)


def test_tier2_embeds_like_sentence_transformers(tier2: OnnxEncoder) -> None:
    """Unit vectors of 384 dimensions; a batch gives the vectors of one-by-one calls (mean
    pooling ignores the padding), and a paraphrase is nearer than an unrelated text."""
    texts = ["where is my order", "has my parcel shipped yet", "the weather in paris"]
    batch = tier2.embed(texts)
    assert (3, 384) == batch.shape
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    one_by_one = np.vstack([tier2.embed([text]) for text in texts])
    assert np.allclose(batch, one_by_one, atol=1e-4)
    assert batch[0] @ batch[1] > batch[0] @ batch[2] + 0.2


@pytest.mark.parametrize("tier", ["tier1", "tier2"])
def test_each_tier_classifies_a_small_intents_file(
    tier: str,
    encoder: Encoder,
    small: IntentsConfig,
    request: pytest.FixtureRequest,
) -> None:
    chosen: Encoder = encoder if tier == "tier1" else request.getfixturevalue("tier2")
    classifier = classifier_from_config(chosen, small)
    predictions = classifier.classify_batch([text for text, _ in TESTS])
    assert [label for _, label in TESTS] == [p.intent for p in predictions]
    assert all(p.candidates[0] == (p.intent, p.confidence) for p in predictions)


def test_the_cascade_asks_tier2_only_when_tier1_is_unsure(
    encoder: Encoder, tier2: OnnxEncoder, small: IntentsConfig
) -> None:
    """A threshold tier 1 always reaches never calls tier 2; one it never reaches calls it for
    every message; in between, tier 2 classifies exactly the messages tier 1 was unsure of."""
    tiers = TieredClassifier.from_config([encoder, tier2], small)
    texts = [text for text, _ in TESTS] + ["how do you make sure a bridge doesn't fall down"]
    for text in texts:
        tiers.classify(text, threshold=0.0)
    assert [len(texts), 0] == tiers.calls
    for text in texts:
        tiers.classify(text, threshold=1.01)
    assert [2 * len(texts), len(texts)] == tiers.calls

    tiers.calls[:] = [0, 0]
    tier1 = tiers.tiers[0]
    unsure = sum(tier1.classify(text).uncertain for text in texts)
    answers = [tiers.classify(text) for text in texts]
    assert [len(texts), unsure] == tiers.calls
    assert all(
        a.tier == (2 if tier1.classify(t).uncertain else 1)
        for a, t in zip(answers, texts, strict=True)
    )
    tiers.calls[:] = [0, 0]
    batched = tiers.classify_batch(texts)
    assert [len(texts), unsure] == tiers.calls
    assert [(a.intent, a.tier) for a in answers] == [(b.intent, b.tier) for b in batched]


async def test_the_intent_cascade_reports_the_tier_and_candidates(
    encoder: Encoder, tier2: OnnxEncoder, small: IntentsConfig
) -> None:
    tiers = TieredClassifier.from_config([encoder, tier2], small)
    cascade = IntentCascade(tiers, None, CacheLayer(MemoryCache(), "intents", ttl=60), 1.01)
    decision = await cascade.decide("where's my parcel")
    assert (True, 2, "offline") == (decision.uncertain, decision.tier, decision.stage)
    assert "order_status" == decision.candidates[0][0]
    assert [1, 1] == tiers.calls


def _copy_pinned(tmp_path: Path) -> Path:
    model = pinned_model_path()
    if model is None:
        pytest.skip("tier 2 is not installed: install ticketbolt[accurate]")
    directory = tmp_path / "model"
    directory.mkdir()
    shutil.copy(model, directory / "model.onnx")
    shutil.copy(TOKENIZER_DIR / "tokenizer.json", directory / "tokenizer.json")
    return directory


def test_the_pinned_model_is_the_one_tested(tier2: OnnxEncoder) -> None:
    model = pinned_model_path()
    assert model is not None
    assert MODEL_SHA256 == sha256_of(model)
    assert "all-MiniLM-L6-v2-int8" == tier2.name


def test_a_model_whose_hash_does_not_match_is_refused(
    tier2: OnnxEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A changed pinned file, or a directory whose model.onnx.sha256 disagrees, is refused with
    an error naming TICKETBOLT_ENCODER_MODEL."""
    directory = _copy_pinned(tmp_path)
    monkeypatch.setattr(encoders_module, "MODEL_SHA256", "0" * 64)
    with pytest.raises(EncoderError, match=ENV) as refused:
        load_onnx()
    assert "0" * 64 in str(refused.value)
    (directory / "model.onnx.sha256").write_text("f" * 64 + "  model.onnx\n")
    with pytest.raises(EncoderError, match=f"{ENV}.*SHA-256"):
        load_onnx(directory)


def test_a_model_directory_of_ones_own(tier2: OnnxEncoder, tmp_path: Path) -> None:
    """TICKETBOLT_ENCODER_MODEL names a directory: its model is used (its hash checked when a
    model.onnx.sha256 is there), and named by its hash so a new model refits."""
    directory = _copy_pinned(tmp_path)
    (directory / "model.onnx.sha256").write_text(MODEL_SHA256 + "\n")
    own, status = load_tier2(directory)
    assert own is not None
    assert status.active
    assert f"onnx-{MODEL_SHA256[:16]}" == own.name
    assert np.allclose(own.embed(["hello"]), tier2.embed(["hello"]), atol=1e-5)
    (directory / "tokenizer.json").unlink()
    with pytest.raises(EncoderError, match=f"{ENV}: no tokenizer.json"):
        load_tier2(directory)


def test_tier2_can_be_turned_off() -> None:
    encoder, status = load_tier2("off")
    assert (None, False) == (encoder, status.active)
    assert ENV in status.detail


def test_without_the_extra_tier2_is_off_and_says_how_to_add_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(encoders_module, "tier2_installed", lambda: False)
    encoder, status = load_tier2("")
    assert (None, False) == (encoder, status.active)
    assert "ticketbolt[accurate]" in status.detail
    with pytest.raises(EncoderError, match=f"{ENV}: onnxruntime is not installed"):
        load_tier2("/some/model")


def test_temperature_scaling_recovers_a_known_temperature() -> None:
    """Logits drawn from a calibrated model and then multiplied by 3 are fitted T≈3, and
    dividing by it brings the calibration error back down."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, size=(4000, 5))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    truth = np.array([rng.choice(5, p=row) for row in probabilities])
    sharpened = logits * 3
    temperature = fit_temperature(sharpened, truth)
    assert 2.7 < temperature < 3.3

    def ece(z: np.ndarray) -> float:
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return calibration_error(p.max(axis=1), p.argmax(axis=1) == truth)

    assert ece(sharpened / temperature) < ece(sharpened) / 2


def test_fitting_records_the_temperature_with_the_model(
    encoder: Encoder, default_intents: IntentsConfig, tmp_path: Path
) -> None:
    first = classifier_from_config(encoder, default_intents, cache_dir=tmp_path)
    again = classifier_from_config(encoder, default_intents, cache_dir=tmp_path)
    assert first.fit_record.fitted
    assert first.temperature != 1.0
    assert first.temperature == again.temperature == first.fit_record.temperature
    assert "temperature" in first.fit_record.as_dict()


@pytest.mark.parametrize("tier", ["1", "2", "cascade"])
def test_eval_scores_the_chosen_tier(
    tier: str, tmp_path: Path, encoder: Encoder, tier2: OnnxEncoder, small: IntentsConfig
) -> None:
    """`intents eval --tier`: per-tier figures in the JSON; the cascade's accuracy is the
    headline and tier 1 alone is reported beside it."""
    texts, labels = small.training_rows()
    train = write_rows(list(zip(texts, labels, strict=True)), tmp_path / "train.csv")
    test = write_rows(TESTS, tmp_path / "test.csv")
    result = run_eval(train, test, encoder=encoder, tier2=tier2, tier=tier)
    assert tier == result["tier"]
    assert 1.0 == result["accuracy"]
    joined = f"{tier2.name}+wordllama-l2_supercat-256*{JOIN_WEIGHT:g}"
    expected = {"1": ["wordllama-l2_supercat-256"], "2": [tier2.name]}.get(
        tier, ["wordllama-l2_supercat-256", joined]
    )
    assert expected == [row["encoder"] for row in result["tiers"]]
    for row in result["tiers"]:
        assert {
            "asked",
            "answered",
            "accuracy_answered",
            "latency_ms_mean",
            "latency_ms_p99",
        } <= set(row)
        assert "calibration_error_uncalibrated" in row
    assert 1.0 == result["tiers"][0]["asked"]
    assert {"calibration_error", "latency_ms_mean", "latency_ms_p99", "tier1_accuracy"} <= set(
        result
    )


@pytest.mark.parametrize("with_tier2", [True, False], ids=["two-tiers", "tier-1-only"])
async def test_check_and_status_say_which_tiers_are_active(
    with_tier2: bool, encoder: Encoder, small: IntentsConfig, request: pytest.FixtureRequest
) -> None:
    """`ticketbolt check` and `/ticketbolt status` (row `intents`) name each active tier, or
    say how to add tier 2 when it is not installed, and whether an LLM follows."""
    from types import SimpleNamespace

    from ticketbolt.bot.checks import intents_check
    from ticketbolt.handlers.blocks_status import status_report
    from ticketbolt.integrations.intents.encoders import Tier2Status

    if with_tier2:
        encoders = [encoder, request.getfixturevalue("tier2")]
        status = Tier2Status(True, "tier 2 all-MiniLM-L6-v2-int8")
    else:
        encoders = [encoder]
        status = Tier2Status(False, "tier 2 not installed: install ticketbolt[accurate] for tier 2")
    offline = TieredClassifier.from_config(encoders, small, tier2=status)
    assistant = SimpleNamespace(cascade=SimpleNamespace(offline=offline))
    detail = await intents_check(assistant, llm=None)()
    assert detail.startswith("tier 1 wordllama-l2_supercat-256 (threshold ")
    assert detail.endswith("; no LLM")
    if with_tier2:
        assert "; tier 2 all-MiniLM-L6-v2-int8 + tier 1 (threshold " in detail
    else:
        assert "install ticketbolt[accurate] for tier 2" in detail
    check = {"name": "intents", "state": "ok", "latency_ms": 0.1, "detail": detail}
    _text, blocks = status_report({"checks": [check], "queue": {"by_state": {}}})
    assert "*Assistant tiers* ok" in json.dumps(blocks)


def test_tier2_reads_tier1s_vector_beside_its_own(encoder: Encoder, tier2: OnnxEncoder) -> None:
    """Tier 2's features are its own vector and tier 1's scaled by JOIN_WEIGHT, side by side."""
    texts = ["where is my order", "hello"]
    fitted = fit_tiers([encoder, tier2], texts * 2, ["order_status", "greeting"] * 2)
    features = fitted[1].encoder
    assert isinstance(features, JoinedEncoder)
    expected = np.hstack([tier2.embed(texts), JOIN_WEIGHT * encoder.embed(texts)])
    assert (2, 384 + 256) == features.embed(texts).shape
    assert np.allclose(expected, features.embed(texts), atol=1e-5)


def test_the_model_cache_follows_the_features(
    encoder: Encoder, tier2: OnnxEncoder, small: IntentsConfig, tmp_path: Path
) -> None:
    """Tier 1 alone and the two tiers are stored under different keys, and each reloads to the
    same predictions, similarity floors included."""
    alone = load_or_fit([encoder], small, cache_dir=tmp_path)
    both = load_or_fit([encoder, tier2], small, cache_dir=tmp_path)
    assert 2 == len(list(tmp_path.glob("intents-*.npz")))
    again = load_or_fit([encoder, tier2], small, cache_dir=tmp_path)
    texts = [text for text, _ in TESTS]
    for fitted, reloaded in zip(both, again, strict=True):
        assert fitted.classify_batch(texts) == reloaded.classify_batch(texts)
        assert fitted.similarity_floor == reloaded.similarity_floor
    assert alone[0].classify_batch(texts) == load_or_fit([encoder], small, cache_dir=tmp_path)[
        0
    ].classify_batch(texts)


def test_an_earlier_tier_is_held_to_a_stricter_precision(
    encoder: Encoder, tier2: OnnxEncoder
) -> None:
    """Tier 1, followed by tier 2, is fitted for a sixth of the target error rate; tier 2 for
    the target, with its C chosen among the candidates by cross-validation."""
    rows = generated(20, seed=2)
    first, second = fit_tiers(
        [encoder, tier2], [t for t, _ in rows], [label for _, label in rows], precision=0.94
    )
    assert pytest.approx(1 - 0.06 * EARLY_ERROR_SHARE) == first.fit_record.precision_target
    assert 0.94 == second.fit_record.precision_target
    assert second.fit_record.c in C_CANDIDATES


def test_a_message_far_from_every_example_is_unsure(encoder: Encoder) -> None:
    """Out of scope: a message less similar to every example of its likeliest intent than the
    fitted floor is unsure at any threshold, while nearly all in-scope messages clear it."""
    train, test = generated(50, seed=0), generated(50, seed=100)
    classifier = fit_classifier(
        encoder, [t for t, _ in train], [label for _, label in train], threshold=None
    )
    assert 0.0 < classifier.similarity_floor < 1.0
    outside = classifier.classify("please reset the password of my email account")
    assert outside.similarity < classifier.similarity_floor
    assert outside.uncertain
    assert not classifier.sure(outside, threshold=0.0)
    inside = classifier.classify_batch([t for t, _ in test])
    assert np.mean([p.similarity >= classifier.similarity_floor for p in inside]) >= 0.9


class _Axis:
    """An encoder of two-word vocabularies: "a" is (1, 0), anything else (0, 1)."""

    name = "axis"
    dim = 2

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([[1.0, 0.0] if t == "a" else [0.0, 1.0] for t in texts], np.float32)


def test_a_temperature_under_one_does_not_make_a_handoff_sure() -> None:
    """Logits (1, 0) give 0.73; divided by T = 0.25 they give 0.98, over a 0.9 threshold. An
    answer intent is then sure, a hand-off intent (cautious) is not: it asks instead."""
    weights = np.array([[1.0, 0.0], [0.0, 0.0]], np.float32)
    bias = np.zeros(2, np.float32)
    classifier = OfflineClassifier(
        _Axis(), ["talk_to_human", "order_status"], weights, bias, 0.9, temperature=0.25
    )
    sharpened = classifier.classify("a")
    assert ("talk_to_human", False) == (sharpened.intent, sharpened.uncertain)
    assert sharpened.confidence == pytest.approx(1 / (1 + np.exp(-4)))
    classifier.cautious = frozenset({"talk_to_human"})
    cautious = classifier.classify("a")
    assert cautious.untempered == pytest.approx(1 / (1 + np.exp(-1)))
    assert (sharpened.confidence, True) == (cautious.confidence, cautious.uncertain)
