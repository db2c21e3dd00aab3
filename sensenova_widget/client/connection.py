"""`connect()`: the real service when credentials are set, else the local emulator.

Notebooks call it first so that they run top to bottom on any machine: with a key (or an access
key pair) in the environment they talk to SenseNova; without one they start the emulator on
loopback and say so. The process's environment is left as it was: the emulator's address and
key are `target.connected()`, which `Client()` reads before the environment, so
every surface that makes its own client (`Client()`, `ChatPanel()`, `%%sensenova`, `caption()`)
reaches the emulator. Other processes (Dask workers) are given a client's settings explicitly.
"""

from __future__ import annotations

import atexit
import os
from urllib.parse import urlsplit

from ..protocol import DEFAULT_BASE_URL, TOKEN_PLAN_HOST
from .client import Client
from .target import connected, has_credentials, point_at, started_emulator


def connect(*, verbose: bool = True, token_plan: bool = False, **emulator_knobs) -> Client:
    """Point this process at SenseNova or, with no credentials set, at a local emulator, and
    return a `Client` for it (the one `Client()` makes from now on).

    Prints (unless `verbose=False`) one line saying which; it never prints a key.
    `token_plan=True` points at the emulator's token plan (its models, reasoning and 429s, as
    https://token.sensenova.cn/v1) instead of the native endpoint. `emulator_knobs` (e.g.
    `ttft=0.2`) configure the emulator when one is started. Nothing is written into the
    environment: `Client()` finds the emulator through `connected()`.
    """
    if started_emulator() is None and has_credentials():
        base = (
            os.environ.get("SENSENOVA_API_BASE") or DEFAULT_BASE_URL
        )  # as Client() reads it: empty is unset
        plan = " (the token plan)" if urlsplit(base).hostname == TOKEN_PLAN_HOST else ""
        where = f"Using SenseNova at {base}{plan} (credentials from the environment)."
    else:
        emulator = started_emulator()
        if emulator is None:
            from ..emulator import Emulator

            emulator = Emulator(**emulator_knobs)
            emulator.start()
            atexit.register(emulator.stop)
        point_at(emulator, token_plan=token_plan)
        target = connected()
        assert target is not None
        where = (
            f"No SenseNova credentials set: using the local emulator at {target.base_url}. "
            "Set SENSENOVA_API_KEY (or SENSENOVA_ACCESS_KEY_ID and SENSENOVA_SECRET_ACCESS_KEY) "
            "to use the service."
        )
    if verbose:
        print(where)
    return Client()
