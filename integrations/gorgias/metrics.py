"""Prometheus metrics of the Gorgias client, registered on a registry the caller owns."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ticketbolt.integrations.resilience import CircuitState

_CIRCUIT_VALUES: dict[CircuitState, int] = {"closed": 0, "half_open": 1, "open": 2}


class GorgiasMetrics:
    """Requests, latency, rate-limit waits, retries and circuit state of one Gorgias client."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "ticketbolt_gorgias_requests",
            "Gorgias API requests by operation and outcome.",
            ["operation", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "ticketbolt_gorgias_request_duration_seconds",
            "Latency of single Gorgias HTTP requests (each attempt).",
            ["operation"],
            buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry,
        )
        self.rate_limit_waits = Counter(
            "ticketbolt_gorgias_rate_limit_waits",
            "Requests that waited for the client-side rate limiter.",
            registry=registry,
        )
        self.rate_limit_wait_seconds = Counter(
            "ticketbolt_gorgias_rate_limit_wait_seconds",
            "Seconds spent waiting for the client-side rate limiter.",
            registry=registry,
        )
        self.retries = Counter(
            "ticketbolt_gorgias_retries",
            "Retried Gorgias attempts by operation and reason.",
            ["operation", "reason"],
            registry=registry,
        )
        self.circuit_state = Gauge(
            "ticketbolt_gorgias_circuit_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
            registry=registry,
        )

    def observe_request(self, operation: str, outcome: str, seconds: float | None) -> None:
        self.requests.labels(operation, outcome).inc()
        if seconds is not None:
            self.latency.labels(operation).observe(seconds)

    def observe_wait(self, seconds: float) -> None:
        if seconds > 0:
            self.rate_limit_waits.inc()
            self.rate_limit_wait_seconds.inc(seconds)

    def observe_retry(self, operation: str, reason: str) -> None:
        self.retries.labels(operation, reason).inc()

    def set_circuit_state(self, _old: CircuitState, new: CircuitState) -> None:
        """Breaker listener signature, so it can be passed to `CircuitBreaker.subscribe`."""
        self.circuit_state.set(_CIRCUIT_VALUES[new])
