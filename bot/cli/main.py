"""The `ticketbolt` command line (also `python -m ticketbolt`): parsing and dispatch."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from ticketbolt import __version__
from ticketbolt.bench import usage as bench_usage
from ticketbolt.bot.logs import configure_logging
from ticketbolt.bot.settings import Settings, SettingsError, StartupError, load_settings

DESCRIPTION = (
    "Slack chat-ops for support teams on Gorgias. "
    "Start with `ticketbolt run` (the sandbox without Slack credentials); docs/ has the rest."
)


def _settings() -> Settings:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings.sandbox:
        try:
            from ticketbolt.bot.sandbox.run import run_sandbox

            return asyncio.run(run_sandbox(settings))
        except KeyboardInterrupt:  # Ctrl-C while still loading, before the sandbox handles it
            return 0
    problems = settings.problems()
    if problems:
        for variable, why in problems:
            print(f"ticketbolt: {variable}: {why}", file=sys.stderr)
        return 2
    from ticketbolt.bot.serve import serve

    asyncio.run(serve(settings))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    settings = _settings()
    from ticketbolt.bot.serve import work

    asyncio.run(work(settings, supervised=args.supervised))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    settings = _settings()
    from ticketbolt.bot.cli.ops import check

    return asyncio.run(check(settings))


def cmd_db(args: argparse.Namespace) -> int:
    settings = _settings()
    from ticketbolt.bot.cli.ops import db_upgrade

    return asyncio.run(db_upgrade(settings))


def cmd_jobs(args: argparse.Namespace) -> int:
    settings = _settings()
    from ticketbolt.bot.cli.ops import jobs

    return asyncio.run(jobs(settings, args.action, args.job_id, args.state))


def cmd_classify(args: argparse.Namespace) -> int:
    settings = _settings()
    from ticketbolt.bot.cli.ops import classify

    return asyncio.run(classify(settings, " ".join(args.text), as_json=args.json))


def cmd_intents_eval(args: argparse.Namespace) -> int:
    from ticketbolt.bot.cli.ops import intents_eval

    return intents_eval(
        args.examples,
        args.test,
        as_json=args.json,
        per_intent=args.per_intent,
        samples=args.samples,
        text_column=args.text_column,
        label_column=args.label_column,
        out_of_scope=args.out_of_scope,
        threshold=args.threshold,
        precision=args.precision,
        tier=args.tier,
    )


def cmd_gorgias(args: argparse.Namespace) -> int:
    settings = _settings()
    from ticketbolt.bot.cli.ops import register_webhook

    return asyncio.run(register_webhook(settings, args.url))


def cmd_bench(args: argparse.Namespace) -> int:
    from ticketbolt.bench import main as bench_main

    return int(bench_main([args.name, *args.rest] if args.name else []))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ticketbolt", description=DESCRIPTION)
    p.add_argument("--version", action="version", version=f"ticketbolt {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="serve Slack (or the sandbox without credentials)").set_defaults(
        func=cmd_run
    )
    worker = sub.add_parser("worker", help="run only the job worker and the SLA watchdog")
    # Set by `ticketbolt run` for its child: woken through stdin, stopped by its end.
    worker.add_argument("--supervised", action="store_true", help=argparse.SUPPRESS)
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("check", help="validate settings and reach every dependency").set_defaults(
        func=cmd_check
    )
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])
    db.set_defaults(func=cmd_db)
    jobs = sub.add_parser("jobs", help="inspect or retry queued jobs")
    jobs.add_argument("action", choices=["list", "retry"])
    jobs.add_argument("job_id", nargs="?", type=int)
    jobs.add_argument("--state", choices=["queued", "running", "done", "failed"])
    jobs.set_defaults(func=cmd_jobs)
    classify = sub.add_parser("classify", help="classify a customer message")
    classify.add_argument("text", nargs="+")
    classify.add_argument("--json", action="store_true")
    classify.set_defaults(func=cmd_classify)
    intents = sub.add_parser("intents", help="intent classifier tools")
    intents_sub = intents.add_subparsers(dest="intents_command", required=True)
    evaluate = intents_sub.add_parser(
        "eval", help="score the offline classifier (both tiers by default) on a test CSV"
    )
    evaluate.add_argument(
        "--examples", required=True, help="training CSV (text, intent), or an intents .yml file"
    )
    evaluate.add_argument("--test", required=True, help="test CSV (text, intent)")
    evaluate.add_argument("--text-column", help="the CSV column of messages (default: text)")
    evaluate.add_argument(
        "--label-column", help="the CSV column of intents (default: intent, label or category)"
    )
    evaluate.add_argument(
        "--per-intent", type=int, default=None, help="use only N examples per intent (few-shot)"
    )
    evaluate.add_argument(
        "--samples",
        type=int,
        default=1,
        help="with --per-intent: draw K random samples and report mean ± spread",
    )
    evaluate.add_argument(
        "--out-of-scope",
        help="CSV of messages matching no intent: OOS recall and false hand-offs",
    )
    evaluate.add_argument(
        "--threshold", type=float, help="a fixed confidence threshold instead of the fitted one"
    )
    evaluate.add_argument(
        "--precision",
        type=float,
        default=0.97,
        help="target precision the threshold is fitted for (TICKETBOLT_INTENT_PRECISION)",
    )
    evaluate.add_argument(
        "--tier",
        choices=["1", "2", "cascade"],
        default="cascade",
        help="score tier 1 (wordllama) alone, tier 2 (the transformer, ticketbolt[accurate]) "
        "alone, or the cascade the assistant runs offline (default)",
    )
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(func=cmd_intents_eval)
    gorgias = sub.add_parser("gorgias", help="Gorgias set-up")
    gorgias_sub = gorgias.add_subparsers(dest="gorgias_command", required=True)
    hook = gorgias_sub.add_parser(
        "register-webhook", help="create or update the HTTP integration that calls the bot"
    )
    hook.add_argument("--url", required=True, help="public URL of POST /gorgias/webhook")
    hook.set_defaults(func=cmd_gorgias)
    bench = sub.add_parser(
        "bench",
        help="run a benchmark (see docs/performance.md)",
        description=bench_usage(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("name", nargs="?", help="the benchmark; omit it to list them")
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    bench.set_defaults(func=cmd_bench)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)  # --help and --version end here, before heavy imports
    from ticketbolt.bot.assistant_setup import AssistantSetupError

    try:
        result: Any = args.func(args)
    except KeyboardInterrupt:  # Ctrl-C before a command installed its own handling
        return 130
    except StartupError as exc:
        print(f"ticketbolt: {exc}", file=sys.stderr)
        return 1
    except (SettingsError, AssistantSetupError) as exc:
        # Configuration errors name the variable to fix; a traceback would only hide it.
        print(f"ticketbolt: {exc}", file=sys.stderr)
        return 1 if args.command == "check" else 2
    return int(result or 0)
