"""Tests wait on conditions, never on fixed sleeps: `wait_until` polls until a condition holds.

The timeout only bounds a hang (a failing test ends with what it waited for); it measures nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], what: str, timeout: float = 30.0, interval: float = 0.01) -> T:
    """The first truthy value of `condition()`, polled every `interval` seconds; AssertionError
    naming `what` when it is still false after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"still waiting after {timeout} s: {what}"
        time.sleep(interval)
    return value
