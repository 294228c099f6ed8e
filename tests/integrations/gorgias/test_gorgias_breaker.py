"""The circuit breaker around the client: fail fast during an outage, recover after it."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import CollectorRegistry

from ticketbolt.integrations.gorgias import (
    GorgiasCircuitOpen,
    GorgiasClient,
    GorgiasMetrics,
    GorgiasNotFound,
    GorgiasUnavailable,
)
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator
from ticketbolt.integrations.resilience import CircuitBreaker


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def no_sleep(_seconds: float) -> None:
    """Retries in these tests need no real pause."""


async def test_outage_opens_then_recovery_closes(
    http: httpx.AsyncClient, emulator: GorgiasEmulator
) -> None:
    """Three failed requests open the circuit; calls then fail fast without reaching Gorgias;
    after the outage and the cool-down one probe closes the circuit again."""
    clock = FakeClock()
    breaker = CircuitBreaker(name="gorgias", failure_threshold=3, reset_timeout=30.0, clock=clock)
    client = GorgiasClient(http, breaker=breaker, max_attempts=5, sleep=no_sleep)
    emulator.faults.outage = True

    with pytest.raises(GorgiasCircuitOpen):
        await client.get_account()  # attempts 1-3 fail, the 4th is refused by the breaker
    assert "open" == client.breaker_state
    received = len(emulator.requests)
    for _ in range(5):
        with pytest.raises(GorgiasUnavailable):
            await client.get_account()
    assert 3 == received == len(emulator.requests)

    emulator.faults.outage = False
    clock.now += 30.0
    assert "half_open" == client.breaker_state
    assert "acme" == (await client.get_account()).domain
    assert "closed" == client.breaker_state


async def test_failed_probe_reopens(http: httpx.AsyncClient, emulator: GorgiasEmulator) -> None:
    """A probe that fails while the outage continues opens the circuit for another cool-down."""
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10.0, clock=clock)
    client = GorgiasClient(http, breaker=breaker, max_attempts=1)
    emulator.faults.outage = True
    with pytest.raises(GorgiasUnavailable):
        await client.get_account()

    clock.now += 10.0
    with pytest.raises(GorgiasUnavailable):
        await client.get_account()

    assert "open" == client.breaker_state
    assert 2 == len(emulator.requests)


async def test_client_errors_do_not_open_the_circuit(http: httpx.AsyncClient) -> None:
    """404s mean Gorgias is up: ten of them leave the circuit closed."""
    client = GorgiasClient(http, breaker=CircuitBreaker(failure_threshold=2))

    for n in range(10):
        with pytest.raises(GorgiasNotFound):
            await client.get_ticket(1000 + n)

    assert "closed" == client.breaker_state


async def test_circuit_gauge_follows_the_breaker(
    http: httpx.AsyncClient, emulator: GorgiasEmulator
) -> None:
    """The circuit-state gauge reads 0 closed and 2 open."""
    registry = CollectorRegistry()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=60.0)
    client = GorgiasClient(http, breaker=breaker, max_attempts=1, metrics=GorgiasMetrics(registry))
    gauge = "ticketbolt_gorgias_circuit_state"
    before = registry.get_sample_value(gauge)
    emulator.faults.outage = True

    with pytest.raises(GorgiasUnavailable):
        await client.get_account()

    assert (0.0, 2.0) == (before, registry.get_sample_value(gauge))
