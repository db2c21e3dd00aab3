"""The errors every surface raises: one hierarchy, each carrying what a person needs to act.

Modelled on openai-python's ``_exceptions.py``: typed by HTTP status, carrying the status, the
service's error code, its message and the ``x-request-id`` of the reply. Messages never hold a
credential: they are built only from the server's words and the caller's non-secret values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "SenseNovaError",
    "InvalidRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "RateLimitError",
    "QuotaExceededError",
    "ServerError",
    "APIConnectionError",
    "APITimeoutError",
    "StreamError",
    "MediaError",
    "ContextLengthError",
    "ContentFilterError",
    "UsageError",
    "PanelBusyError",
    "Interrupted",
    "error_for_status",
    "error_for_code",
    "error_fields",
    "error_from_response",
    "name_failed_download",
    "quote",
    "shorten",
    "CODE_STATUS",
    "OK_CODES",
]

QUOTE_CHARS = 200
# The service's error codes and the HTTP status each goes with (spec, "Errors").
# 17 and 18 are today's service (../shared/spec/service-today.md): context length, content filter;
# 14 and 16 are the gRPC-style codes the service shares with its HTTP replies: unavailable, and
# unauthenticated (a code 16 met in a 200 reply or a stream event is an AuthenticationError).
CODE_STATUS = {
    1: 408,
    2: 500,
    3: 400,
    4: 504,
    5: 404,
    6: 409,
    7: 403,
    8: 429,
    9: 400,
    10: 409,
    14: 503,
    16: 401,
    17: 400,
    18: 400,
}
OK_CODES = (0, "0", None)  # a `status.code` that means no error


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

    advice: str | None = None  # what a person can do about it, in plain words (None: nothing to add)

    def one_line(self) -> str:
        """`Class: message (status 429, code 8, request id abc)`, then the advice when there is one:
        what every surface (panel, magic, captions, the store) prints."""
        line = f"{type(self).__name__}: {self}"
        return f"{line}. {self.advice}" if self.advice else line

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
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status!r}, code={self.code!r}, "
            f"request_id={self.request_id!r})"
        )


class InvalidRequestError(SenseNovaError):
    """400, or a check made before sending: names the field, the value and what is allowed."""

    def __init__(self, message: str, *, field: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.field = field


class MediaError(InvalidRequestError):
    """A notebook value that cannot become an image or video part."""


class ContextLengthError(InvalidRequestError):
    """Code 17: the input plus `max_new_tokens` is longer than the model's context (never retried)."""

    advice = (
        "The conversation is longer than the model can read: shorten it (or clear it), "
        "send fewer images, or lower max_new_tokens."
    )


class ContentFilterError(InvalidRequestError):
    """Code 18: the service's content filter judged the input unsafe (never retried)."""

    advice = "The service's content filter refused this request: rephrase it and try again."


class AuthenticationError(SenseNovaError):
    """401 (or code 16): missing or invalid credentials."""


class PermissionDeniedError(SenseNovaError):
    """403: the key may not do this, or the service's risk control blocked the request."""

    advice = (
        "The service refused this request for this key: its risk control may have blocked the "
        "content, or the key's plan does not include this model. Change the request, or check "
        "the key in the service's console."
    )


class NotFoundError(SenseNovaError):
    """404: model or file not found."""


class ConflictError(SenseNovaError):
    """409: resource or concurrency conflict (retried)."""


class RateLimitError(SenseNovaError):
    """429: over the rate limit (retried, honouring Retry-After). `retry_after` holds the
    seconds the reply asked for, when it said."""

    retry_after: float | None = None


class QuotaExceededError(RateLimitError):
    """429 "token plan entitlement exhausted": the plan's quota is used up, so retrying cannot
    help until it renews (never retried; `caption()` stops sending at once)."""

    advice = (
        "The token plan's quota is used up; it renews at the start of the plan's next period "
        "(see the token plan's console). Nothing was retried: try again once it has renewed."
    )


# How the service tells its two 429s apart: only by the message (service-today.md, "The token plan").
QUOTA_MARKERS = ("entitlement exhausted", "quota exhausted", "quota exceeded")


class ServerError(SenseNovaError):
    """5xx, 408, or a reply that is not the service's JSON."""


class APIConnectionError(SenseNovaError):
    """The server could not be reached, or dropped the connection."""


class APITimeoutError(APIConnectionError):
    """No answer (or no more of a stream) within the timeout; `partial_text` keeps what came."""


class StreamError(SenseNovaError):
    """An error event in the middle of a stream; `partial_text` holds the text received."""


class UsageError(SenseNovaError):
    """A call this package refuses because of the state it was made in, not the request's
    content: nothing was sent and no service status applies (a service's 400 is an
    `InvalidRequestError`; this is not one)."""


class PanelBusyError(UsageError):
    """A new turn asked of a panel while its reply still streams."""


class Interrupted(KeyboardInterrupt):
    """A kernel interrupt that stopped this package's work, which kept what it had (a reply's text
    so far, the captions that finished). Still a KeyboardInterrupt, so "Run all" stops here; in
    IPython it shows as its one line (`_render_traceback_`), not a traceback."""

    def line(self) -> str:
        return f"KeyboardInterrupt: {self}"

    def _render_traceback_(self) -> list[str]:
        return [self.line()]


