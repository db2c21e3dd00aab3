"""Pacing for batch work: how many requests may be in flight, and how often one may start.

The service's vision models allow about 60 requests a minute and answer 429 beyond that. The
client already retries a 429 after its Retry-After; what a batch adds is backing off as a whole:
`AIMDLimit` halves the number of requests in flight on a 429 and adds one back after a run of
successes (TCP's additive increase, multiplicative decrease), and `RateLimiter` spaces request
starts to at most `rpm` a minute.
"""

from __future__ import annotations

import threading
import time

__all__ = ["AIMDLimit", "RateLimiter"]


class AIMDLimit:
    """An in-flight limit between 1 and `maximum`: halved on a 429, +1 after `limit` successes.

    A burst of 429s from requests that were all sent before the first one was seen is one
    signal, not many: each request notes the `epoch` it started in, and only a 429 from the
    current epoch halves the limit (and starts a new epoch), as TCP reacts once per window.
    """

    def __init__(self, maximum: int) -> None:
        if maximum < 1:
            raise ValueError(f"maximum={maximum!r} is not allowed: expected an integer >= 1.")
        self.maximum = maximum
        self._limit = maximum
        self._epoch = 0
        self._successes = 0
        self._lock = threading.Lock()
        self.decreases = 0  # how many times the limit was halved (shown in summaries, tested)
        self.lowest = maximum

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def epoch(self) -> int:
        return self._epoch

    def on_rate_limited(self, epoch: int | None = None) -> None:
        """A 429 arrived for a request started in `epoch` (None: treat as current)."""
        with self._lock:
            if epoch is not None and epoch != self._epoch:
                return
            self._limit = max(1, self._limit // 2)
            self.lowest = min(self.lowest, self._limit)
            self._epoch += 1
            self._successes = 0
            self.decreases += 1

    def on_success(self) -> None:
        with self._lock:
            self._successes += 1
            if self._successes >= self._limit and self._limit < self.maximum:
                self._limit += 1
                self._successes = 0


class RateLimiter:
    """At most `rpm` request starts a minute, evenly spaced (no bursts beyond the first)."""

    def __init__(self, rpm: float) -> None:
        if isinstance(rpm, bool) or not isinstance(rpm, (int, float)) or not rpm > 0:
            raise ValueError(
                f"rpm={rpm!r} is not allowed: expected a positive number of requests per minute, or None."
            )
        self.rpm = rpm
        self.interval = 60.0 / rpm
        self._next = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Claim the next start slot; returns how many seconds to wait before using it."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
            return start - now

    def wait(self, stop: threading.Event | None = None) -> bool:
        """Sleep until the next slot; False if `stop` was set meanwhile (the slot is then unused)."""
        delay = self.reserve()
        if delay <= 0:
            return not (stop and stop.is_set())
        if stop is None:
            time.sleep(delay)
            return True
        return not stop.wait(delay)
