"""The service's Prometheus metrics, held in one registry the composition root owns."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """Counters and gauges of the Slack path, the job queue and the caches."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "ticketbolt_http_requests", "HTTP requests served", ["route", "status"], registry=r
        )
        self.events_received = Counter(
            "ticketbolt_slack_events_received", "Slack events received", ["type"], registry=r
        )
        self.events_deduplicated = Counter(
            "ticketbolt_slack_events_deduplicated",
            "Slack deliveries dropped as retries of an accepted event",
            registry=r,
        )
        self.ack_latency = Histogram(
            "ticketbolt_slack_ack_seconds",
            "Time from receiving a Slack request to answering it",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.jobs = Counter(
            "ticketbolt_jobs", "Jobs finished by kind and outcome", ["kind", "outcome"], registry=r
        )
        self.job_seconds = Histogram(
            "ticketbolt_job_seconds", "Job run time by kind", ["kind"], registry=r
        )
        self.queue_depth = Gauge(
            "ticketbolt_queue_jobs", "Jobs in the durable queue by state", ["state"], registry=r
        )
        self.queue_oldest = Gauge(
            "ticketbolt_queue_oldest_queued_seconds", "Age of the oldest queued job", registry=r
        )
        self.cache_requests = Counter(
            "ticketbolt_cache_requests",
            "Cache lookups by layer and result",
            ["layer", "result"],
            registry=r,
        )
        self.cache_hit_rate = Gauge(
            "ticketbolt_cache_hit_rate", "Hit rate by cache layer", ["layer"], registry=r
        )
        self.cache_tokens_saved = Gauge(
            "ticketbolt_cache_tokens_saved", "LLM tokens saved by cache hits", ["layer"], registry=r
        )
        self.dependency_up = Gauge(
            "ticketbolt_dependency_up",
            "1 when a dependency answered its last check",
            ["name"],
            registry=r,
        )
        self.socket_state = Gauge(
            "ticketbolt_slack_socket_state",
            "1 for the Socket Mode connection's state: connecting, connected or reconnecting",
            ["state"],
            registry=r,
        )
        self.socket_reconnects = Counter(
            "ticketbolt_slack_socket_reconnects",
            "Socket Mode connections replaced, by reason: dropped, stalled or refresh",
            ["reason"],
            registry=r,
        )
        self.assistant_messages = Counter(
            "ticketbolt_assistant_messages",
            "Assistant messages by stage and outcome",
            ["stage", "outcome"],
            registry=r,
        )
        self.slack_limits = SlackLimitMetrics(r)
        self.sla = SlaMetrics(r)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class SlaMetrics:
    """The SLA watchdog (handlers/sla_watchdog.py): open tickets per policy, what it posted, and
    its Gorgias calls against its budget (TICKETBOLT_SLA_API_SHARE of the allowance)."""

    STATES = ("due", "warned", "breached")

    def __init__(self, registry: CollectorRegistry) -> None:
        self.tickets = Gauge(
            "ticketbolt_sla_tickets",
            "Open tickets with SLA clocks per policy: due (tracked), warned, breached",
            ["policy", "state"],
            registry=registry,
        )
        self.notices = Counter(
            "ticketbolt_sla_notices",
            "SLA warnings and breaches decided, by policy, clock and stage",
            ["policy", "clock", "stage"],
            registry=registry,
        )
        self.api_calls = Counter(
            "ticketbolt_sla_api_calls", "Gorgias calls the SLA watchdog made", registry=registry
        )
        self.api_calls_last_run = Gauge(
            "ticketbolt_sla_api_calls_last_run",
            "Gorgias calls the SLA watchdog made in its last run",
            registry=registry,
        )
        self.api_budget = Gauge(
            "ticketbolt_sla_api_budget_per_run",
            "Gorgias calls the SLA watchdog may make per run (its share of the allowance)",
            registry=registry,
        )
        self._policies: set[str] = set()

    def decided(self, policy: str, clock: str, stage: str) -> None:
        self.notices.labels(policy, clock, stage).inc()

    def tracked(self, counts: dict[str, dict[str, int]]) -> None:
        # A policy with no open ticket left reads 0, not its last value.
        for policy in self._policies | set(counts):
            for state in self.STATES:
                self.tickets.labels(policy, state).set(counts.get(policy, {}).get(state, 0))
        self._policies |= set(counts)

    def api_used(self, calls: int, budget: int) -> None:
        self.api_calls.inc(calls)
        self.api_calls_last_run.set(calls)
        self.api_budget.set(budget)


class SlackLimitMetrics:
    """What the client side of Slack's rate limits did, per Web API method."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.rate_limited_total = Counter(
            "ticketbolt_slack_rate_limited",
            "HTTP 429 answers from Slack by method",
            ["method"],
            registry=registry,
        )
        self.waits = Counter(
            "ticketbolt_slack_rate_limit_waits",
            "Slack calls that waited inline for the client-side limiter, by method",
            ["method"],
            registry=registry,
        )
        self.wait_seconds = Counter(
            "ticketbolt_slack_rate_limit_wait_seconds",
            "Seconds Slack calls waited inline for the client-side limiter, by method",
            ["method"],
            registry=registry,
        )
        self.deferrals = Counter(
            "ticketbolt_slack_deferrals",
            "Jobs rescheduled because a Slack method's allowance was spent, by method",
            ["method"],
            registry=registry,
        )

    def waited(self, method: str, seconds: float) -> None:
        self.waits.labels(method).inc()
        self.wait_seconds.labels(method).inc(seconds)

    def rate_limited(self, method: str) -> None:
        self.rate_limited_total.labels(method).inc()

    def deferred(self, method: str) -> None:
        self.deferrals.labels(method).inc()
