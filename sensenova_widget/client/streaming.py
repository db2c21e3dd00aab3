"""`Stream`: a streamed reply read as raw bytes through `sse.SSEDecoder`.

The reading is split in small steps: `_events` turns the body into parsed events (ending at
`[DONE]`), `_apply` turns one event into a `Delta` (or raises the error it carries), `_attempt`
reads one response and says whether its connection broke, and `_deltas` retries a broken
connection by the client's `RetryPolicy` while no text was delivered. `close()` may be called
from any thread: it shuts the connection at once and the iteration ends quietly as "stopped".
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Generator, Iterator, Mapping
from itertools import chain
from typing import Any

import requests

from ..errors import (
    OK_CODES,
    APIConnectionError,
    SenseNovaError,
    StreamError,
    error_fields,
    error_for_code,
)
from .auth import Credentials
from .dialects import Dialect, dialect_for
from .reasoning import ThinkSplitter
from .replies import Delta, Reply, read_reply
from .sse import DONE, SSEDecoder
from .transport import RetryPolicy, abort, connection_error, iter_body, socket_of

__all__ = ["Stream", "parse_event", "carries_error", "event_error"]

logger = logging.getLogger("sensenova_widget")

DRAIN_TIMEOUT = 1.0  # after [DONE], how long the rest of the body (its end marker) may take
_SCAN_JSON = json.JSONDecoder().scan_once  # the C scanner behind json.loads, without its wrapping
_UNREADABLE = (ValueError, KeyError, IndexError, TypeError, AttributeError)


def parse_event(data: bytes) -> Any:
    """One event's JSON. The C scanner alone when it reads the whole text (json.loads adds
    encoding sniffing and regexes); else json.loads, which allows whitespace or names the problem."""
    text = data.decode()
    try:
        event, end = _SCAN_JSON(text, 0)
    except StopIteration:
        end = -1
    return event if end == len(text) else json.loads(text)


def carries_error(event: Mapping[str, Any]) -> bool:
    """Whether an event reports an error (`error`, or a non-zero `status.code`)."""
    status = event.get("status")
    return bool(event.get("error") or (status and status.get("code") not in OK_CODES))


def event_error(event: Mapping[str, Any], *, request_id: str | None, partial_text: str) -> SenseNovaError:
    """The StreamError for an event that `carries_error`, typed by the service's code."""
    code, message, details = error_fields(event)
    return error_for_code(
        code,
        f"the service ended the stream with an error: {message or 'no message'}",
        cls=StreamError,
        request_id=request_id,
        details=details,
        partial_text=partial_text,
    )


