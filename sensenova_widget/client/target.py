"""Where `connect()` pointed this process: the emulator it started, which `Client()` reads before
the environment (so every surface that makes its own client reaches it; nothing is written into
the environment). Kept apart from `connect()` itself, which makes a `Client`, so that the client
can read this without importing what imports it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

CREDENTIAL_VARIABLES = ("SENSENOVA_API_KEY", "SENSENOVA_ACCESS_KEY_ID")
_emulator: Any = None  # the Emulator connect() started, or None
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


def started_emulator() -> Any:
    """The emulator `connect()` started, or None."""
    return _emulator


def point_at(emulator: Any, *, token_plan: bool) -> None:
    """From now on `Client()` reaches `emulator` (its native endpoint, or its token plan)."""
    global _emulator, _token_plan
    _emulator, _token_plan = emulator, token_plan


def has_credentials() -> bool:
    """True when the environment names a key or an access key pair."""
    return any(os.environ.get(name) for name in CREDENTIAL_VARIABLES)
