"""The work behind the operator commands: check, db upgrade, jobs, classify, webhooks."""

from __future__ import annotations

import sys

from ticketbolt.bot.cli.output import print_json, print_table
from ticketbolt.bot.container import open_runtime
from ticketbolt.bot.logs import redact_text
from ticketbolt.bot.serve import migrate
from ticketbolt.bot.settings import Settings


async def check(settings: Settings) -> int:
    """Print one row per dependency; exit 1 naming the setting of anything that is down."""
    failures = 0
    for variable, why in settings.problems():
        if not settings.sandbox:
            print(f"config: {variable}: {why}", file=sys.stderr)
            failures += 1
    try:
        async with open_runtime(settings) as runtime:
            results = await runtime.health.run(fresh=True)
    except Exception as exc:  # a client that cannot even be built is a configuration error
        print(f"ticketbolt check: could not start: {redact_text(str(exc))}", file=sys.stderr)
        return 1
    rows = [
        (r.name, r.state, _latency(r.latency_ms), r.detail, r.setting if r.state != "ok" else "")
        for r in results
    ]
    print_table(rows, ("dependency", "state", "latency", "detail", "setting to fix"))
    for result in results:
        # Down is a failure; so is a configured Redis the bot had to fall back from.
        redis_lost = result.name == "cache" and result.state == "degraded" and settings.redis_url
        if result.state == "down" or redis_lost:
            print(f"{result.name} is {result.state}: check {result.setting}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


def _latency(ms: float | None) -> str:
    return "" if ms is None else f"{ms:.1f} ms"


async def db_upgrade(settings: Settings) -> int:
    async with open_runtime(settings) as runtime:
        await migrate(runtime)
    print(f"database schema is current ({runtime.engine.dialect.name})")
    return 0


async def jobs(settings: Settings, action: str, job_id: int | None, state: str | None) -> int:
    async with open_runtime(settings) as runtime:
        await migrate(runtime)
        if action == "retry":
            if job_id is None:
                print(
                    "ticketbolt jobs retry: give the job id (see 'ticketbolt jobs list "
                    "--state failed')",
                    file=sys.stderr,
                )
                return 2
            if not await runtime.queue.requeue(job_id):
                print(f"job {job_id} is not a failed job", file=sys.stderr)
                return 1
            print(f"job {job_id} queued again")
            return 0
        listed = await runtime.queue.list(state)
        print_table(
            [
                (str(j.id), j.kind, j.state, str(j.attempts), (j.last_error or "")[:60])
                for j in listed
            ],
            ("id", "kind", "state", "attempts", "last error"),
        )
        print_json(await runtime.queue.stats())
    return 0


async def classify(settings: Settings, text: str, *, as_json: bool) -> int:
    from ticketbolt.bot.assistant_setup import build_cascade

    async with build_cascade(settings) as cascade:
        decision = await cascade.decide(text)
    result = {
        "intent": decision.intent,
        "confidence": round(decision.confidence, 4),
        "stage": decision.stage,
    }
    if as_json:
        print_json(result)
    else:
        print(f"{decision.intent}\t{decision.confidence:.3f}\t{decision.stage}")
    return 0


def intents_eval(
    examples: str,
    test: str,
    *,
    as_json: bool,
    per_intent: int | None,
    samples: int = 1,
    text_column: str | None = None,
    label_column: str | None = None,
    out_of_scope: str | None = None,
    threshold: float | None = None,
    precision: float = 0.97,
    tier: str = "cascade",
) -> int:
    from ticketbolt.integrations.intents.evaluate import EvalDataError, format_report, run_eval

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        report = run_eval(
            examples,
            test,
            per_intent=per_intent,
            samples=samples,
            text_column=text_column,
            label_column=label_column,
            out_of_scope=out_of_scope,
            threshold=threshold,
            precision=precision,
            progress=progress,
            tier=tier,
        )
    except (EvalDataError, OSError) as exc:
        print(f"ticketbolt intents eval: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print_json(report)
    else:
        print(format_report(report))
    return 0


async def register_webhook(settings: Settings, url: str) -> int:
    if settings.gorgias_webhook_token is None:
        print(
            "set TICKETBOLT_GORGIAS_WEBHOOK_TOKEN first: Gorgias sends it back in "
            "X-Ticketbolt-Token",
            file=sys.stderr,
        )
        return 2
    async with open_runtime(settings) as runtime:
        if runtime.gorgias is None:
            print(
                "Gorgias is not configured: set GORGIAS_ACCOUNT, GORGIAS_USERNAME and "
                "GORGIAS_API_KEY",
                file=sys.stderr,
            )
            return 2
        integration = await runtime.gorgias.register_http_integration(
            "ticketbolt",
            url,
            {"X-Ticketbolt-Token": settings.gorgias_webhook_token.get_secret_value()},
        )
    print(f"HTTP integration {integration.id} calls {url}")
    return 0
