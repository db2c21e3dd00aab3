"""The HTTP layer: one pooled `requests` session, signing, and openai-python's retry policy.

`Transport.request` sends one request and returns a successful response or raises the typed
error (errors.py), retrying what is worth retrying: 408/409/429/5xx and connection errors,
0.5 s doubling to 8 s with jitter, `Retry-After` honoured up to 120 s. `RetryPolicy` is public
so a `Stream` can retry a dropped connection the same way. What requests takes from the
environment (proxies, NO_PROXY, CA bundle) is kept per origin and re-read when one of the
`ENVIRONMENT_NAMES` changes; a system proxy setting (macOS, Windows) changed mid-session is not.
The response helpers at the end (`iter_body`, `abort`, `socket_of`) are what streaming needs
from a raw response.

What a server sends back is not trusted: redirects are followed only within the origin asked
(another one could take the prompt, the images and the credentials), a body is read with a cap
on its decoded size (a compressed body can expand a thousandfold), every secret of the client
is redacted from what is kept of a reply (headers, bodies; streams redact per event), and a key
is never sent in plain HTTP to anything but loopback unless the user says so.
"""

from __future__ import annotations

import email.utils
import io
import ipaddress
import logging
import os
import random
import socket
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from ..errors import (
    APIConnectionError,
    APITimeoutError,
    InvalidRequestError,
    QuotaExceededError,
    RateLimitError,
    SenseNovaError,
    ServerError,
    error_from_response,
    shorten,
)
from .auth import Credentials

__all__ = [
    "Transport",
    "RetryPolicy",
    "check_plaintext",
    "is_loopback",
    "origin_of",
    "read_capped",
    "INSECURE_HTTP_VARIABLE",
    "MAX_BODY_BYTES",
    "MAX_REDIRECTS",
    "READ_SIZE",
    "connection_error",
    "parse_retry_after",
    "iter_body",
    "abort",
    "socket_of",
    "CONNECT_TIMEOUT",
    "READ_TIMEOUT",
    "MAX_RETRY_AFTER",
]

logger = logging.getLogger("sensenova_widget")

