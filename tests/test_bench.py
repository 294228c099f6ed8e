"""`ticketbolt bench`: each benchmark runs at its `--quick` size and reports consistent counts.

These tests check the shape and the bookkeeping of each report (every event acked is a job,
every reaction a ticket, no 429s), never how fast anything was: timings belong to
docs/performance.md, not to assertions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_service
from ticketbolt.bench import main as bench_main

ROOT = Path(__file__).resolve().parent.parent


def run_bench(*args: str, timeout: float = 120) -> dict[str, Any]:
    """Run `python -m ticketbolt bench …` as the CLI does; stdout must be one JSON object."""
    done = subprocess.run(
        [sys.executable, "-m", "ticketbolt", "bench", *args, "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_ingest_records_one_job_per_acked_event_on_both_servers() -> None:
    """The floor and the service answer every event; the service holds a job for each."""
    report = run_bench("ingest")

    assert "ingest" == report["benchmark"]
    assert "sqlite" == report["database"]
    for side in ("floor", "service"):
        result = report[side]
        assert 0 == result["errors"]
        assert result["fixed"]["sent"] == result["fixed"]["ok"]
        assert {"p50_ms", "p99_ms", "sustained_rate", "server_cpu_ms_per_event"} <= set(
            result["fixed"]
        )
        assert result["ramp"], "at least one ramp step ran"
        assert result["fixed"]["p50_ms"] <= result["fixed"]["p99_ms"]
    assert report["service"]["events_ok"] == report["service"]["jobs_recorded"]
    assert {"p50", "p99", "cpu_per_event", "max_rate"} == set(report["ratio"])


def test_e2e_makes_one_ticket_per_reaction_without_a_429() -> None:
    """With and without the rate limit every reacted message becomes one ticket, no 429s."""
    report = run_bench("e2e")

    for phase in ("rate_limit_off", "rate_limit_on"):
        result = report[phase]
        assert result["messages"] == result["tickets"]
        assert 0 == result["reaction_errors"]
        assert 0 == result["jobs_failed"]
        assert 0 == result["gorgias_429"]
        assert result["gorgias_calls_per_ticket"] >= 1
        assert result["slack_calls_per_ticket"] >= 1
        assert result["service_cpu_ms_per_ticket"] > 0  # the service's processes were read
    limited = report["rate_limit_on"]
    assert limited["gorgias_requests"] >= limited["tickets"]
    # No 429s means the server's bucket admitted every request: at most its capacity allows.
    assert 0 < limited["allowance_used_burst_adjusted"] <= 1.05


def test_e2e_burst_under_slacks_tiers_replies_once_per_ticket_without_a_429() -> None:
    """`--slack-limits real --quick`: a burst across channels under Slack's tiers (windows
    shrunk) gets one reply per ticket and no 429 from either emulator; the binding limit is the
    smallest of the limits the run touched, and the settings it changed are reported."""
    report = run_bench("e2e", "--slack-limits", "real", "--gorgias-limit", "40/20")

    asked = report["tickets_asked"]
    assert asked == report["tickets"] == report["replies_exactly_one"]
    assert (0, 0) == (report["replies_more_than_one"], report["replies_missing"])
    assert (0, 0, 0) == (report["slack_429"], report["gorgias_429"], report["jobs_failed"])
    per_minute = [limit["tickets_per_minute"] for limit in report["limits"]]
    assert per_minute == sorted(per_minute)
    assert report["binding_limit"] == report["limits"][0]["limit"]
    assert report["slack_calls_by_method"]["chat.postMessage"] == asked
    assert {"TICKETBOLT_SLACK_LIMITS", "GORGIAS_RATE_LIMIT"} <= set(report["settings"])
    assert report["latency_s"]["p50"] <= report["latency_s"]["p95"]


def test_memory_reports_startup_and_rss_after_every_event_is_acked() -> None:
    report = run_bench("memory")

    assert report["startup_seconds"]["median"] > 0
    assert report["idle"]["rss_mb"] > 0
    tiers = report["tiers"]
    assert tiers["service_idle_tier1_only"]["rss_mb"] > 0
    assert ["tier1", "default"] == [run["mode"] for run in tiers["probes"]]
    for run in tiers["probes"]:
        assert [s["rss_mb"] > 0 for s in run["steps"]] == [True] * 4
    ingest = report["ingest"]
    assert 0 == ingest["errors"]
    assert ingest["events_sent"] == ingest["events_ok"]
    assert ingest["peak_rss_mb"] >= ingest["end_rss_mb"] > 0


def test_loadtest_answers_every_customer_message_and_writes_its_report(
    tmp_path: Path,
) -> None:
    """Every DM gets a reply; the report file holds the same JSON as stdout."""
    report_path = tmp_path / "loadtest.json"
    report = run_bench("loadtest", "--report", str(report_path))

    assert report == json.loads(report_path.read_text())
    assert [2] == [s["users"] for s in report["scenarios"]]
    assert "TICKETBOLT_ASSISTANT_RATE_PER_MINUTE" in report["settings"]
    for scenario in report["scenarios"]:
        # A message left after a hand-off to a person expects no bot reply (agents answer).
        sent = scenario["messages"] + scenario["messages_after_handoff"]
        assert scenario["users"] * report["messages_per_user"] == sent
        assert scenario["messages"] == scenario["replies"]
        assert 1.0 == scenario["success_rate"]
        assert 0 <= scenario["cache_hit_rate"] <= 1
        assert {"intents", "kb", "responses"} <= set(scenario["cache_layers"])
    assert report["passed"] is True


def test_intents_is_reachable_with_its_own_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    """The dispatcher hands the arguments to bench/intents.py's own parser."""
    assert 0 == bench_main(["intents", "--help"])

    assert "--data-dir" in capsys.readouterr().out


