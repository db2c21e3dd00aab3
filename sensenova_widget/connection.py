"""`connect()`: the real service when credentials are set, else the local emulator.

Notebooks call it first so that they run top to bottom on any machine: with a key (or an access
key pair) in the environment they talk to SenseNova; without one they start the emulator on
loopback and point this kernel's environment at it, and say so. Every surface (`Client()`,
`ChatPanel()`, `%%sensenova`, `caption()`) then finds its settings in the environment.
"""

from __future__ import annotations

import atexit
import os

from .protocol import DEFAULT_BASE_URL

CREDENTIAL_VARIABLES = ("SENSENOVA_API_KEY", "SENSENOVA_ACCESS_KEY_ID")
_emulator = None


def has_credentials() -> bool:
    """True when the environment names a key or an access key pair."""
    return any(os.environ.get(name) for name in CREDENTIAL_VARIABLES)


def connect(*, verbose: bool = True, **emulator_knobs) -> str:
    """Point this process at SenseNova or, with no credentials set, at a local emulator.

    Returns (and prints, unless `verbose=False`) one line saying which; it never prints a key.
    `emulator_knobs` (e.g. `ttft=0.2`) configure the emulator when one is started.
    """
    global _emulator
    if _emulator is None and has_credentials():
        base = (
            os.environ.get("SENSENOVA_API_BASE") or DEFAULT_BASE_URL
        )  # as Client() reads it: empty is unset
        where = f"Using SenseNova at {base} (credentials from the environment)."
    else:
        if _emulator is None:
            from .emulator import Emulator

            _emulator = Emulator(**emulator_knobs)
            _emulator.start()
            atexit.register(_emulator.stop)
        os.environ["SENSENOVA_API_BASE"] = _emulator.base_url
        os.environ["SENSENOVA_API_BASE_FILE"] = _emulator.file_base_url
        os.environ["SENSENOVA_API_KEY"] = _emulator.api_key
        where = (
            f"No SenseNova credentials set: using the local emulator at {_emulator.base_url}. "
            "Set SENSENOVA_API_KEY (or SENSENOVA_ACCESS_KEY_ID and SENSENOVA_SECRET_ACCESS_KEY) "
            "to use the service."
        )
    if verbose:
        print(where)
    return where