RETRY_STATUSES = frozenset({408, 409, 429})
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_RETRY_AFTER = 120.0
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 600.0  # the longest silence between two reads: a whole non-streamed reply can take minutes
POOL_SIZE = 32  # connections kept per host: captioning runs many requests at once
# What requests reads from the environment for an http(s) request (proxies as curl and urllib
# spell them, CGI's REQUEST_METHOD that turns HTTP_PROXY off, CA bundles): their values key the
# settings `Transport` keeps per origin, so a change to any of them applies to the next request.
ENVIRONMENT_NAMES = tuple(
    spelling
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    for spelling in (name, name.upper())
) + ("REQUEST_METHOD", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
SETTINGS_KEPT = 64  # distinct (origin, environment) settings kept before starting over
_REQUEST_KEYWORDS = frozenset({"data", "files", "json", "params"})
MAX_BODY_BYTES = 32 * 1024 * 1024  # a reply's body once decompressed: far above any real reply
READ_SIZE = 65536  # decoded bytes per read of a body: what one compressed read may expand to
MAX_REDIRECTS = 10
INSECURE_HTTP_VARIABLE = "SENSENOVA_ALLOW_INSECURE_HTTP"  # "1": plain http:// with a key to any host
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, the port filled in for http(s): what "the same origin" compares."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def is_loopback(host: str) -> bool:
    """Whether a host name is this machine (localhost, 127.0.0.0/8, ::1): traffic that never leaves it."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_plaintext(url: str, allow_insecure_http: bool) -> None:
    """Refuse to send credentials over plain http:// to anything but loopback, unless allowed:
    anyone on the path would read the key."""
    scheme, host, _ = origin_of(url)
    if scheme != "http" or allow_insecure_http or is_loopback(host):
        return
    if os.environ.get(INSECURE_HTTP_VARIABLE, "").strip().lower() in ("1", "true", "yes"):
        return
    raise InvalidRequestError(
        f"{url} is plain http:// to another machine: the credentials would cross the network "
        f"unencrypted, so nothing was sent. Use https://, or opt in with "
        f"Client(allow_insecure_http=True) or the environment variable {INSECURE_HTTP_VARIABLE}=1.",
        field="base_url",
    )


def read_capped(response: requests.Response, cap: int = MAX_BODY_BYTES) -> bytes:
    """The whole body decoded (gzip, deflate, br...), refused past `cap` bytes: read in pieces of at
    most READ_SIZE decoded bytes, so a compressed bomb never expands in memory beyond the cap."""
    chunks, size = [], 0
    try:
        for chunk in response.raw.stream(READ_SIZE, decode_content=True):
            size += len(chunk)
            if size > cap:
                response.close()
                raise ServerError(
                    f"the reply from {response.url} is larger than {cap} bytes once decoded; "
                    "not read further",
                    status=response.status_code,
                    request_id=response.headers.get("x-request-id"),
                )
            chunks.append(chunk)
    except SenseNovaError:
        raise
    except Exception as exc:  # urllib3's errors: a broken connection or a body that does not decode
        raise connection_error(exc, response.url or "") from None
    return b"".join(chunks)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def connection_error(exc: BaseException, url: str) -> APIConnectionError:
    """An APITimeoutError or APIConnectionError for an exception raised by requests/urllib3/socket."""
    import urllib3.exceptions

    causes = [exc, *exc.args]  # requests wraps urllib3's ReadTimeoutError in a ConnectionError
    timeouts = (requests.Timeout, urllib3.exceptions.TimeoutError, socket.timeout, TimeoutError)
    reason = shorten(str(exc))
    if any(isinstance(e, timeouts) for e in causes):
        return APITimeoutError(f"no answer from {url} within the timeout ({type(exc).__name__}: {reason})")
    return APIConnectionError(f"the connection to {url} failed ({type(exc).__name__}: {reason})")


@dataclass(frozen=True)
class RetryPolicy:
    """How many retries a request gets and how long to wait before each."""

    max_retries: int = 2
    rate_limits: bool = True  # whether a 429 is retried here (batch work may pace its own)

    def retryable(self, error: SenseNovaError) -> bool:
        """Connection errors, 408, 409, 429 and 5xx are worth another try; a used-up quota is
        not (it lasts until the plan renews), nor a 429 when `rate_limits` is off."""
        if isinstance(error, APIConnectionError):
            return True
        if isinstance(error, RateLimitError) and (
            isinstance(error, QuotaExceededError) or not self.rate_limits
        ):
            return False
        return error.status is not None and (error.status in RETRY_STATUSES or error.status >= 500)

    @staticmethod
    def delay(retries_done: int, retry_after: float | None = None) -> float:
        """Seconds before retry `retries_done + 1`: the server's Retry-After (capped), else backoff."""
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        delay = min(INITIAL_RETRY_DELAY * 2**retries_done, MAX_RETRY_DELAY)
        return delay * (1 - 0.25 * random.random())

    def wait(
        self, retries_done: int, error: SenseNovaError, url: str, retry_after: float | None = None
    ) -> None:
        """Log the failure and sleep before the next try."""
        delay = self.delay(retries_done, retry_after)
        logger.warning(
            "SenseNova request to %s failed (%s); retry %d of %d in %.2f s",
            url,
            error.one_line(),
            retries_done + 1,
            self.max_retries,
            delay,
        )
        time.sleep(delay)


class Transport:
    """One pooled session that signs every request and retries by its `RetryPolicy`."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        timeout: tuple[float, float],
        retry: RetryPolicy,
        headers: Mapping[str, str] | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        self.credentials = credentials
        self.allow_insecure_http = allow_insecure_http
        self.timeout = timeout
        self.retry = retry
        self.headers = dict(headers or {})
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self._settings: dict[tuple, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"Transport(auth=<{self.credentials.kind}>, retries={self.retry.max_retries})"

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def signed_headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        """The client's headers, the call's, and last the credentials' (no caller header replaces them)."""
        headers = {**self.headers, **(extra or {})}
        headers.update(self.credentials.header())
        return headers

    def request(
        self,
        method: str,
        url: str,
        *,
        stream: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        retries: int | None = None,
        retry: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send with up to `retries` (default the policy's) retries; a success, or the typed error
        raised (a RateLimitError carries the reply's Retry-After in `retry_after`). `retry`
        replaces the transport's policy for this request. Only an event stream comes back
        unread; any other body is read (capped) and redacted."""
        check_plaintext(url, self.allow_insecure_http)
        policy = retry or self.retry
        retries = policy.max_retries if retries is None else retries
        retries_done = 0
        while True:
            retry_after = None
            try:
                response = self._send(method, url, self.signed_headers(extra_headers), kwargs)
                self._settle(response, stream)
            except requests.RequestException as exc:
                error: SenseNovaError = connection_error(exc, url)
            except APIConnectionError as exc:
                error = exc
            else:
                if response.status_code < 400:
                    return response
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                error = error_from_response(response)
                if isinstance(error, RateLimitError):
                    error.retry_after = retry_after
                response.close()
            if retries_done >= retries or not policy.retryable(error):
                raise error
            policy.wait(retries_done, error, url, retry_after)
            retries_done += 1

    def _settle(self, response: requests.Response, stream: bool) -> None:
        """Redact the client's secrets from the headers and, unless it is an event stream to be
        read as it comes, read the body (capped by `read_capped`) and redact it too."""
        redact = self.credentials.redact
        for name, value in response.headers.items():
            cleaned = redact(value)
            if cleaned != value:
                response.headers[name] = cleaned
        event_stream = response.headers.get("content-type", "").startswith("text/event-stream")
        if stream and event_stream and response.status_code < 400:
            return
        # the body read and redacted, put back as the raw body .content, .text and .json() read
        response.raw = io.BytesIO(self.credentials.redact_bytes(read_capped(response)))

    def _send(
        self, method: str, url: str, headers: dict[str, str], kwargs: dict[str, Any]
    ) -> requests.Response:
        """One request, following redirects only within the origin of `url`: a redirect elsewhere
        would re-send the prompt, the images (and with some settings the credentials) there, so
        it is refused, naming where it pointed. The body is never read here (see `_settle`)."""
        start = origin_of(url)
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send_once(method, url, headers, kwargs)
            if not response.is_redirect:
                return response
            status = response.status_code
            target = urllib.parse.urljoin(response.url or url, response.headers.get("location", ""))
            request_id = response.headers.get("x-request-id")
            response.close()
            if origin_of(target) != start:
                raise SenseNovaError(
                    f"{url} answered HTTP {status}, redirecting to {self.credentials.redact(target)}: "
                    "another origin (scheme, host or port), so it was not followed and nothing was "
                    "sent there. If the service really moved, set base_url to the new address.",
                    status=status,
                    request_id=request_id,
                )
            if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
                method = "GET"  # as browsers and requests do: the body is not sent again
                kwargs = {k: v for k, v in kwargs.items() if k not in ("data", "json", "files")}
            url = target
        raise ServerError(f"{url} redirected more than {MAX_REDIRECTS} times; not followed further")

    def _send_once(
        self, method: str, url: str, headers: dict[str, str], kwargs: dict[str, Any]
    ) -> requests.Response:
        """`Session.request`, step for step, with two things done once instead of on every call:
        what the environment adds (proxies, CA bundle) is kept per origin, and the request is
        prepared by `prepare` rather than `Session.prepare_request`, which copies the cookie jar
        and reads ~/.netrc each time (half of a small request's CPU when 16 threads send at once).
        Always streamed and never redirected: `_send` and `_settle` do those."""
        session = self.session
        if not _REQUEST_KEYWORDS.issuperset(kwargs) or session.auth or session.params:
            return session.request(  # a call's own verify= or proxies=, or a session set up by hand
                method,
                url,
                headers=headers,
                stream=True,
                timeout=self.timeout,
                allow_redirects=False,
                **kwargs,
            )
        prepared = self.prepare(method, url, headers, kwargs)
        settings = {**self.environment_settings(prepared.url, True)}
        settings["proxies"] = dict(settings["proxies"])  # the kept one is never handed out to change
        return session.send(prepared, timeout=self.timeout, allow_redirects=False, **settings)

    def prepare(
        self, method: str, url: str, headers: Mapping[str, str], kwargs: Mapping[str, Any]
    ) -> requests.PreparedRequest:
        """The request `Session.prepare_request` would make for a session without auth or params:
        the session's headers under the call's (a None value drops one), its cookies and hooks.
        Unlike it, no ~/.netrc entry is looked up: that would replace the credentials' header."""
        session = self.session
        merged = CaseInsensitiveDict(session.headers)
        merged.update(headers)
        prepared = requests.PreparedRequest()
        prepared.prepare_method(method.upper())
        prepared.prepare_url(url, kwargs.get("params") or {})
        prepared.prepare_headers({name: value for name, value in merged.items() if value is not None})
        prepared.prepare_cookies(session.cookies)
        prepared.prepare_body(kwargs.get("data") or {}, kwargs.get("files"), kwargs.get("json"))
        prepared.prepare_auth(None, url)  # credentials written into the URL, as requests takes them
        prepared.prepare_hooks(session.hooks)
        return prepared

    def environment_settings(self, url: str, stream: bool) -> dict[str, Any]:
        """`Session.merge_environment_settings` for `url`, kept per origin, environment values
        (`ENVIRONMENT_NAMES`) and session settings; computed afresh when any of them changes."""
        session = self.session
        parts = urllib.parse.urlsplit(url)
        environ = os.environ
        try:
            key = (
                parts.scheme,
                parts.netloc,
                stream,
                session.trust_env,
                tuple(environ.get(name) for name in ENVIRONMENT_NAMES),
                session.verify,
                session.cert,
                session.stream,
                tuple(session.proxies.items()),
            )
            found = self._settings.get(key)
        except TypeError:  # an unhashable setting (a list as cert): nothing kept
            return session.merge_environment_settings(url, {}, stream, None, None)
        if found is None:
            found = session.merge_environment_settings(url, {}, stream, None, None)
            if len(self._settings) >= SETTINGS_KEPT:
                self._settings.clear()
            self._settings[key] = found
        return found


# ---------------------------------------------------------------------- raw responses
def iter_body(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives, at most READ_SIZE decoded bytes a piece (a compressed read never
    expands further in one go). Chunked replies come chunk by chunk; for a reply without chunking
    `read1` returns what is there instead of waiting for a full buffer."""
    raw = response.raw
    if getattr(raw, "chunked", False) or not hasattr(raw, "read1"):
        return raw.stream(READ_SIZE, decode_content=True)
    return iter(lambda: raw.read1(READ_SIZE, decode_content=True), b"")


def socket_of(response: requests.Response) -> socket.socket | None:
    """The socket under a streamed response, when it can be reached (to set a timeout or shut it)."""
    raw = response.raw
    sock = getattr(getattr(raw, "_connection", None), "sock", None)
    if sock is None:  # urllib3 already let go of the connection: reach it through the file
        fp = getattr(getattr(raw, "_fp", None), "fp", None)
        sock = getattr(getattr(fp, "raw", None), "_sock", None)
    return sock


def abort(response: requests.Response) -> None:
    """Close a response's connection at once, waking a thread blocked reading it."""
    sock = socket_of(response)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    response.close()
