"""Pacing for batch work: how many requests may be in flight, and how often one may start.

The service's vision models allow about 60 requests a minute and answer 429 beyond that; the
token plan's rate gate also refuses a third or more of requests at random in busy hours
(service-today.md). What a batch adds to the client's retries is backing off as a whole, and
only when backing off helps: `RefusalShare` watches the share of 429s among recent answers, and
only a share above what chance explains signals `AIMDLimit`, which then halves the number of
requests in flight and adds one back after a run of successes (TCP's additive increase,
multiplicative decrease). A refused row waits `requeue_delay` without holding a slot, `Pause`
holds every start back until a Retry-After has passed, and `RateLimiter` spaces request starts
to at most `rpm` a minute.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque

__all__ = ["AIMDLimit", "RateLimiter", "RefusalShare", "Pause", "requeue_delay"]

REQUEUE_DELAY = 0.1  # seconds before a refused row is tried again, doubling per refusal
MAX_REQUEUE_DELAY = 4.0


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


class RefusalShare:
    """The share of 429s among the last `window` answers: `note` says when it reaches `tolerance`.

    A gate that refuses a third of requests at random refuses as many at any pace, so lowering
    the pace would only slow the batch; a limit that the batch overruns refuses most of them.
    Only the second (a share of at least `tolerance` over a whole window) is a signal. The window
    must be whole: a refusal comes back at once and an answer takes its time, so the first few
    answers of a batch are refusals more often than the gate's share.
    """

    def __init__(self, window: int, *, tolerance: float = 0.6) -> None:
        self.tolerance = tolerance
        self.least = window
        self._recent: deque[bool] = deque(maxlen=window)
        self._lock = threading.Lock()

    def note(self, refused: bool) -> bool:
        """Count one answer; True when it was refused and the share of refusals is too high."""
        with self._lock:
            self._recent.append(refused)
            seen = len(self._recent)
            return refused and seen >= self.least and sum(self._recent) >= self.tolerance * seen


class Pause:
    """Request starts held back until a moment the server named (Retry-After), for every worker."""

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def wait(self, stop: threading.Event) -> bool:
        """Sleep until starts may go on; False if `stop` was set meanwhile."""
        delay = self._until - time.monotonic()
        if delay <= 0:
            return not stop.is_set()
        return not stop.wait(delay)


def requeue_delay(refusals: int) -> float:
    """Seconds before a row refused `refusals` times is tried again: 0.1 s doubling to 4 s,
    with jitter (the row waits in line; its worker takes another row meanwhile)."""
    delay = min(REQUEUE_DELAY * 2 ** max(refusals - 1, 0), MAX_REQUEUE_DELAY)
    return delay * (1 - 0.25 * random.random())
