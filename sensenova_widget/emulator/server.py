"""The emulator's Starlette app: SenseNova's chat, model and file endpoints on one server.

Everything runs on the event loop (media decoding goes to a worker thread only when a request
carries media), replies are encoded once, and every reply, errors included, carries an
`x-request-id`. Error bodies have the service's shape `{"error": {"code", "message", "details"}}`.
The chat handler is written once for both dialects: a `EntryPoint` turns the request into the
native body (so one set of rules checks both) and shapes replies, events and errors; the
OpenAI-compatible one lives in `openai_routes`. A request body that stops arriving for
`body_timeout` seconds is answered 408 and its connection closed.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import hashlib
import json
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import protocol
from ..errors import InvalidRequestError, SenseNovaError
from .credentials import Credentials, Unauthorized
from .events import (
    DropConnection,
    choice_event,
    error_event,
    faulty_body,
    first_token_wait,
    reasoning_event,
    stream_events,
)
from .faults import DEFAULTS, FAULT_HEADER, KnobError, Knobs, TimesCounter
from .files import FileStore
from .replies import Plan, context_length, plan_reply
from .request_log import RequestLog

API_PREFIX = "/v1"
FILE_PREFIX = "/file/v1"
DEFAULT_MODELS = (*protocol.MODEL_CONTEXTS, "SenseChat-5", "SenseChat-Turbo")  # today's, then two older ids
MAX_VIDEO_UPLOAD_BYTES = 100_000_000  # (choice) the reference states no video limit
DRAIN_BYTES = 100_000_000  # read and discard this much of an oversized body so the client sees the 400
_EXCEPTION_GROUP = getattr(builtins, "BaseExceptionGroup", ())  # Python 3.11+; nothing to unwrap before
# The service's error code for each HTTP status (gRPC-style codes, spec "Errors").
CODE_FOR_STATUS = {
    400: 3,
    401: 16,
    403: 7,
    404: 5,
    405: 3,
    408: 1,
    409: 6,
    413: 3,
    415: 3,
    429: 8,
    500: 2,
    502: 14,
    503: 14,
    504: 4,
}
STATUS_MESSAGES = {
    408: "cancelled",
    409: "resource conflict",
    429: "rate limit exceeded: too many requests",
    500: "internal error",
    502: "bad gateway",
    503: "service unavailable: overloaded",
    504: "timeout",
    403: "permission denied",
    404: "not found",
    400: "invalid parameters",
}
HTML_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}"
    "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_REASONS = {
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
    500: "Internal Server Error",
    429: "Too Many Requests",
}


class _QuietDrops(logging.Filter):
    """Keep uvicorn's log free of what the emulator does on purpose: dropped connections, and
    streams still open (a stall, say) cancelled when the emulator stops."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while isinstance(exc, _EXCEPTION_GROUP) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        if isinstance(exc, (DropConnection, asyncio.CancelledError)):
            return False
        return not str(record.msg).startswith("Cancel %s running task(s)")


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def error_body(code: int | str, message: str, details: list | None = None) -> bytes:
    return dumps({"error": {"code": code, "message": message, "details": details or []}})