class Stream:
    """A streaming reply: iterate it for `Delta`s; `text` and `reply` hold what arrived so far.

    `close()` (or leaving the `with` block) may be called from any thread: it closes the HTTP
    connection at once, the iteration then ends quietly and `reply.finish_reason == "stopped"`.
    `open_response(retries)` sends the request (with that many retries of its own).
    """

    def __init__(
        self,
        open_response: Callable[[int], requests.Response],
        *,
        retry: RetryPolicy,
        url: str,
        model: str,
        omitted: list[str],
        dialect: Dialect | None = None,
        redact: Credentials | None = None,
    ) -> None:
        self._open = open_response
        self._credentials = redact  # whose secrets are redacted from each event and the text
        self._dialect = dialect or dialect_for("native")
        self._fields = self._dialect.event  # reads one event of the dialect's shape
        self._think: ThinkSplitter | None = ThinkSplitter()  # None once the answer has begun
        self._thoughts: list[str] = []
        self._retry = retry
        self._url = url
        self._lock = threading.Lock()
        self._closed = False
        self._ended = False
        self._pieces: list[str] = []
        self._callbacks: list[Callable[[Stream], Any]] = []
        self._done = False
        self.error: BaseException | None = None
        self.model = model
        self.omitted = omitted
        self.finish_reason: str | None = None
        self.usage: dict = {}
        self.id: str | None = None
        self._response = open_response(retry.max_retries)
        self.request_id: str | None = self._response.headers.get("x-request-id")
        self._iterator = self._deltas()

    # -- reading
    def __iter__(self) -> Iterator[Delta]:
        return self._iterator

    def __next__(self) -> Delta:
        return next(self._iterator)

    @property
    def text(self) -> str:
        """The answer so far, without the client's secrets even when they came split across events."""
        text = "".join(self._pieces)
        return self._credentials.redact(text) if self._credentials else text

    @property
    def reasoning(self) -> str:
        """The reasoning so far (a reasoning model's thinking, never part of `text`)."""
        text = "".join(self._thoughts)
        return self._credentials.redact(text) if self._credentials else text

    @property
    def reply(self) -> Reply:
        """The reply so far; whole once the stream ended (`finish_reason` None while it runs)."""
        return Reply(
            text=self.text,
            finish_reason=self.finish_reason,
            usage=dict(self.usage),
            id=self.id,
            request_id=self.request_id,
            model=self.model,
            omitted=list(self.omitted),
            reasoning=self.reasoning,
        )

    def until_done(self) -> Reply:
        """Read the rest of the stream and return the whole reply."""
        for _ in self._iterator:
            pass
        return self.reply

    # -- closing
    def close(self) -> None:
        """Stop now: close the connection (from any thread); the partial text is kept."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._ended or self._done:  # over already: its connection went back to the pool
                return
            response = self._response
            if self.finish_reason is None and self.error is None:
                self.finish_reason = "stopped"
        abort(response)
        try:
            self._iterator.close()  # runs its cleanup now unless another thread is inside it
        except ValueError:  # "generator already executing": that thread wakes up and cleans up
            return
        self._finish_once()

    def add_done_callback(self, callback: Callable[[Stream], Any]) -> None:
        """Call `callback(stream)` once when the stream ends, is closed or fails (`stream.error`)."""
        with self._lock:
            if not self._done:
                self._callbacks.append(callback)
                return
        callback(self)

    def _finish_once(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                logger.exception("a stream's done callback failed")

    @property
    def closed(self) -> bool:
        return self._closed or self._ended

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not self._closed:
                self._response.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Stream {state} model={self.model!r} chars={sum(map(len, self._pieces))}>"

    # -- the event loop (the hot path, see benchmarks/bench_stream.py)
    def _deltas(self) -> Iterator[Delta]:
        """Every response's deltas; a broken connection is retried while no text was delivered."""
        retries_done = 0
        try:
            while True:
                error = yield from self._attempt()
                if error is None:
                    return
                self._retry_or_raise(error, retries_done)
                retries_done += 1
                if not self._reopen(self._retry.max_retries - retries_done):
                    return
        except GeneratorExit:
            raise
        except BaseException as exc:
            self.error = exc
            if isinstance(exc, KeyboardInterrupt):  # the person interrupting is stopping the reply
                self.finish_reason = self.finish_reason or "stopped"
            raise
        finally:
            self._response.close()
            self._finish_once()

    def _attempt(self) -> Generator[Delta, None, APIConnectionError | None]:
        """Read the current response to its end: None when the reply is over (or closed), or the
        connection error that broke it. An error the service sent is raised."""
        try:
            apply = self._apply
            for event in self._events():
                delta = apply(event)
                if delta is not None:
                    yield delta
            if self._closed or self._ended:
                return None
            if self.finish_reason:  # ended without [DONE]: the reply is whole all the same
                self._ended = True
                return None
            raise APIConnectionError("the connection closed before the reply finished")
        except GeneratorExit:
            raise
        except APIConnectionError as exc:
            return exc
        except SenseNovaError:
            raise  # an error event, or an error the server answered in JSON
        except _UNREADABLE as exc:
            if self._closed:
                return None
            raise StreamError(
                f"the stream sent an event this client cannot read ({type(exc).__name__}: {exc})",
                request_id=self.request_id,
                partial_text=self.text,
            ) from None
        except Exception as exc:
            return None if self._closed else connection_error(exc, self._url)

    def _events(self) -> Iterator[Any]:
        """The parsed events of the current response, up to [DONE] (after which the body is drained)."""
        decoder = SSEDecoder()
        redact = self._credentials.redact_bytes if self._credentials else bytes
        if self._response.headers.get("content-type", "").startswith("application/json"):
            reads: Iterator[list[bytes]] = iter([self._json_reply_as_events()])  # the server did not stream
        else:
            reads = map(decoder.feed, iter_body(self._response))
        for payloads in chain(reads, (decoder.flush() for _ in (0,))):
            for data in payloads:
                if self._closed:
                    return
                if data == DONE:
                    self._ended = True
                    self._release(reads)
                    return
                yield parse_event(redact(data))

    def _apply(self, event: Any) -> Delta | None:
        """Take in one event: its text, reasoning, finish reason, usage and id; None for one that
        carries none. A leading `<think>` block of the text is read as reasoning, piece by piece."""
        if carries_error(event):
            raise event_error(event, request_id=self.request_id, partial_text=self.text)
        text, reasoning, finish, usage, reply_id = self._fields(event)
        if usage:
            self.usage = usage
        if self.id is None:
            self.id = reply_id
        if self._think is not None and (text or finish):
            text, reasoning = self._split(text, reasoning, finish)
        if reasoning:
            self._thoughts.append(reasoning)
        if text:
            self._pieces.append(text)
        elif not finish and not reasoning:
            return None
        if finish:
            self.finish_reason = finish
        return Delta(text, finish, usage, reasoning)

    def _split(self, text: str, reasoning: str, finish: str | None) -> tuple[str, str]:
        """(answer, reasoning) of a piece while the answer has not begun (a `<think>` block may lead)."""
        think = self._think
        assert think is not None
        thought, text = think.feed(text)
        if finish:
            more_thought, more_text = think.flush()
            thought, text = thought + more_thought, text + more_text
        if think.state == "answer" or finish:
            self._think = None
        return text, reasoning + thought

    def _retry_or_raise(self, error: APIConnectionError, retries_done: int) -> None:
        """Wait before retrying a broken connection, or raise when text came or retries ran out."""
        error.request_id = error.request_id or self.request_id
        if self._pieces or self._thoughts or retries_done >= self._retry.max_retries:
            error.partial_text = self.text
            raise error from None
        self._retry.wait(retries_done, error, self._url)

    def _reopen(self, retries: int) -> bool:
        """Send the request again; False when the stream was closed meanwhile."""
        self._response.close()
        response = self._open(retries)
        with self._lock:
            self._response = response
            if self._closed:
                return False
        self.request_id = response.headers.get("x-request-id")
        return True

    def _json_reply_as_events(self) -> list[bytes]:
        """A stream request answered with plain JSON (a whole reply, or an error, which is raised):
        the same reply as the events a stream would have sent."""
        body, text, reasoning, finish = read_reply(self._response, self._dialect)
        event = self._dialect.event_of_reply(body, text, reasoning, finish)
        return [json.dumps(event).encode(), DONE]

    def _release(self, reads: Iterator) -> None:
        """After [DONE]: read the body's end (the last chunk marker) so the connection can be
        reused (for HTTPS that saves a TLS handshake per reply), waiting at most DRAIN_TIMEOUT."""
        sock = socket_of(self._response)
        try:
            previous = sock.gettimeout() if sock is not None else None
            if sock is not None:
                sock.settimeout(DRAIN_TIMEOUT)
            for _ in reads:
                pass
            if sock is not None:
                sock.settimeout(previous)
        except Exception:  # the connection is dropped instead: nothing of the reply is lost
            self._response.close()