def test_unknown_benchmark_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert 2 == bench_main(["nonsense"])

    assert "ingest" in capsys.readouterr().err


def test_retention_times_scrapes_and_purges_every_old_done_job() -> None:
    """The scrape is timed at both sizes, and the purge removes exactly the old done jobs."""
    report = run_bench("retention")
    assert [100, 2_000] == [step["done_jobs"] for step in report["steps"]]
    assert 2_000 == report["purge"]["removed"]["jobs"]
    for step in report["steps"]:
        assert step["scrape_ms"] > 0
        assert step["full_count_ms"] > 0


def test_worker_claims_at_each_backlog_and_runs_every_drained_job_once() -> None:
    """Each step times a claim and the real worker runs at least the jobs asked for (those in
    flight when it stops finish too): done, none failed."""
    report = run_bench("worker")
    assert ("worker", "sqlite") == (report["benchmark"], report["database"])
    assert [20, 200] == [step["queued"] for step in report["steps"]]
    for step in report["steps"]:
        assert 0 == step["failed"]
        assert min(step["queued"], 50) == step["jobs_run"]
        assert step["jobs_run"] <= step["done"] <= step["queued"]
        assert {"claim_ms", "jobs_per_second", "cpu_ms_per_job"} <= set(step)
    assert {"claim_limit", "lane_slots", "repeats", "drained_per_step"} == set(report["settings"])


def test_ack_runs_the_worker_off_inline_and_as_a_child_with_the_settings_given() -> None:
    """Each placement acknowledges every event, the worker in the server's process makes
    tickets meanwhile (a child may still be starting in a run this short), and a `--set`
    setting is named in the report."""
    require_service("Redis", "127.0.0.1", 6379)
    report = run_bench("ack", "--set", "TICKETBOLT_WORKER_NICE=3")
    assert "3" == report["settings_changed"]["TICKETBOLT_WORKER_NICE"]
    runs = report["runs"]
    assert ["inline", "off", "process"] == sorted(runs)
    assert [0, 0, 0] == [run["errors"] for run in runs.values()]
    assert 0 == runs["off"]["tickets_during_run"]
    assert runs["inline"]["tickets_during_run"] > 0
