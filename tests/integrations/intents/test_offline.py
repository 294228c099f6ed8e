"""The offline classifier on the built-in intents: right answers, honest confidence, reuse."""

# STYLE.md: asserts read `expected == actual`, which SIM300 calls a Yoda condition.

from __future__ import annotations

from pathlib import Path

import pytest

from ticketbolt.integrations.intents.config import IntentsConfig
from ticketbolt.integrations.intents.fitting import fit_classifier
from ticketbolt.integrations.intents.model_cache import classifier_from_config
from ticketbolt.integrations.intents.normalize import normalize
from ticketbolt.integrations.intents.offline import Encoder, OfflineClassifier

# Phrasings written for this test, not present in default_intents.yml.
HELD_OUT = [
    ("please cancel order 5531", "cancel_order"),
    ("i want to change the address on my order", "order_change"),
    ("my card was charged two times", "billing"),
    ("i can't sign into my account", "account_access"),
    ("promo code not accepted", "discount_code"),
    ("this service is terrible", "complaint"),
    ("can i speak with an actual person", "talk_to_human"),
    ("hello!", "greeting"),
    ("the parcel arrived broken", "shipping_issue"),
    ("can I get my money back for the bag", "refund_request"),
    ("is the hoodie machine washable", "product_question"),
]


def test_held_out_phrasings_are_not_examples(default_intents: IntentsConfig) -> None:
    """The held-out set really is held out: none of it appears among the examples."""
    examples = {normalize(e) for intent in default_intents.intents for e in intent.examples}
    assert set() == {normalize(text) for text, _ in HELD_OUT} & examples


@pytest.mark.parametrize(("text", "intent"), HELD_OUT)
def test_held_out_phrasings_get_their_intent(
    classifier: OfflineClassifier, text: str, intent: str
) -> None:
    """Messages worded unlike any example still get the intended label."""
    assert intent == classifier.classify(text).intent


def test_batch_agrees_with_single(classifier: OfflineClassifier) -> None:
    """classify_batch gives the same predictions as classify, in order."""
    texts = [text for text, _ in HELD_OUT]
    single = [classifier.classify(text) for text in texts]
    batch = classifier.classify_batch(texts)
    assert [p.intent for p in single] == [p.intent for p in batch]
    assert [p.confidence for p in single] == pytest.approx([p.confidence for p in batch], abs=1e-5)


def test_confidence_is_a_probability_flagged_under_the_threshold(
    classifier: OfflineClassifier,
) -> None:
    """Confidence lies in [0, 1] and `uncertain` is set exactly when it is under the threshold
    or the message is less similar to the intent's examples than the similarity floor."""
    for prediction in classifier.classify_batch(["", "hmm", "please cancel my order now"]):
        assert 0.0 <= prediction.confidence <= 1.0
        expected = (
            prediction.confidence < classifier.threshold
            or prediction.similarity < classifier.similarity_floor
        )
        assert expected == prediction.uncertain


def test_slack_markup_does_not_change_the_answer(classifier: OfflineClassifier) -> None:
    """A mention and a link label classify like the plain text."""
    plain = classifier.classify("please cancel my order")
    marked = classifier.classify("<@U0BOT> Please  <https://shop.example/o/1|cancel> my ORDER")
    assert plain == marked


def test_stored_fit_is_reused(
    encoder: Encoder, default_intents: IntentsConfig, tmp_path: Path
) -> None:
    """A fit stored under the config's hash is reloaded and predicts the same."""
    fitted = classifier_from_config(encoder, default_intents, cache_dir=tmp_path)
    stored = list(tmp_path.glob("*.npz"))
    assert 1 == len(stored)
    reloaded = classifier_from_config(encoder, default_intents, cache_dir=tmp_path)
    texts = [text for text, _ in HELD_OUT]
    assert fitted.classify_batch(texts) == reloaded.classify_batch(texts)
    assert stored == list(tmp_path.glob("*.npz"))


def test_two_intents_are_enough(encoder: Encoder) -> None:
    """A two-intent set fits and answers with one of its labels."""
    classifier = fit_classifier(
        encoder, ["where is my parcel", "hello there"], ["order_status", "greeting"]
    )
    assert "greeting" == classifier.classify("hello").intent


def test_one_intent_is_refused(encoder: Encoder) -> None:
    """A classifier needs at least two intents to choose between."""
    with pytest.raises(ValueError, match="at least two intents"):
        fit_classifier(encoder, ["a", "b"], ["x", "x"])


def test_the_handoff_intents_are_cautious(
    classifier: OfflineClassifier, default_intents: IntentsConfig
) -> None:
    """Fitted from an intents file, the intents whose action is a hand-off are the cautious
    ones: a temperature under 1 does not make them sure."""
    handoffs = {i.name for i in default_intents.intents if i.action == "handoff"}
    assert handoffs
    assert handoffs == classifier.cautious
