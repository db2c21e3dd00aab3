"""`connect()`: the real service when credentials are set, else the local emulator.

Notebooks call it first so that they run top to bottom on any machine: with a key (or an access
key pair) in the environment they talk to SenseNova; without one they start the emulator on
loopback and say so. The process's environment is left as it was: the emulator's address and
key are this module's `connected()` target, which `Client()` reads before the environment, so
every surface that makes its own client (`Client()`, `ChatPanel()`, `%%sensenova`, `caption()`)
reaches the emulator. Other processes (Dask workers) are given a client's settings explicitly.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..protocol import DEFAULT_BASE_URL, TOKEN_PLAN_HOST

if TYPE_CHECKING:  # pragma: no cover - the client module reads this one: imported when called
    from .client import Client

CREDENTIAL_VARIABLES = ("SENSENOVA_API_KEY", "SENSENOVA_ACCESS_KEY_ID")
_emulator = None
_token_plan = False  # whether connect() pointed at the emulator's token plan


@dataclass(frozen=True)
class Target:
    """Where `connect()` pointed this process: the emulator it started (its key kept out of reprs)."""

    base_url: str
    file_base_url: str
    api_key: str = field(repr=False)


def connected() -> Target | None:
    """The emulator `connect()` started in this process, or None (then the environment decides)."""
    emulator = _emulator
    if emulator is None:
        return None
    base = emulator.token_plan_base_url if _token_plan else emulator.base_url
    return Target(base, emulator.file_base_url, emulator.api_key)


def has_credentials() -> bool:
    """True when the environment names a key or an access key pair."""
    return any(os.environ.get(name) for name in CREDENTIAL_VARIABLES)


def connect(*, verbose: bool = True, token_plan: bool = False, **emulator_knobs) -> Client:
    """Point this process at SenseNova or, with no credentials set, at a local emulator, and
    return a `Client` for it (the one `Client()` makes from now on).

    Prints (unless `verbose=False`) one line saying which; it never prints a key.
    `token_plan=True` points at the emulator's token plan (its models, reasoning and 429s, as
    https://token.sensenova.cn/v1) instead of the native endpoint. `emulator_knobs` (e.g.
    `ttft=0.2`) configure the emulator when one is started. Nothing is written into the
    environment: `Client()` finds the emulator through `connected()`.
    """
    global _emulator, _token_plan
    if _emulator is None and has_credentials():
        base = (
            os.environ.get("SENSENOVA_API_BASE") or DEFAULT_BASE_URL
        )  # as Client() reads it: empty is unset
        plan = " (the token plan)" if urlsplit(base).hostname == TOKEN_PLAN_HOST else ""
        where = f"Using SenseNova at {base}{plan} (credentials from the environment)."
    else:
        _token_plan = token_plan
        if _emulator is None:
            from ..emulator import Emulator

            _emulator = Emulator(**emulator_knobs)
            _emulator.start()
            atexit.register(_emulator.stop)
        target = connected()
        assert target is not None
        where = (
            f"No SenseNova credentials set: using the local emulator at {target.base_url}. "
            "Set SENSENOVA_API_KEY (or SENSENOVA_ACCESS_KEY_ID and SENSENOVA_SECRET_ACCESS_KEY) "
            "to use the service."
        )
    if verbose:
        print(where)
    from .client import Client

    return Client()
