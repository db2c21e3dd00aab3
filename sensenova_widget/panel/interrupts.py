"""Kernel interrupts reach replies that stream in threads.

Jupyter's interrupt (the toolbar's stop square, `I I`) is a SIGINT to the kernel. ipykernel
ignores it while no cell runs (`SIG_IGN`) and turns it into a KeyboardInterrupt in the main thread
while one does, so a panel's reply streaming in its own thread would never hear of it. After
`install()` (from the main thread), a SIGINT first calls the stop of every reply `watch`ed now,
then does what the previous handler did (ignore, or raise in the running cell). ipykernel swaps
the handler around each cell (`pre_handler_hook` / `post_handler_hook`, restoring
`saved_sigint_handler`), so the handler in effect now and the one it restores are both wrapped,
and the one each later cell gets is wrapped as the cell starts (IPython's `pre_run_cell`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["install", "watch"]

_stops: dict[object, Callable[[], None]] = {}
_lock = threading.Lock()
_installed = False


def _stop_all() -> None:
    with _lock:
        stops = list(_stops.values())
    for stop in stops:
        stop()


def _chained(previous: Any) -> Any:
    """A SIGINT handler that stops the streaming replies, then behaves as `previous` did."""
    if getattr(previous, "snw_chained", False):
        return previous

    def handler(signum: int, frame: Any) -> None:
        _stop_all()
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            raise KeyboardInterrupt

    handler.snw_chained = True  # type: ignore[attr-defined]
    return handler


def _wrap_current(*_args: Any) -> bool:
    """Wrap the SIGINT handler in effect (main thread only); False where there are no signals."""
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        signal.signal(signal.SIGINT, _chained(signal.getsignal(signal.SIGINT)))
    except (ValueError, OSError, TypeError):  # no signals here (an embedded interpreter)
        return False
    return True


def install() -> None:
    """Let kernel interrupts reach `watch`ed replies from now on (call it from the main thread,
    as a panel's constructor runs; a reply's own thread cannot)."""
    global _installed
    if _installed or not _wrap_current():
        return
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        get_ipython = None
    shell = get_ipython() if get_ipython else None
    kernel = getattr(shell, "kernel", None)
    if kernel is not None and hasattr(kernel, "saved_sigint_handler"):
        kernel.saved_sigint_handler = _chained(kernel.saved_sigint_handler)
    if shell is not None and hasattr(shell, "events"):
        shell.events.register("pre_run_cell", _wrap_current)
    _installed = True


@contextlib.contextmanager
def watch(stop: Callable[[], None]) -> Iterator[None]:
    """While the block runs, a kernel interrupt calls `stop()` (from the main thread)."""
    key = object()
    with _lock:
        _stops[key] = stop
    try:
        yield
    finally:
        with _lock:
            _stops.pop(key, None)
