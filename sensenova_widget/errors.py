"""The errors every surface raises: one hierarchy, each carrying what a person needs to act.

Modelled on openai-python's ``_exceptions.py``: typed by HTTP status, carrying the status, the
service's error code, its message and the ``x-request-id`` of the reply. Messages never hold a
credential: they are built only from the server's words and the caller's non-secret values.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SenseNovaError",
    "InvalidRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "RateLimitError",
    "ServerError",
    "APIConnectionError",
    "APITimeoutError",
    "StreamError",
    "MediaError",
    "error_for_status",
]


class SenseNovaError(Exception):
    """Base of every error this package raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | str | None = None,
        request_id: str | None = None,
        details: Any = None,
        partial_text: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.details = details
        self.partial_text = partial_text

    def one_line(self) -> str:
        """`Class: message (status 429, code 8, request id abc)`: what the surfaces print."""
        return f"{type(self).__name__}: {self}"

    def __str__(self) -> str:
        """The message and, in brackets, the status, code and request id that are known."""
        extra = []
        if self.status is not None:
            extra.append(f"status {self.status}")
        if self.code is not None:
            extra.append(f"code {self.code}")
        if self.request_id:
            extra.append(f"request id {self.request_id}")
        return f"{self.message} ({', '.join(extra)})" if extra else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r}, code={self.code!r}, request_id={self.request_id!r})"


class InvalidRequestError(SenseNovaError):
    """400, or a check made before sending: names the field, the value and what is allowed."""

    def __init__(self, message: str, *, field: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.field = field


class MediaError(InvalidRequestError):
    """A notebook value that cannot become an image or video part."""


class AuthenticationError(SenseNovaError):
    """401: missing or invalid credentials."""


class PermissionDeniedError(SenseNovaError):
    """403."""


class NotFoundError(SenseNovaError):
    """404: model or file not found."""


class ConflictError(SenseNovaError):
    """409: resource or concurrency conflict (retried)."""


class RateLimitError(SenseNovaError):
    """429: over the rate or quota limit (retried, honouring Retry-After)."""


class ServerError(SenseNovaError):
    """5xx, 408, or a reply that is not the service's JSON."""


class APIConnectionError(SenseNovaError):
    """The server could not be reached, or dropped the connection."""


class APITimeoutError(APIConnectionError):
    """No answer (or no more of a stream) within the timeout; `partial_text` keeps what came."""


class StreamError(SenseNovaError):
    """An error event in the middle of a stream; `partial_text` holds the text received."""


_BY_STATUS: dict[int, type[SenseNovaError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def error_for_status(status: int) -> type[SenseNovaError]:
    """The class for an HTTP error status (5xx and 408 are server errors)."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500 or status == 408:
        return ServerError
    return SenseNovaError
