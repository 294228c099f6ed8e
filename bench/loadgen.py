"""Open-loop load generator: signed `reaction_added` events at fixed rates, in its own process.

`python -m ticketbolt.bench.loadgen` reads a JSON spec on stdin and prints one JSON answer on
stdout:

    {"url": ".../slack/events", "secret": "...", "team_id": "T…", "app_id": "A…",
     "bot_user_id": "U…", "prefix": "run1", "connections": 256, "server_pid": 1234,
     "channel": "C…", "user": "U…", "ts_start_us": 1700000000000000, "ts_step_us": 1,
     "steps": [{"rate": 500, "seconds": 3, "role": "warmup" | "fixed" | "ramp"}, …],
     "stop_when": {"p99_ms": 100}}

Each step sends `rate × seconds` events on schedule whatever the answers (open loop), so a slow
server shows up as latency rather than as a slower sender. Latency is timed from the moment a
request is handed to the pooled client until its whole answer is read. The ramp stops after the
first `ramp` step that misses `stop_when` (errors, p99, or a sustained rate below 90 % of offered).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiohttp

from ticketbolt.bench.stats import cpu_seconds, latency_ms, log
from ticketbolt.integrations.slack.emulator.events import signed_headers


def reaction_envelope(spec: dict[str, Any], n: int) -> str:
    """A distinct 🎫 reaction on a distinct message: a new event id and a new job each time.

    Message n has ts `ts_start_us + n × ts_step_us` (microseconds) in `channel`, so a caller
    can seed those messages in the Slack emulator for a worker to read.
    """
    micros = spec.get("ts_start_us", 1_700_000_000_000_000) + n * spec.get("ts_step_us", 1)
    ts = f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
    event = {
        "type": "reaction_added",
        "user": spec.get("user", "U0BENCHAGENT"),
        "reaction": "ticket",
        "item": {"type": "message", "channel": spec.get("channel", "C0BENCH"), "ts": ts},
        "event_ts": ts,
    }
    event_id = f"Ev{spec['prefix']}{n:09d}"
    return json.dumps(
        {
            "token": "bench",
            "team_id": spec["team_id"],
            "api_app_id": spec["app_id"],
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": spec["team_id"],
                    "user_id": spec["bot_user_id"],
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
    )


async def run_step(
    http: aiohttp.ClientSession, spec: dict[str, Any], rate: float, seconds: float, first: int
) -> dict[str, Any]:
    count = max(1, int(rate * seconds))
    # Signing happens before the clock starts: the sender must not be the bottleneck.
    requests = []
    for n in range(first, first + count):
        body = reaction_envelope(spec, n)
        headers = {"Content-Type": "application/json", **signed_headers(spec["secret"], body)}
        requests.append((body.encode(), headers))
    latencies: list[float] = []
    lateness: list[float] = []
    errors: dict[str, int] = {}
    finished: list[float] = []

    async def send(body: bytes, headers: dict[str, str]) -> None:
        t0 = time.perf_counter()
        try:
            async with http.post(spec["url"], data=body, headers=headers) as answer:
                await answer.read()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return
        t1 = time.perf_counter()
        if status != 200:
            errors[str(status)] = errors.get(str(status), 0) + 1
            return
        latencies.append(t1 - t0)
        finished.append(t1)

    tasks: list[asyncio.Task[None]] = []
    server_pid = spec.get("server_pid")
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    start = time.perf_counter()
    interval = 1.0 / rate
    i = 0
    while i < count:
        now = time.perf_counter()
        # Launch everything due by now; the event loop wakes about once a millisecond.
        while i < count and start + i * interval <= now:
            lateness.append(now - (start + i * interval))
            tasks.append(asyncio.create_task(send(*requests[i])))
            i += 1
        if i < count:
            await asyncio.sleep(max(0.0, start + i * interval - time.perf_counter()))
    await asyncio.gather(*tasks)
    cpu = cpu_seconds(server_pid) - cpu_before if server_pid else 0.0
    elapsed = (max(finished) if finished else time.perf_counter()) - start
    ok = len(latencies)
    return {
        "offered_rate": rate,
        "sent": count,
        "ok": ok,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "seconds": round(elapsed, 3),
        "sustained_rate": round(ok / elapsed, 1) if elapsed > 0 else 0.0,
        "send_lag_p99_ms": latency_ms(lateness)["p99_ms"],
        # The server's CPU per event holds steadier than latency on a busy machine.
        "server_cpu_ms_per_event": round(cpu * 1000 / count, 3),
        "server_cpu_share": round(cpu / elapsed, 3) if elapsed > 0 else 0.0,
        **latency_ms(latencies),
    }


async def settle(pid: int | None, limit: float = 20.0) -> None:
    """Wait until the server is idle again (under 10 % of a core), so a backlog left by one step
    does not count against the next."""
    if not pid:
        return
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(0.2)
        if cpu_seconds(pid) - before < 0.02:
            return


def passed(step: dict[str, Any], stop_when: dict[str, Any]) -> bool:
    return bool(
        step["errors"] == 0
        and step["p99_ms"] < stop_when.get("p99_ms", 100.0)
        and step["sustained_rate"] >= 0.9 * step["offered_rate"]
    )


async def main_async(spec: dict[str, Any]) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=spec.get("connections", 256), force_close=False)
    timeout = aiohttp.ClientTimeout(total=spec.get("timeout", 10.0))
    results: list[dict[str, Any]] = []
    sent = 0
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        for step in spec["steps"]:
            result = await run_step(http, spec, float(step["rate"]), float(step["seconds"]), sent)
            sent += result["sent"]
            result["role"] = step.get("role", "ramp")
            log(
                f"  {result['offered_rate']:>6.0f}/s offered: {result['sustained_rate']:>7.1f}/s "
                f"ok {result['ok']}/{result['sent']}  p50 {result['p50_ms']} ms  "
                f"p99 {result['p99_ms']} ms" + f"  ({result['role']})"
            )
            results.append(result)
            if result["role"] == "ramp" and not passed(result, spec.get("stop_when", {})):
                break
            await asyncio.sleep(step.get("pause", 0.5))
            await settle(spec.get("server_pid"))
    return {"steps": results, "events_sent": sent}


def main() -> None:
    spec = json.loads(sys.stdin.read())
    print(json.dumps(asyncio.run(main_async(spec))))


if __name__ == "__main__":
    main()
