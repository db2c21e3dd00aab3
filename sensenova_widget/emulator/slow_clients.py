"""A deadline for a request's headers, which uvicorn does not have.

uvicorn times out an idle keep-alive connection, but not one that opened and never finished its
headers: each such connection was held for ever, and enough of them (a slow-header flood) use up
the emulator's connections and file descriptors. `guarded(header_timeout)` is uvicorn's own HTTP
protocol (httptools or h11, as "auto" picks) that closes a connection whose request headers have
not all arrived `header_timeout` seconds after it opened or after the request's first byte.
A stalled body is the body watchdog's (`server.read_body`, the `body_timeout` knob).
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["HEADER_TIMEOUT", "guarded"]

HEADER_TIMEOUT = 10.0  # seconds from a connection's opening (or a request's first byte) to its blank line


class _HeaderDeadline:
    """Mixin over a uvicorn HTTP protocol class (which has `loop`, `transport`, `on_response_complete`)."""

    header_timeout = HEADER_TIMEOUT
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def connection_made(self, transport: Any) -> None:
        self._deadline: asyncio.TimerHandle | None = None
        self._tail = b""  # the last bytes seen, for a blank line split across reads
        self._awaiting = True  # the headers of the current request have not all come
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()

    def _arm(self) -> None:
        self._tail = b""
        self._deadline = self.loop.call_later(self.header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def data_received(self, data: bytes) -> None:
        if self._awaiting:
            if self._deadline is None:
                self._arm()  # the first byte of a request on a kept-alive connection
            seen = self._tail + data
            if b"\r\n\r\n" in seen:
                self._awaiting = False
                self._disarm()
            else:
                self._tail = seen[-3:]
        super().data_received(data)  # type: ignore[misc]

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._awaiting = True  # the next request is timed from its first byte; idle time is keep-alive's

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def guarded(header_timeout: float = HEADER_TIMEOUT) -> type[asyncio.Protocol]:
    """uvicorn's "auto" HTTP protocol with the header deadline, for `uvicorn.Config(http=...)`."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    return type(
        f"HeaderDeadline{AutoHTTPProtocol.__name__}",
        (_HeaderDeadline, AutoHTTPProtocol),
        {"header_timeout": header_timeout},
    )
