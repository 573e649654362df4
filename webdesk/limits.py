"""Per-client rate limiting and the address a client is known by."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

# Clients remembered at once; the least recently seen is forgotten first (a flood of
# addresses cannot grow memory without bound).
MAX_CLIENTS = 10_000


class RateLimiter:
    """A token bucket per client: ``burst`` questions at once, refilled at ``per_minute``.
    ``per_minute`` 0 turns it off."""

    def __init__(self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 if ``client`` may ask now (and counts it), else the seconds until it may."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, seen = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - seen) * self.rate)
            if tokens >= 1.0:
                self._remember(client, tokens - 1.0, now)
                return 0.0
            self._remember(client, tokens, now)
            return (1.0 - tokens) / self.rate

    def _remember(self, client: str, tokens: float, now: float) -> None:
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > MAX_CLIENTS:
            self._buckets.popitem(last=False)


def client_address(scope, trust_forwarded_for: bool) -> str:
    """The connection's address; with ``trust_forwarded_for``, the last X-Forwarded-For
    entry instead (the one the reverse proxy in front of the desk appended)."""
    if trust_forwarded_for:
        values = [v for k, v in scope.get("headers", ()) if k == b"x-forwarded-for"]
        if values:
            last = values[-1].decode("latin-1").split(",")[-1].strip()
            if last:
                return last
    client = scope.get("client")
    return client[0] if client else "unknown"