_BY_STATUS: dict[int, type[SenseNovaError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


_BY_CODE: dict[int, type[SenseNovaError]] = {17: ContextLengthError, 18: ContentFilterError}


def error_for_status(status: int) -> type[SenseNovaError]:
    """The class for an HTTP error status (5xx and 408 are server errors)."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500 or status == 408:
        return ServerError
    return SenseNovaError


def error_for_code(
    code: int | str | None,
    message: str | None,
    *,
    request_id: str | None = None,
    details: Any = None,
    cls: type[SenseNovaError] | None = None,
    **kw: Any,
) -> SenseNovaError:
    """The error for a service error code met in a 200 reply or a stream event (typed by its status)."""
    status = CODE_STATUS.get(code) if isinstance(code, int) else None
    kind = cls or _BY_CODE.get(code) or _kind(status or 500, message)  # type: ignore[arg-type]
    return kind(
        message or "the service reported an error",
        status=status,
        code=code,
        request_id=request_id,
        details=details,
        **kw,
    )


def shorten(text: str) -> str:
    """`text` on one line, cut to QUOTE_CHARS: fit for an error message."""
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 3] + "..."


def quote(body: bytes | str) -> str:
    """The start of a body that is not the service's JSON, quoted so it is shown, never run."""
    return repr(shorten(body.decode("utf-8", "replace") if isinstance(body, bytes) else body))


def numeric_code(code: Any) -> Any:
    """The OpenAI-compatible dialect sends the service's code as a string ("17"): as an int."""
    return int(code) if isinstance(code, str) and code.isdigit() else code


def error_fields(payload: Any) -> tuple[int | str | None, str | None, Any]:
    """(code, message, details) from `{"error": {...}}` (either dialect) or a non-zero `{"status": {...}}`."""
    if not isinstance(payload, Mapping):
        return None, None, None
    error = payload.get("error")
    if isinstance(error, Mapping):
        return numeric_code(error.get("code")), error.get("message"), error.get("details")
    if isinstance(error, str) and error:
        return None, error, None
    status = payload.get("status")
    if isinstance(status, Mapping) and status.get("code") not in OK_CODES:
        return status.get("code"), status.get("message"), status.get("details")
    return None, None, None


def error_from_response(response: Any) -> SenseNovaError:
    """The typed error for an HTTP error reply (a `requests.Response`); reads, so releases, its body."""
    status = response.status_code
    request_id = response.headers.get("x-request-id")
    body = response.content
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    code, message, details = error_fields(payload)
    if message is None:
        if not body.strip():
            kind = "an empty body"
        elif payload is None:
            kind = "a body that is not JSON: " + quote(body)
        else:
            kind = "JSON without an error: " + quote(body)
        message = f"HTTP {status} {response.reason or ''}".rstrip() + f" with {kind}"
    if status == 401:
        message += " (check SENSENOVA_API_KEY, or SENSENOVA_ACCESS_KEY_ID and SENSENOVA_SECRET_ACCESS_KEY)"
    kind = _BY_CODE.get(code) or _kind(status, message)  # type: ignore[arg-type]
    return kind(message, status=status, code=code, request_id=request_id, details=details)


def _kind(status: int, message: str | None) -> type[SenseNovaError]:
    """The class for a status, a 429 whose message says the plan's quota is used up included."""
    if status == 429 and message and any(mark in message.lower() for mark in QUOTA_MARKERS):
        return QuotaExceededError
    return error_for_status(status)


def name_failed_download(body: Mapping[str, Any], error: InvalidRequestError) -> InvalidRequestError:
    """A 400 saying an image URL could not be downloaded names the part (or parts) it can be."""
    if error.status != 400 or "download" not in error.message.lower():
        return error
    urls = []
    for m, message in enumerate(body.get("messages", ())):
        content = message.get("content")
        for p, part in enumerate(content if isinstance(content, list) else ()):
            kind = part.get("type") if isinstance(part, Mapping) else None
            if kind in ("image_url", "video_url"):
                value = part[kind]
                url = value.get("url") if isinstance(value, Mapping) else value
                if isinstance(url, str) and not url.startswith("data:"):
                    what = "image" if kind == "image_url" else "video"
                    urls.append(f"messages[{m}].content[{p}] (the {what} at {_short_url(url)})")
    if not urls:
        return error
    which = urls[0] if len(urls) == 1 else "one of " + ", ".join(urls)
    return type(error)(
        f"the service could not download {which}: check that the URL is public and reachable from "
        f"the internet, or send the image itself (its pixels) (the service said: {error.message})",
        field="messages",
        status=error.status,
        code=error.code,
        request_id=error.request_id,
        details=error.details,
    )


def _short_url(url: Any) -> str:
    """A URL for a message: its host and path only (a login, a signed query or a fragment can
    hold a secret), at most 80 characters, quoted."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(str(url))
        port = f":{parts.port}" if parts.port else ""
        text = f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"
        text += "?..." if parts.query or parts.fragment else ""
    except ValueError:
        text = "(a URL)"
    return repr(text if len(text) <= 80 else text[:77] + "...")
