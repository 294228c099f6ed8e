"""The `ticketbolt` command line, run as a user would run it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("SLACK_", "GORGIAS_", "OPENAI_", "TICKETBOLT_", "DATABASE_", "REDIS_"))
}


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m ticketbolt ARGS` in `cwd`, with no ticketbolt settings but those in `env`."""
    return subprocess.run(
        [sys.executable, "-m", "ticketbolt", *args],
        cwd=cwd,
        env={**ENV, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_csv(path: Path, label_column: str, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", label_column])
        writer.writerows(rows)
    return path


TRAIN = [
    ("where is my parcel", "tracking"),
    ("track my order please", "tracking"),
    ("has my package shipped yet", "tracking"),
    ("when will my delivery arrive", "tracking"),
    ("I want my money back", "refund"),
    ("please refund my purchase", "refund"),
    ("how do I get a refund", "refund"),
    ("refund the charge on my card", "refund"),
]
TEST = [("where is my package", "tracking"), ("can I get my money back", "refund")]


def test_classify_prints_intent_confidence_and_stage(tmp_path: Path) -> None:
    """`classify --json` answers with the intent, a confidence and the deciding stage."""
    result = run("classify", "--json", "I would like to speak to a real person", cwd=tmp_path)
    assert 0 == result.returncode, result.stderr
    answer = json.loads(result.stdout)
    assert ("talk_to_human", "offline") == (answer["intent"], answer["stage"])
    assert 0.0 <= answer["confidence"] <= 1.0


def test_intents_eval_json_has_the_contract_keys(tmp_path: Path) -> None:
    """`intents eval --json` prints one object with the documented keys (label column `label`)."""
    train = write_csv(tmp_path / "train.csv", "label", TRAIN)
    test = write_csv(tmp_path / "test.csv", "intent", TEST)
    result = run(
        "intents", "eval", "--examples", str(train), "--test", str(test), "--json", cwd=tmp_path
    )
    assert 0 == result.returncode, result.stderr
    report = json.loads(result.stdout)
    assert {"accuracy", "n", "intents", "coverage", "per_intent", "messages_per_second"} <= set(
        report
    )
    assert (2, 2) == (report["n"], report["intents"])


def test_intents_eval_options_name_columns_sample_and_score_out_of_scope(tmp_path: Path) -> None:
    """Named columns, three few-shot samples and an out-of-scope file: the JSON has the means
    and spreads, the threshold it used, and the out-of-scope recall and false hand-offs."""
    train = tmp_path / "train.csv"
    train.write_text("utterance,topic\n" + "".join(f"{t},{label}\n" for t, label in TRAIN))
    test = tmp_path / "test.csv"
    test.write_text("utterance,topic\n" + "".join(f"{t},{label}\n" for t, label in TEST))
    oos = tmp_path / "oos.csv"
    oos.write_text("utterance\nwhat is the weather like\nI want to talk to a human\n")
    result = run(
        *("intents", "eval", "--examples", str(train), "--test", str(test)),
        *("--text-column", "utterance", "--label-column", "topic"),
        *("--per-intent", "3", "--samples", "3", "--out-of-scope", str(oos), "--json"),
        cwd=tmp_path,
    )
    assert 0 == result.returncode, result.stderr
    report = json.loads(result.stdout)
    assert {"accuracy", "n", "intents", "coverage", "per_intent", "messages_per_second"} <= set(
        report
    )
    assert (2, 3, 6) == (report["n"], report["samples"], report["train_n"])
    assert {"accuracy", "coverage"} <= set(report["spread"])
    assert 0.0 <= report["threshold"] <= 1.0
    assert (2, 1) == (report["out_of_scope"]["n"], report["out_of_scope"]["false_handoffs"])


def test_intents_eval_names_a_missing_column(tmp_path: Path) -> None:
    """A CSV without a label column is refused with a message naming the accepted columns."""
    train = write_csv(tmp_path / "train.csv", "topic", TRAIN)
    result = run("intents", "eval", "--examples", str(train), "--test", str(train), cwd=tmp_path)
    assert 2 == result.returncode
    assert "intent" in result.stderr


def test_run_with_a_bad_setting_says_which(tmp_path: Path) -> None:
    """A malformed variable stops start-up with exit 2 and the variable's name."""
    result = run("run", cwd=tmp_path, TICKETBOLT_PORT="not-a-port")
    assert 2 == result.returncode
    assert "TICKETBOLT_PORT" in result.stderr


def test_check_names_the_database_setting_when_it_is_wrong(tmp_path: Path) -> None:
    """`ticketbolt check` with an unreachable DATABASE_URL exits 1 and names DATABASE_URL."""
    result = run(
        "check",
        cwd=tmp_path,
        DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:1/nowhere",
        TICKETBOLT_LOG_LEVEL="ERROR",
    )
    assert 1 == result.returncode
    assert "DATABASE_URL" in result.stdout + result.stderr


def test_jobs_retry_requires_an_id(tmp_path: Path) -> None:
    """`jobs retry` without an id explains how to find one."""
    result = run("jobs", "retry", cwd=tmp_path)
    assert 2 == result.returncode
    assert "jobs list --state failed" in result.stderr


def test_check_says_anyone_may_resolve_while_no_agents_are_set(tmp_path: Path) -> None:
    """Open by default is visible: `check` names TICKETBOLT_AGENTS until it is set."""
    open_row = _agents_row(run("check", cwd=tmp_path))
    closed_row = _agents_row(run("check", cwd=tmp_path, TICKETBOLT_AGENTS="U0ALEX,S0TEAM"))
    assert "anyone in the workspace can resolve" in open_row
    assert "TICKETBOLT_AGENTS" in open_row
    assert "2 user or group id(s) may resolve" in closed_row


def _agents_row(done: subprocess.CompletedProcess[str]) -> str:
    return next(line for line in done.stdout.splitlines() if line.startswith("agents"))
