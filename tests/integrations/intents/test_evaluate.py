"""`intents eval`: CSV reading, the report's keys, few-shot sampling and the CLINC150 helper."""

# STYLE.md: asserts read `expected == actual`, which SIM300 calls a Yoda condition.

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ticketbolt.integrations.intents.evaluate import (
    EvalDataError,
    clinc150_rows,
    format_report,
    read_rows,
    read_texts,
    run_eval,
    sample_per_intent,
    write_rows,
)
from ticketbolt.integrations.intents.offline import Encoder

TRAIN = [
    ("where is my order", "order_status"),
    ("has my parcel shipped yet", "order_status"),
    ("tracking number please", "order_status"),
    ("when will my package arrive", "order_status"),
    ("i want my money back", "refund_request"),
    ("please refund me", "refund_request"),
    ("when will the refund arrive", "refund_request"),
    ("refund my purchase", "refund_request"),
    ("hello", "greeting"),
    ("hi there", "greeting"),
    ("good morning", "greeting"),
    ("thanks a lot", "greeting"),
]
TEST = [
    ("where's my parcel", "order_status"),
    ("can you refund me", "refund_request"),
    ("hey there", "greeting"),
]


def _csv(path: Path, rows: list[tuple[str, str]], header: str = "text,intent") -> Path:
    lines = [header] + [f"{text},{label}" for text, label in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_eval_reports_the_contract_keys(tmp_path: Path, encoder: Encoder) -> None:
    """The result holds the six keys of `intents eval --json`, with sane values."""
    result = run_eval(
        _csv(tmp_path / "train.csv", TRAIN), _csv(tmp_path / "test.csv", TEST), encoder=encoder
    )
    contract = {"accuracy", "n", "intents", "coverage", "per_intent", "messages_per_second"}
    assert contract <= set(result)
    assert (3, 3) == (result["n"], result["intents"])
    assert 1.0 == result["accuracy"]
    assert 0.0 <= result["coverage"] <= 1.0
    assert {"precision", "recall", "f1", "support"} <= set(result["per_intent"]["greeting"])
    assert result["messages_per_second"] > 0
    json.dumps(result)  # the CLI prints it as one JSON object


@pytest.mark.parametrize("column", ["intent", "label", "category"])
def test_label_column_variants(tmp_path: Path, column: str) -> None:
    """The label column may be called intent, label or category."""
    path = _csv(tmp_path / "rows.csv", TEST, header=f"text,{column}")
    assert TEST == read_rows(path)


def test_missing_label_column_is_named(tmp_path: Path) -> None:
    """A file without a label column says which columns it expected and found."""
    path = _csv(tmp_path / "rows.csv", TEST, header="text,tag")
    with pytest.raises(EvalDataError, match=r"rows\.csv: no label column.*intent, label, category"):
        read_rows(path)


def test_missing_text_column_is_named(tmp_path: Path) -> None:
    """A file without a text column names the missing column."""
    path = _csv(tmp_path / "rows.csv", TEST, header="message,intent")
    with pytest.raises(EvalDataError, match="no 'text' column"):
        read_rows(path)


def test_progress_is_reported(tmp_path: Path, encoder: Encoder) -> None:
    """The progress callback hears each step."""
    heard: list[str] = []
    run_eval(
        _csv(tmp_path / "train.csv", TRAIN),
        _csv(tmp_path / "test.csv", TEST),
        encoder=encoder,
        progress=heard.append,
    )
    assert any(message.startswith("fitting on 12 examples") for message in heard)


def test_per_intent_sampling_is_seeded() -> None:
    """Sampling keeps at most n rows per intent and the same rows for the same seed."""
    sample = sample_per_intent(TRAIN, 2, seed=7)
    assert 6 == len(sample)
    assert sample == sample_per_intent(TRAIN, 2, seed=7)
    assert {2} == {sum(label == intent for _, label in sample) for intent in ("greeting",)}


def test_per_intent_option_trains_on_the_sample(tmp_path: Path, encoder: Encoder) -> None:
    """`per_intent` fits on that many examples of each intent."""
    result = run_eval(
        _csv(tmp_path / "train.csv", TRAIN),
        _csv(tmp_path / "test.csv", TEST),
        per_intent=2,
        encoder=encoder,
    )
    assert 6 == result["train_n"]


def test_clinc150_rows_keep_in_scope_only(tmp_path: Path) -> None:
    """The CLINC150 helper returns in-scope train and test rows, writable as an eval CSV."""
    data = {
        "train": [["what's the weather", "weather"]],
        "test": [["will it rain", "weather"]],
        "oos_train": [["sing", "oos"]],
        "oos_test": [["dance", "oos"]],
    }
    source = tmp_path / "data_full.json"
    source.write_text(json.dumps(data))
    train, test = clinc150_rows(source)
    assert ([("what's the weather", "weather")], [("will it rain", "weather")]) == (train, test)
    assert test == read_rows(write_rows(test, tmp_path / "test.csv"))


def test_report_is_readable(tmp_path: Path, encoder: Encoder) -> None:
    """The human table shows accuracy, coverage and one line per intent."""
    result = run_eval(
        _csv(tmp_path / "train.csv", TRAIN), _csv(tmp_path / "test.csv", TEST), encoder=encoder
    )
    text = format_report(result)
    assert "accuracy      100.00% on 3 messages, 3 intents" in text
    assert "refund_request" in text


def test_columns_can_be_named(tmp_path: Path) -> None:
    """`--text-column` and `--label-column` read files whose columns have other names."""
    path = _csv(tmp_path / "rows.csv", TEST, header="utterance,topic")
    assert TEST == read_rows(path, text_column="utterance", label_column="topic")
    with pytest.raises(EvalDataError, match="expected one of topic"):
        read_rows(_csv(tmp_path / "other.csv", TEST), label_column="topic")


def test_out_of_scope_files_need_only_a_text_column(tmp_path: Path) -> None:
    """An out-of-scope CSV is read for its messages; a label column, if any, is ignored."""
    path = tmp_path / "oos.csv"
    path.write_text("text\nsing me a song\n\nwhat is the capital of peru\n")
    assert ["sing me a song", "what is the capital of peru"] == read_texts(path)


def test_samples_report_the_mean_and_spread(tmp_path: Path, encoder: Encoder) -> None:
    """`samples` few-shot runs give means, their standard deviations, and each run."""
    result = run_eval(
        _csv(tmp_path / "train.csv", TRAIN),
        _csv(tmp_path / "test.csv", TEST),
        per_intent=2,
        samples=3,
        encoder=encoder,
    )
    assert 3 == result["samples"]
    assert 3 == len(result["runs"])
    assert {"accuracy", "coverage"} <= set(result["spread"])
    mean = sum(run["accuracy"] for run in result["runs"]) / 3
    assert round(mean, 4) == result["accuracy"]


def test_samples_need_per_intent(tmp_path: Path, encoder: Encoder) -> None:
    """Several samples of the full set would all be the same: refused."""
    with pytest.raises(EvalDataError, match="--samples needs --per-intent"):
        run_eval(
            _csv(tmp_path / "train.csv", TRAIN),
            _csv(tmp_path / "test.csv", TEST),
            samples=3,
            encoder=encoder,
        )


INTENTS_FILE = """
intents:
  - name: order_status
    description: Where is my order.
    action: answer
    kb_topic: shipping
    examples: [where is my order, has my parcel shipped yet, tracking number please]
  - name: complaint
    description: An unhappy customer.
    action: handoff
    examples: [this is not good enough, I am very unhappy with the service, I want to complain]
"""


def test_out_of_scope_counts_false_hand_offs(tmp_path: Path, encoder: Encoder) -> None:
    """With an intents file as examples, out-of-scope messages that would open a ticket are
    counted: here the explicit request for a person; an unsure complaint guess is not one."""
    intents = tmp_path / "intents.yml"
    intents.write_text(INTENTS_FILE)
    oos = tmp_path / "oos.csv"
    oos.write_text("text\nplease let me talk to a human\nhow tall is mount everest\n")
    result = run_eval(
        intents,
        _csv(tmp_path / "test.csv", [("where's my parcel", "order_status")]),
        out_of_scope=oos,
        encoder=encoder,
        threshold=0.99,
    )
    assert {"n": 2, "recall": 1.0, "false_handoffs": 1, "false_handoff_rate": 0.5} == result[
        "out_of_scope"
    ]
    assert "1 false hand-offs" in format_report(result)
