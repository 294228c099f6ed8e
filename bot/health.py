"""Dependency checks for /readyz, `ticketbolt check` and `/ticketbolt status`, run concurrently."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from ticketbolt.bot.logs import redact_text

CheckFn = Callable[[], Awaitable[str]]


class Degraded(Exception):
    """The dependency answers but not fully (e.g. the cache fell back to memory)."""


class NotConfigured(Exception):
    """Nothing is set for this dependency, on purpose: it is off, not failing."""


class Misconfigured(Exception):
    """Part of a dependency is set and part is missing; the message names what is missing."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    state: str  # ok | degraded | down | off (not configured)
    latency_ms: float | None  # None when nothing was reached
    detail: str
    setting: str = ""  # the variable to look at when it is down

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Check:
    name: str
    run: CheckFn
    required: bool  # readiness depends on it
    setting: str = ""


class HealthChecker:
    """Runs every check with its own timeout; a result is reused for `cache_seconds`."""

    def __init__(self, checks: list[Check], *, timeout: float = 2.0, cache_seconds: float = 3.0):
        self._checks = checks
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._last: tuple[float, list[CheckResult]] | None = None
        self._lock = asyncio.Lock()

    async def _one(self, check: Check) -> CheckResult:
        started = time.perf_counter()
        try:
            detail = await asyncio.wait_for(check.run(), timeout=self._timeout)
            state = "ok"
        except Degraded as exc:
            detail, state = str(exc), "degraded"
        except NotConfigured as exc:
            detail, state = str(exc), "off"
        except Misconfigured as exc:
            detail, state = str(exc), "down"
        except TimeoutError:
            detail, state = f"no answer within {self._timeout:g}s", "down"
        except Exception as exc:
            detail, state = redact_text(f"{type(exc).__name__}: {exc}")[:300], "down"
        reached = state in ("ok", "degraded") or detail.startswith("no answer")
        latency = round((time.perf_counter() - started) * 1000, 1) if reached else None
        return CheckResult(
            check.name,
            state != "down",
            state,
            latency,
            detail,
            check.setting if state not in ("ok",) else "",
        )

    async def run(self, *, fresh: bool = False) -> list[CheckResult]:
        async with self._lock:
            now = time.monotonic()
            if not fresh and self._last and now - self._last[0] < self._cache_seconds:
                return self._last[1]
            results = list(await asyncio.gather(*(self._one(c) for c in self._checks)))
            self._last = (time.monotonic(), results)
            return results

    def ready(self, results: list[CheckResult]) -> bool:
        required = {c.name for c in self._checks if c.required}
        return all(r.ok for r in results if r.name in required)