def error_response(
    status: int,
    message: str,
    *,
    code: int | None = None,
    details: list | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    code = CODE_FOR_STATUS.get(status, 2) if code is None else code
    return Response(
        error_body(code, message, details), status_code=status, headers=headers, media_type="application/json"
    )


class EntryPoint:
    """How one entry point shapes what it says; this one is the native endpoint (the 2024 reference)."""

    api = "native"  # the dialect whose parameters it takes (protocol.PARAMETERS' wire names)

    def error(
        self,
        status: int,
        message: str,
        *,
        code: int | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        return error_response(
            status, message, code=code, details=[{"field": field}] if field else None, headers=headers
        )

    def fault_message(self, status: int) -> str:
        """What an injected HTTP error says."""
        return STATUS_MESSAGES.get(status, "error") + " (emulated fault)"

    def served(self, state: EmulatorState) -> tuple[str, ...]:
        """The model ids this entry point answers."""
        return state.models

    def max_output(self, model: Any) -> int | None:
        """The model's limit on max_new_tokens when it is not the reference's."""
        return None

    def unknown_model(self, model: Any, served: tuple[str, ...]) -> Response:
        return self.error(
            404, f"model {model!r} not found: expected one of {', '.join(served)}", field="model"
        )

    def error_from(self, exc: SenseNovaError) -> Response:
        code = exc.code if isinstance(exc.code, int) else None
        return self.error(exc.status or 400, exc.message, code=code, field=getattr(exc, "field", None))

    def to_native(self, body: Any, state: EmulatorState) -> Any:
        """The native body the shared rules check (raises InvalidRequestError); native: itself."""
        return body

    def response_format(self, received: Any) -> Any:
        """The structured-output format the request asks for; the native shape has none."""
        return None

    def reply(self, plan: Plan, reply_id: str, body: dict) -> bytes:
        choice = {"message": plan.text, "finish_reason": plan.finish_reason, "index": 0, "role": "assistant"}
        if plan.reasoning:
            choice["reasoning_content"] = plan.reasoning_text
        return dumps({"data": {"id": reply_id, "choices": [choice], "usage": plan.usage()}})

    def stamp(self, reply_id: str, body: dict) -> str:
        """What every event of one streamed reply repeats, made once when the stream starts and
        handed to `event` and `finish` (never kept in the request body): here, the reply's id."""
        return reply_id

    def event(self, stamp: str, text: str, usage: dict, reasoning: bool) -> bytes:
        """One streamed delta (answer text, or reasoning before it)."""
        if reasoning:
            return reasoning_event(stamp, text, usage)
        return choice_event(stamp, text, "", usage)

    def finish(self, plan: Plan, stamp: str) -> bytes:
        """The finishing event and the end of the stream."""
        return choice_event(stamp, "", plan.finish_reason, plan.usage()) + b"data:[DONE]\n\n"

    def error_event(self, message: str) -> bytes:
        return error_event(message)


NATIVE = EntryPoint()


class BodyTimeout(Exception):
    """No byte of the request body arrived for `body_timeout` seconds."""


def body_timeout_response(dialect: EntryPoint = NATIVE) -> Response:
    """408, and the connection closed: what is left of the body may still come, nobody reads it."""
    return dialect.error(
        408,
        "request timeout: the request body stopped arriving",
        field="body",
        headers={"connection": "close"},
    )


@dataclass
class EmulatorState:
    """What the server keeps between requests; shared with the `Emulator` object in the test thread."""

    credentials: Credentials = field(default_factory=Credentials)
    knobs: Knobs = field(default_factory=Knobs)
    files: FileStore = field(default_factory=FileStore)
    requests: RequestLog = field(default_factory=RequestLog)
    times: TimesCounter = field(default_factory=TimesCounter)
    models: tuple[str, ...] = DEFAULT_MODELS
    started_at: int = field(default_factory=lambda: int(time.time()))


class RequestIdMiddleware:
    """Give every reply, errors and framework replies included, an `x-request-id`, and note when
    each request arrived (`request.state.arrived`, the loop's clock: `ttft` counts from there)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(12)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["arrived"] = asyncio.get_running_loop().time()
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_id)


# ---- reading a request ------------------------------------------------------------------------


class BodyTooLarge(Exception):
    pass


GONE = Response(status_code=499)  # the client left mid-body: nobody reads this reply


def _body_timeout(request: Request) -> float:
    return getattr(request.state, "knobs", DEFAULTS).body_timeout


class _Watchdog:
    """Cancels the reading task once no chunk has arrived for `timeout` seconds. One timer per body,
    moved only when it fires: a cancel scope per request cost the emulator ~30 us a request."""

    def __init__(self, timeout: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        self.timeout = timeout
        self.last = self.loop.time()  # when the last chunk arrived
        self.fired = False
        self.handle = self.loop.call_at(self.last + timeout, self._check)

    def _check(self) -> None:
        due = self.last + self.timeout
        if self.loop.time() < due:
            self.handle = self.loop.call_at(due, self._check)
            return
        self.fired = True
        assert self.task is not None
        self.task.cancel()


async def _read(
    stream: AsyncIterator[bytes], timeout: float, limit: int, chunks: list[bytes] | None, total: int = 0
) -> int:
    """Read `stream` until it ends or `total` passes `limit` (keeping chunks when given a list);
    BodyTimeout when `timeout` seconds pass without a byte. Returns the bytes read in all."""
    dog = _Watchdog(timeout)
    try:
        async for chunk in stream:
            dog.last = dog.loop.time()
            total += len(chunk)
            if total >= limit:
                break
            if chunks is not None:
                chunks.append(chunk)
    except asyncio.CancelledError:
        if not dog.fired:  # cancelled by someone else: not ours to swallow
            raise
        uncancel = getattr(dog.task, "uncancel", None)  # Python 3.11+
        if uncancel is not None:
            uncancel()
        raise BodyTimeout from None
    finally:
        dog.handle.cancel()
    return total


async def _drain(request: Request, stream: AsyncIterator[bytes], already: int) -> None:
    """Discard the rest of an oversized body (bounded) so the client can read our 400."""
    await _read(stream, _body_timeout(request), DRAIN_BYTES, None, already)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused before buffering when Content-Length (or the bytes so far) reach `limit`."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) >= limit:
        await _drain(request, request.stream(), 0)
        raise BodyTooLarge(int(length))
    chunks: list[bytes] = []
    stream = request.stream()
    total = await _read(stream, _body_timeout(request), limit, chunks)
    if total >= limit:
        await _drain(request, stream, total)
        raise BodyTooLarge(total)
    return b"".join(chunks)


async def unread(request: Request, refusal: Response) -> Response:
    """Read and discard the body (bounded) before refusing, so a client still sending an upload
    reads the refusal instead of a reset connection."""
    try:
        await _drain(request, request.stream(), 0)
    except ClientDisconnect:
        return GONE
    except BodyTimeout:
        refusal.headers["connection"] = "close"
    return refusal


def admit(request: Request, dialect: EntryPoint = NATIVE) -> Response | None:
    """Credentials, then the fault header: a refusal, or None with `request.state.knobs` set."""
    state: EmulatorState = request.app.state.emulator
    try:
        state.credentials.check(request.headers.get("authorization"))
    except Unauthorized as exc:
        return dialect.error(401, str(exc), headers={"www-authenticate": "Bearer"})
    try:
        request.state.knobs = state.knobs.with_header(request.headers.get(FAULT_HEADER))
    except KnobError as exc:
        return dialect.error(400, str(exc), field=FAULT_HEADER)
    return None


def injected_fault(request: Request, dialect: EntryPoint = NATIVE, received: Any = None) -> Response | None:
    """The HTTP error the knobs ask for this request, while `times` allows (after `admit`)."""
    knobs: Knobs = request.state.knobs
    state: EmulatorState = request.app.state.emulator
    if knobs.error_status and state.times.should_fail(
        _times_key(request.headers.get(FAULT_HEADER)), knobs.times
    ):
        return fault_response(knobs, dialect)
    if knobs.gate and _gate_refuses(knobs, state, received):  # the token plan's rate gate
        return dialect.error(429, protocol.RATE_GATE_MESSAGE, headers=_retry_after(knobs))
    return None


def _gate_refuses(knobs: Knobs, state: EmulatorState, received: Any) -> bool:
    """A draw below `gate`: random, or with `gate_seed` one that follows from the seed, the
    request's question and how often it was asked (the same weather for every client)."""
    if knobs.gate_seed is None or received is None:
        return random.random() < knobs.gate
    question = _question(received)
    attempt = state.times.attempt("gate:" + question)
    digest = hashlib.sha256(f"{knobs.gate_seed}|{attempt}|{question}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < knobs.gate


def _question(received: Any) -> str:
    """The text of a request's last message (whatever its shape), '' when it has none."""
    try:
        content = received["messages"][-1]["content"]
    except (KeyError, IndexError, TypeError):
        return ""
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else []
    return " ".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


def _retry_after(knobs: Knobs) -> dict[str, str]:
    return {"retry-after": f"{knobs.retry_after:g}"} if knobs.retry_after is not None else {}


def guarded(
    handler: Callable[[Request], Awaitable[Response]], dialect: EntryPoint = NATIVE
) -> Callable[[Request], Awaitable[Response]]:
    """Credentials, knobs and injected HTTP faults before a model or file endpoint runs."""

    @functools.wraps(handler)
    async def checked(request: Request) -> Response:
        refusal = admit(request, dialect) or injected_fault(request, dialect)
        if refusal:
            return await unread(request, refusal)
        return await handler(request)

    return checked


# ---- chat completions -------------------------------------------------------------------------


def fault_response(knobs: Knobs, dialect: EntryPoint = NATIVE) -> Response:
    """The HTTP error a fault knob asks for: the service's JSON error or a proxy's HTML page."""
    status = knobs.error_status or 500
    headers = _retry_after(knobs)
    if knobs.html:
        page = HTML_PAGE.format(status=status, reason=_REASONS.get(status, "Error"))
        return Response(page, status_code=status, headers=headers, media_type="text/html")
    message = protocol.QUOTA_EXHAUSTED_MESSAGE if knobs.quota else dialect.fault_message(status)
    return dialect.error(status, message, headers=headers)


def _times_key(header: str | None) -> str:
    """`times` counts per fault header value; a status set on the server counts under one key."""
    if header and any(name in header for name in ("status", "html", "times", "quota")):
        return header
    return ""


INLINE_PLAN_BYTES = 32 * 1024  # a request body this small holds at most a few thumbnails
INLINE_PLAN_TYPES = frozenset({"image_url", "image_base64"})  # pixels in the body (a URL is never fetched)


def _plan_off_loop(body: dict, size: int) -> bool:
    """Whether the reply is planned on a worker thread: a video, an uploaded file or a body over
    INLINE_PLAN_BYTES can take long to decode, and the loop must go on answering meanwhile. A few
    small inline images decode faster than a thread hop (a third of an image request's CPU), and
    on the loop a reply that falls due does not wait for the worker to give back the GIL."""
    media_types = {
        part["type"]
        for message in body["messages"]
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if protocol.media_kind(part)
    }
    return bool(media_types) and (size > INLINE_PLAN_BYTES or not media_types <= INLINE_PLAN_TYPES)


async def chat_completions(request: Request) -> Response:
    return await serve_chat(request, NATIVE)


def _parse(raw: bytes, dialect: EntryPoint) -> tuple[Any, Response | None]:
    """The JSON body, or the 400 that says why it is not one."""
    try:
        return json.loads(raw), None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, dialect.error(400, f"the request body is not valid JSON: {exc}", field="body")
    except RecursionError:
        return None, dialect.error(
            400, "the request body nests too deeply to be a chat request", field="body"
        )


async def serve_chat(request: Request, dialect: EntryPoint) -> Response:
    """One chat request in either dialect: admit, read, record, validate, then reply or stream."""
    state: EmulatorState = request.app.state.emulator
    refusal = admit(request, dialect)
    if refusal:
        return await unread(request, refusal)
    knobs: Knobs = request.state.knobs
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        return await unread(
            request,
            dialect.error(
                400,
                f"Content-Type {content_type or '(none)'!r} is not allowed: expected application/json",
                field="Content-Type",
            ),
        )
    try:
        raw = await read_body(request, protocol.MAX_BODY_BYTES)
    except BodyTooLarge as exc:
        return dialect.error_from(_size_error(exc.args[0]))
    except BodyTimeout:
        return body_timeout_response(dialect)
    except ClientDisconnect:
        return GONE
    received, refusal = _parse(raw, dialect)
    if refusal:
        return refusal
    # Recorded before any injected fault, so a test sees every retry; bounded in count and bytes.
    size = len(raw)
    state.requests.record(received, size, request.url.path)
    del raw
    refusal = injected_fault(request, dialect, received)
    if refusal:
        return refusal
    try:
        body = dialect.to_native(received, state)
        fmt = dialect.response_format(received)
        model = body.get("model") if isinstance(body, dict) else None  # a body of any JSON shape
        protocol.validate_body(body, dialect.api, max_output=dialect.max_output(model))
        served = dialect.served(state)
        if body["model"] not in served:
            return dialect.unknown_model(body["model"], served)
        if _plan_off_loop(body, size):
            plan = await anyio.to_thread.run_sync(plan_reply, body, knobs, state.files, fmt)
        else:
            plan = plan_reply(body, knobs, state.files, fmt)
    except SenseNovaError as exc:
        return dialect.error_from(exc)
    reply_id = secrets.token_hex(8)
    if body.get("stream"):
        return StreamingResponse(
            stream_events(plan, knobs, reply_id, dialect, body, request.state.arrived),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache"},
        )
    if knobs.error_after is not None:
        return dialect.error(500, "internal error (emulated error_after)")
    encoded = dialect.reply(plan, reply_id, body)
    if knobs.stall_after is not None or knobs.drop_after is not None:
        return StreamingResponse(
            faulty_body(encoded, knobs, request.state.arrived),
            media_type="application/json",
            headers={"content-length": str(len(encoded))},
        )
    await first_token_wait(knobs, request.state.arrived)
    return Response(encoded, media_type="application/json")


def _size_error(size: int) -> InvalidRequestError:
    try:
        protocol.check_body_size(size)
    except InvalidRequestError as exc:
        return exc
    return InvalidRequestError("request body too large", field="body", code=3, status=400)


# ---- models ---------------------------------------------------------------------------------


def model_info(state: EmulatorState, model: str) -> dict:
    return {
        "id": model,
        "object": "model",
        "created": state.started_at,
        "owned_by": "SenseTime",
        "context_length": context_length(model, state.knobs),
    }


@guarded
async def list_models(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    return Response(
        dumps({"object": "list", "data": [model_info(state, m) for m in state.models]}),
        media_type="application/json",
    )


@guarded
async def get_model(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    model = request.path_params["model"]
    if model not in state.models:
        return error_response(404, f"model {model!r} not found", details=[{"field": "model"}])
    return Response(dumps(model_info(state, model)), media_type="application/json")
