"""The emulator's knobs: how it should misbehave (or be limited) for one request or all of them.

The same names work in three places, so a test can script one request without restarting the
server: `Emulator(ttft=0.5)`, `python -m sensenova_widget.emulator --ttft 0.5`, and the request
header `x-emulator-fault: ttft=0.5,drop_after=3`. Header values override the server's knobs.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FAULT_HEADER = "x-emulator-fault"
DEFAULT_SENSITIVE_WORDS = ("sensitive-trigger",)
DEFAULT_CONTEXT_LENGTH = 32768  # a listed model missing from protocol.MODEL_CONTEXTS
DEFAULT_BODY_TIMEOUT = 30.0


class KnobError(ValueError):
    """A knob name or value the emulator does not understand (names the knob and what is allowed)."""


def _seconds(value: Any) -> float:
    number = float(value)
    if not number >= 0:  # also rejects NaN
        raise ValueError("negative")
    return number


def _count(value: Any) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("negative")
    return number


def _positive(value: Any) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("below 1")
    return number


def _status(value: Any) -> int:
    number = int(value)
    if not 400 <= number <= 599:
        raise ValueError("not an error status")
    return number


def _timeout(value: Any) -> float:
    number = float(value)
    if not number > 0:  # also rejects NaN
        raise ValueError("not above 0")
    return number


def _share(value: Any) -> float:
    number = float(value)
    if not 0 <= number <= 1:  # also rejects NaN
        raise ValueError("not a share")
    return number


def _flag(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("not a flag")


def _html(value: Any) -> int:
    """`html=502` serves a proxy page with that status; `html=1` uses `status` (or 502)."""
    if isinstance(value, bool):
        return int(value)
    text = str(value).strip().lower()
    if text in ("true", "yes", "on"):
        return 1
    if text in ("false", "no", "off"):
        return 0
    number = int(text)
    if number in (0, 1):
        return number
    return _status(number)


def _words(value: Any) -> tuple[str, ...]:
    """Trigger words: a list, or one string with words separated by `|` (`,` separates knobs)."""
    items = value.split("|") if isinstance(value, str) else list(value)
    return tuple(str(item).strip().lower() for item in items if str(item).strip())


# name: (parser, what is allowed) - the one list of knob names, shared by header, CLI and constructor.
KNOBS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "ttft": (_seconds, "seconds >= 0 from the request's arrival to the first delta (or the whole reply)"),
    "delta_delay": (_seconds, "seconds >= 0 between deltas"),
    "reply_tokens": (_positive, "an integer >= 1: the reply is padded (or cut) to this many tokens"),
    "status": (_status, "an HTTP error status 400-599"),
    "times": (_count, "an integer >= 0: how many requests get `status` (default: all)"),
    "retry_after": (_seconds, "seconds >= 0 sent as Retry-After with `status`"),
    "html": (_html, "1, or an HTTP error status: reply with a proxy's HTML page"),
    "error_after": (_count, "an integer >= 0: an error event after that many deltas"),
    "stall_after": (_count, "an integer >= 0: stop sending after that many deltas"),
    "stall": (_seconds, "seconds >= 0 to stay silent at `stall_after`"),
    "drop_after": (_count, "an integer >= 0: drop the TCP connection after that many deltas"),
    "context_length": (
        _positive,
        "an integer >= 1: every model's context length in tokens (default: each model's own)",
    ),
    "sensitive_words": (_words, "words separated by '|' that stop the reply as 'sensitive'"),
    "file_validation_seconds": (_seconds, "seconds >= 0 a new upload stays VALIDATING"),
    "think_inline": (_flag, "1 or 0: reasoning goes inline as a leading <think>...</think> in the text"),
    "body_timeout": (_timeout, "seconds > 0 to wait for more of a request body before answering 408"),
    "quota": (_flag, "1 or 0: 429 'token plan entitlement exhausted' (counted by `times`)"),
    "gate": (_share, "a share in [0, 1] of requests the rate gate refuses at random (429, code 8)"),
    "gate_seed": (
        int,
        "an integer: the gate's draws follow from it, the question and its attempt number, so every "
        "client asking the same questions meets the same weather (default: truly random)",
    ),
    "malformed": (_share, "a share 0-1 of schema replies made malformed (decided by the request's content)"),
    "response_format": (_flag, "1 or 0: whether the OpenAI routes take response_format (else HTTP 400)"),
}


@dataclass(frozen=True)
class Knobs:
    """Every knob with its default; `None` means the fault is off."""

    ttft: float = 0.0
    delta_delay: float = 0.0
    reply_tokens: int | None = None
    status: int | None = None
    times: int | None = None
    retry_after: float | None = None
    html: int = 0
    error_after: int | None = None
    stall_after: int | None = None
    stall: float = 30.0
    drop_after: int | None = None
    context_length: int | None = None
    sensitive_words: tuple[str, ...] = field(default=DEFAULT_SENSITIVE_WORDS)
    file_validation_seconds: float = 0.0
    think_inline: bool = False
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    quota: bool = False
    gate: float = 0.0
    gate_seed: int | None = None
    malformed: float = 0.0
    response_format: bool = True

    @classmethod
    def from_kwargs(cls, **values: Any) -> Knobs:
        return cls().updated(values)

    def updated(self, values: dict[str, Any]) -> Knobs:
        """A copy with `values` parsed and applied; unknown names or bad values raise KnobError."""
        parsed = {}
        for name, value in values.items():
            if name not in KNOBS:
                raise KnobError(f"unknown emulator knob {name!r}: expected one of {', '.join(KNOBS)}")
            if value is None:  # back to the default (which is "off" for every fault)
                parsed[name] = getattr(DEFAULTS, name)
                continue
            parser, allowed = KNOBS[name]
            try:
                parsed[name] = parser(value)
            except (TypeError, ValueError):
                raise KnobError(
                    f"emulator knob {name}={value!r} is not allowed: expected {allowed}"
                ) from None
        return dataclasses.replace(self, **parsed)

    def with_header(self, header: str | None) -> Knobs:
        """Apply an `x-emulator-fault: name=value,name=value` header."""
        if not header:
            return self
        values = {}
        for item in header.split(","):
            if not item.strip():
                continue
            name, sep, value = item.partition("=")
            if not sep:
                raise KnobError(f"{FAULT_HEADER} item {item.strip()!r} is not allowed: expected name=value")
            values[name.strip()] = value.strip()
        return self.updated(values)

    @property
    def error_status(self) -> int | None:
        """The HTTP error this request should get (before counting `times`), if any."""
        if self.html:
            return self.html if self.html > 1 else (self.status or 502)
        return 429 if self.quota else self.status


class TimesCounter:
    """How many requests with the same fault header have already failed (for `times`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def should_fail(self, key: str, times: int | None) -> bool:
        """True for the first `times` requests under `key` (for every request when times is None)."""
        if times is None:
            return True
        with self._lock:
            seen = self._counts.get(key, 0)
            self._counts[key] = seen + 1
        return seen < times

    def attempt(self, key: str) -> int:
        """How many times `key` was counted before (0 the first time), and count it."""
        with self._lock:
            seen = self._counts.get(key, 0)
            self._counts[key] = seen + 1
        return seen

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


DEFAULTS = Knobs()
