"""Benchmark: requests/s through the pooled Gorgias client versus a new connection per request."""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import httpx

from ticketbolt.integrations.gorgias import GorgiasClient, build_http_client

USERNAME, API_KEY = "bench@example.com", "bench-key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def wait_until_up(base_url: str, deadline: float) -> None:
    async with httpx.AsyncClient(base_url=base_url, auth=(USERNAME, API_KEY)) as probe:
        while True:
            try:
                await probe.get("account")
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)


async def run(
    call: Callable[[], Awaitable[None]], requests: int, concurrency: int, max_seconds: float
) -> dict[str, float]:
    """Issue up to `requests` calls from `concurrency` workers, stopping at `max_seconds`."""
    latencies: list[float] = []
    started = time.perf_counter()
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0 and time.perf_counter() - started < max_seconds:
            remaining -= 1
            t0 = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 3),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
    }


async def bench(args: argparse.Namespace) -> dict[str, object]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/api/"
    emulator = "ticketbolt.integrations.gorgias.emulator"
    command = [sys.executable, "-m", emulator, "--port", str(port),
               "--rate-limit", "off", "--latency-ms", str(args.latency_ms),
               "--username", USERNAME, "--api-key", API_KEY]  # fmt: skip
    # The emulator runs in its own process so that it does not share our event loop.
    server = await asyncio.create_subprocess_exec(*command, stdout=subprocess.DEVNULL)
    try:
        await wait_until_up(base_url, time.monotonic() + 10)
        async with build_http_client(base_url, USERNAME, API_KEY) as http:
            client = GorgiasClient(http)

            async def pooled() -> None:
                await client.get_account()

            await run(pooled, 50, args.concurrency, 5)  # warm the pool and the emulator
            pooled_result = await run(pooled, args.requests, args.concurrency, args.max_seconds)

        # Same client, but no connection is kept: every request opens a new TCP connection.
        no_keepalive = httpx.AsyncClient(
            base_url=base_url,
            auth=httpx.BasicAuth(USERNAME, API_KEY),
            limits=httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=0),
        )
        async with no_keepalive:
            single_use = GorgiasClient(no_keepalive)

            async def new_connection() -> None:
                await single_use.get_account()

            fresh = await run(new_connection, args.requests, args.concurrency, args.max_seconds)

        # The anti-pattern seen in the wild: a whole new httpx client (TLS context, pool) per call.
        async def new_client() -> None:
            async with build_http_client(base_url, USERNAME, API_KEY) as one_off:
                await GorgiasClient(one_off).get_account()

        per_client = await run(new_client, args.requests, args.concurrency, args.max_seconds)
    finally:
        server.terminate()
        await server.wait()
    return {
        "benchmark": "gorgias_pool",
        "emulator_latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        "pooled": pooled_result,
        "connection_per_request": fresh,
        "client_per_request": per_client,
        "speedup_vs_connection": round(
            pooled_result["requests_per_second"] / fresh["requests_per_second"], 2
        ),
        "speedup_vs_client": round(
            pooled_result["requests_per_second"] / per_client["requests_per_second"], 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000, help="per variant")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=5.0, help="added by the emulator")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="per variant")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = asyncio.run(bench(args))
    if args.json:
        print(json.dumps(result))
        return
    for name in ("pooled", "connection_per_request", "client_per_request"):
        figures = result[name]
        assert isinstance(figures, dict)
        print(f"{name:>24}: {figures['requests_per_second']:>8} req/s  "
              f"p50 {figures['p50_ms']} ms  p99 {figures['p99_ms']} ms  "
              f"({figures['requests']} requests in {figures['seconds']} s)")  # fmt: skip
    print(f"{'pooled speed-up':>24}: {result['speedup_vs_connection']}x over a connection per "
          f"request, {result['speedup_vs_client']}x over a client per request")  # fmt: skip


if __name__ == "__main__":
    main()
