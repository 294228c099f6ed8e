"""Faults a test can inject into the emulated Web API: 429s, 5xx, `ok:false` and latency."""

from __future__ import annotations

from dataclasses import dataclass

ANY_METHOD = "*"


@dataclass
class Fault:
    """One armed fault: what to answer, for which method, how many more times."""

    method: str
    kind: str
    remaining: int
    status: int = 200
    retry_after: int = 0
    error: str = ""


class Faults:
    """Armed faults, consumed in the order they were armed; `*` matches every method."""

    def __init__(self) -> None:
        self._armed: list[Fault] = []
        self._latency: dict[str, int] = {}

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls with HTTP 429, `Retry-After` and `ratelimited`."""
        self._armed.append(Fault(method, "rate_limit", times, 429, retry_after, "ratelimited"))

    def server_error(self, method: str, *, times: int = 1, status: int = 500) -> None:
        """Answer the next `times` calls with a 5xx gateway page."""
        self._armed.append(Fault(method, "server_error", times, status))

    def error(self, method: str, error: str, *, times: int = 1) -> None:
        """Answer the next `times` calls with HTTP 200 `{"ok": false, "error": error}`."""
        self._armed.append(Fault(method, "error", times, 200, 0, error))

    def latency(self, method: str = ANY_METHOD, *, ms: int) -> None:
        """Delay every answer to `method` by `ms` milliseconds until cleared (0 clears)."""
        if ms <= 0:
            self._latency.pop(method, None)
        else:
            self._latency[method] = ms

    def clear(self) -> None:
        """Disarm every fault and latency."""
        self._armed.clear()
        self._latency.clear()

    def delay_for(self, method: str) -> float:
        """Seconds to wait before answering `method`."""
        ms = self._latency.get(method, self._latency.get(ANY_METHOD, 0))
        return ms / 1000

    def take(self, method: str) -> Fault | None:
        """Consume one use of the first fault armed for `method`, if any."""
        for fault in self._armed:
            if fault.method in (method, ANY_METHOD) and fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._armed.remove(fault)
                return fault
        return None
