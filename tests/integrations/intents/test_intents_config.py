"""The intents file: the built-in set, the version hash, and errors that name the bad intent."""

# STYLE.md: asserts read `expected == actual`, which SIM300 calls a Yoda condition.

from __future__ import annotations

from pathlib import Path

import pytest

from ticketbolt.integrations.intents.config import (
    DEFAULT_INTENTS_PATH,
    IntentsConfig,
    IntentsConfigError,
    load_intents,
    parse_intents,
)
from ticketbolt.integrations.intents.kb import DEFAULT_KB_DIR

VALID = """
intents:
  - name: order_status
    description: Where is my order.
    action: answer
    kb_topic: shipping
    examples: [where is my order, tracking please]
  - name: talk_to_human
    description: Wants a person.
    action: handoff
    examples: [agent please]
"""


def test_default_set_covers_the_e_commerce_intents(default_intents: IntentsConfig) -> None:
    """The built-in set holds every required intent, each with at least 15 examples."""
    required = {
        "order_status",
        "shipping_issue",
        "return_request",
        "refund_request",
        "cancel_order",
        "order_change",
        "product_question",
        "billing",
        "account_access",
        "discount_code",
        "complaint",
        "talk_to_human",
        "greeting",
        "other",
    }
    assert required <= set(default_intents.names)
    too_few = {i.name: len(i.examples) for i in default_intents.intents if len(i.examples) < 15}
    assert {} == too_few


def test_default_set_hands_off_what_needs_a_person(default_intents: IntentsConfig) -> None:
    """Escalations hand off; everything else answers from a topic the sample KB has."""
    actions = {intent.name: intent.action for intent in default_intents.intents}
    assert {"talk_to_human", "complaint", "cancel_order"} <= {
        name for name, action in actions.items() if action == "handoff"
    }
    kb_topics = {path.stem for path in DEFAULT_KB_DIR.glob("*.md")}
    missing = {
        i.name: i.kb_topic
        for i in default_intents.intents
        if i.kb_topic is not None and i.kb_topic not in kb_topics
    }
    assert {} == missing


def test_default_set_maps_onto_gorgias_intents(default_intents: IntentsConfig) -> None:
    """Intents with a Gorgias equivalent carry it, so Gorgias rules keep working."""
    mapped = {i.name: i.gorgias_intent for i in default_intents.intents if i.gorgias_intent}
    assert {
        "order_status": "shipping/status",
        "refund_request": "refund/request",
        "cancel_order": "order/cancel",
    } == mapped


def test_version_is_stable_and_follows_the_content() -> None:
    """Loading the same text twice gives the same version; changing one example changes it."""
    first = parse_intents(VALID)
    assert first.version == parse_intents(VALID).version
    changed = parse_intents(VALID.replace("tracking please", "tracking, please"))
    assert first.version != changed.version


def test_labels_always_include_other() -> None:
    """The LLM's closed label set is the configured names plus `other`."""
    assert ["order_status", "talk_to_human", "other"] == parse_intents(VALID).labels


def test_none_loads_the_built_in_set() -> None:
    """Without a TICKETBOLT_INTENTS path the built-in file is used."""
    assert load_intents(DEFAULT_INTENTS_PATH).version == load_intents(None).version


def test_a_custom_file_loads(tmp_path: Path) -> None:
    """A path to a valid file loads its intents."""
    path = tmp_path / "intents.yml"
    path.write_text(VALID)
    assert ["order_status", "talk_to_human"] == load_intents(path).names


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    """A missing file is an error naming it."""
    path = tmp_path / "absent.yml"
    with pytest.raises(IntentsConfigError, match=r"absent\.yml"):
        load_intents(path)


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    """A YAML syntax error names the file."""
    path = tmp_path / "broken.yml"
    path.write_text("intents: [unclosed")
    with pytest.raises(IntentsConfigError, match=r"broken\.yml: not valid YAML"):
        load_intents(path)


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        ("action: handoff", "action: refund_everyone", r"intent talk_to_human \(action\)"),
        ("    kb_topic: shipping\n", "", r"intent order_status: .*kb_topic"),
        ("examples: [agent please]", "examples: []", r"intent talk_to_human \(examples\)"),
        ("name: talk_to_human", "name: Talk To Human", r"intent Talk To Human \(name\)"),
        ("name: talk_to_human", "name: order_status", "defined twice"),
    ],
)
def test_invalid_intent_is_named(tmp_path: Path, replace: str, by: str, message: str) -> None:
    """Validation errors name the file and the intent at fault."""
    path = tmp_path / "custom.yml"
    path.write_text(VALID.replace(replace, by))
    with pytest.raises(IntentsConfigError, match=r"custom\.yml") as caught:
        load_intents(path)
    assert caught.match(message)
