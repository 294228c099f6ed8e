"""One request to Gorgias: breaker, rate limiter, error translation, metrics and retries."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from ticketbolt.integrations.gorgias.errors import (
    GorgiasCircuitOpen,
    GorgiasConflict,
    GorgiasError,
    GorgiasInFlight,
    GorgiasNotFound,
    GorgiasRateLimited,
    GorgiasRejected,
    GorgiasUnauthorized,
    GorgiasUnavailable,
    error_from_response,
)
from ticketbolt.integrations.gorgias.metrics import GorgiasMetrics
from ticketbolt.integrations.gorgias.models import RateLimitUsage
from ticketbolt.integrations.resilience import (
    CircuitBreaker,
    CircuitOpen,
    CircuitState,
    RateLimiter,
    note_write,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

_OUTCOMES: tuple[tuple[type[GorgiasError], str], ...] = (
    (GorgiasCircuitOpen, "circuit_open"),
    (GorgiasUnavailable, "unavailable"),
    (GorgiasRateLimited, "rate_limited"),
    (GorgiasUnauthorized, "unauthorized"),
    (GorgiasNotFound, "not_found"),
    (GorgiasConflict, "conflict"),
    (GorgiasRejected, "rejected"),
)


# We stopped waiting while Gorgias may still be working on the request. (A connection Gorgias
# closed without an answer is different: its side is done, so a look-up now sees what it did.)
STILL_WORKING = (httpx.ReadTimeout, httpx.WriteTimeout)


def outcome_of(error: GorgiasError) -> str:
    return next((name for kind, name in _OUTCOMES if isinstance(error, kind)), "error")


def is_transient(error: BaseException) -> bool:
    """Worth another attempt: the upstream failed or throttled, and the breaker let us through."""
    return isinstance(error, GorgiasUnavailable | GorgiasRateLimited) and not isinstance(
        error, GorgiasCircuitOpen
    )


class Transport:
    """Sends requests through the breaker and limiter; retries only what it is told is safe."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        limiter: RateLimiter | None,
        breaker: CircuitBreaker | None,
        max_attempts: int,
        backoff_base: float,
        backoff_max: float,
        metrics: GorgiasMetrics | None,
        sleep: Sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.http = http
        self.limiter = limiter
        self.breaker = breaker
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.metrics = metrics
        self.sleep = sleep
        self.last_rate_limit: RateLimitUsage | None = None
        if breaker is not None and metrics is not None:
            breaker.subscribe(metrics.set_circuit_state)
            metrics.set_circuit_state(breaker.state, breaker.state)

    @property
    def breaker_state(self) -> CircuitState:
        return self.breaker.state if self.breaker is not None else "closed"

    async def send(
        self,
        op: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Exactly one HTTP attempt; returns the decoded JSON body (None when empty)."""
        try:
            if self.breaker is not None:
                self.breaker.before_call()
        except CircuitOpen as exc:
            self._count(op, "circuit_open", None)
            raise GorgiasCircuitOpen(str(exc)) from exc
        if self.limiter is not None:
            waited = await self.limiter.acquire()
            if self.metrics is not None:
                self.metrics.observe_wait(waited)
        if method != "GET":
            await note_write()
        started = time.perf_counter()
        try:
            response = await self.http.request(method, path, params=params, json=json)
        except httpx.TransportError as exc:
            self._upstream_failed()
            self._count(op, "unavailable", time.perf_counter() - started)
            kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection error"
            if isinstance(exc, STILL_WORKING):
                raise GorgiasInFlight(f"{kind} awaiting the answer: {type(exc).__name__}") from exc
            raise GorgiasUnavailable(f"{kind}: {type(exc).__name__}") from exc
        elapsed = time.perf_counter() - started
        self._observe_rate_limit(response)
        if response.status_code >= 500:
            self._upstream_failed()
        elif self.breaker is not None:
            self.breaker.record_success()  # any non-5xx answer proves the upstream is alive
        if not response.is_success:
            error = error_from_response(response)
            self._count(op, outcome_of(error), elapsed)
            raise error
        self._count(op, "ok", elapsed)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise GorgiasUnavailable("Gorgias answered with a body that is not JSON") from exc

    async def call(
        self,
        op: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        retry: bool = True,
    ) -> Any:
        """`send` with retries; only for requests that are safe to repeat."""

        async def once() -> Any:
            return await self.send(op, method, path, params=params, json=json)

        return await self.retrying(op, once) if retry else await once()

    async def first_item(
        self, op: str, path: str, params: dict[str, Any], *, retry: bool = True
    ) -> dict[str, Any] | None:
        """The first item of a filtered list, or None."""
        data = await self.call(op, "GET", path, params={**params, "limit": 1}, retry=retry)
        items = data.get("data") if isinstance(data, dict) else None
        return items[0] if items else None

    async def retrying(
        self,
        op: str,
        attempt: Callable[[], Awaitable[T]],
        retry_on: Callable[[BaseException], bool] = is_transient,
    ) -> T:
        """Run `attempt` until it succeeds, with jittered backoff honouring `Retry-After`."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(retry_on),
            sleep=self.sleep,
            before_sleep=self._before_sleep(op),
            reraise=True,
        )
        async for try_ in retrying:
            with try_:
                return await attempt()
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def create_once(
        self,
        op: str,
        create: Callable[[], Awaitable[T]],
        find: Callable[[], Awaitable[T | None]],
    ) -> T:
        """Create something Gorgias cannot deduplicate, retrying without ever creating it twice.

        After a 5xx or a connection Gorgias closed without answering, the next attempt first
        looks the object up by its own key (`find`) and returns it when present: Gorgias is done
        with the request, so whatever it did is visible. A request we stopped waiting for
        (`GorgiasInFlight`, a timeout) may still be carried out after any look-up made now, so it
        is not retried here: the error goes to the job queue, which retries the job
        once that request has settled, looking it up first. A 429 is not ambiguous: Gorgias
        refused the request before doing anything.
        """
        ambiguous = False

        async def attempt() -> T:
            nonlocal ambiguous
            if ambiguous:
                found = await find()
                if found is not None:
                    return found
            try:
                return await create()
            except GorgiasUnavailable as exc:
                # Refused by our own breaker means nothing was sent, so nothing is in doubt.
                ambiguous = ambiguous or not isinstance(exc, GorgiasCircuitOpen)
                raise

        return await self.retrying(
            op, attempt, lambda exc: is_transient(exc) and not isinstance(exc, GorgiasInFlight)
        )

    async def paginate(
        self, op: str, path: str, params: dict[str, Any], *, retry: bool = True
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield the items of every page, following `meta.next_cursor` until it is null."""
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            query = {**params, "cursor": cursor} if cursor else params
            page = await self.call(op, "GET", path, params=query, retry=retry)
            if isinstance(page, list):  # a bare array (satisfaction-surveys' schema): one page
                for item in page:
                    yield item
                return
            for item in page.get("data") or []:
                yield item
            cursor = (page.get("meta") or {}).get("next_cursor")
            if not cursor:
                return
            if cursor in seen:
                raise GorgiasError(f"{op}: Gorgias returned a pagination cursor twice")
            seen.add(cursor)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, GorgiasRateLimited):
            return min(error.retry_after, self.backoff_max) + random.uniform(0, self.backoff_base)
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (state.attempt_number - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _before_sleep(self, op: str) -> Callable[[RetryCallState], None]:
        def log_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            reason = outcome_of(error) if isinstance(error, GorgiasError) else "error"
            if self.metrics is not None:
                self.metrics.observe_retry(op, reason)
            wait = state.next_action.sleep if state.next_action else 0.0
            logger.info(
                "gorgias %s attempt %d failed (%s); retrying in %.2fs",
                op,
                state.attempt_number,
                reason,
                wait,
            )

        return log_retry

    def _upstream_failed(self) -> None:
        if self.breaker is not None:
            self.breaker.record_failure()

    def _observe_rate_limit(self, response: httpx.Response) -> None:
        usage = RateLimitUsage.parse(response.headers.get("X-Gorgias-Account-Api-Call-Limit"))
        if usage is None:
            return
        self.last_rate_limit = usage
        if self.limiter is not None:
            self.limiter.observe(usage.used, usage.limit)

    def _count(self, op: str, outcome: str, seconds: float | None) -> None:
        if self.metrics is not None:
            self.metrics.observe_request(op, outcome, seconds)
