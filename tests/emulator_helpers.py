"""Raw-socket helpers for the emulator's tests: bytes on the wire, no HTTP client in between."""

from __future__ import annotations

import socket


def raw_exchange(port: int, data: bytes, *, timeout: float = 5) -> tuple[bytes, bool]:
    """Send `data` to the emulator as is; return every byte received and whether the server closed
    (False when the socket stayed open `timeout` seconds without a byte)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            return received, False
    return received, True
