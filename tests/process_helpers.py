"""Run one function in several fresh processes at once (spawned, as separate kernels would be)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from typing import Any


def run_in_processes(target: Callable[..., Any], args: Sequence[tuple], timeout: float = 120) -> None:
    """Start `target(*a)` for each `a` of `args` in its own process; each must exit cleanly."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=target, args=a) for a in args]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout)
        assert proc.exitcode == 0, f"{target.__name__}{proc.name}: exit code {proc.exitcode}"
