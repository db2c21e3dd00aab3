"""`Client`: SenseNova's image-text chat completions over one `requests` session.

The one place that speaks the protocol (`../shared/spec/chat-completions.md`): it builds and
validates the body before anything is sent, signs the request, retries what is worth retrying
(openai-python's policy: 408/409/429/5xx and connection errors, 0.5 s doubling to 8 s with
jitter, `Retry-After` honoured up to 120 s, never once a stream has delivered text), and turns
replies and server-sent events into `Reply` and `Delta`. Streams are read as raw bytes through
`sse.SSEDecoder` and can be closed from any thread, which closes the connection at once.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Callable, NamedTuple

import requests
from requests.adapters import HTTPAdapter

from . import protocol
from .auth import Credentials
from .errors import (
    APIConnectionError,
    APITimeoutError,
    InvalidRequestError,
    SenseNovaError,
    ServerError,
    StreamError,
    error_for_status,
)
from .sse import DONE, SSEDecoder

__all__ = ["Client", "Reply", "Delta", "Stream"]

logger = logging.getLogger("sensenova_widget")

RETRY_STATUSES = frozenset({408, 409, 429})
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_RETRY_AFTER = 120.0
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 600.0  # the longest silence between two reads: a whole non-streamed long reply can take minutes
POOL_SIZE = 32  # connections kept per host: captioning runs many requests at once
QUOTE_CHARS = 200
DRAIN_TIMEOUT = 1.0  # after [DONE], how long the rest of the body (its end marker) may take
# The service's error codes and the HTTP status each goes with (spec, "Errors").
CODE_STATUS = {1: 408, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409}
_OK_CODES = (0, "0", None)  # a `status.code` that means no error
_EMPTY: dict = {}
_SCAN_JSON = json.JSONDecoder().scan_once  # the C scanner behind json.loads, without its wrapping


class Prepared(NamedTuple):
    """A checked request: the wire body, notices of media left out, and the exact bytes to send."""

    body: dict
    omitted: list[str]
    data: bytes


@dataclass(slots=True)
class Delta:
    """One piece of a streamed reply: its new text, and on the last one the finish reason."""

    text: str
    finish_reason: str | None = None
    usage: dict | None = None


@dataclass
class Reply:
    """A whole reply. `finish_reason` is stop|length|sensitive|context, or `stopped` when closed early."""

    text: str = ""
    finish_reason: str | None = None
    usage: dict = field(default_factory=dict)
    id: str | None = None
    request_id: str | None = None
    model: str | None = None
    omitted: list[str] = field(default_factory=list)

    @property
    def notice(self) -> str | None:
        """What the ending means to a reader (None for a normal stop)."""
        return protocol.FINISH_NOTICES.get(self.finish_reason or "")

    def __str__(self) -> str:
        return self.text

    def footer_lines(self) -> list[str]:
        """How the reply ended (when not plainly), media the history policy left out, and tokens."""
        lines = [self.notice] if self.notice else []
        lines += self.omitted
        if self.usage:
            lines.append(f"{self.model or ''} \u00b7 {self.usage.get('prompt_tokens', 0)} prompt + "
                         f"{self.usage.get('completion_tokens', 0)} reply tokens".lstrip(" \u00b7"))
        return lines

    def _repr_html_(self) -> str:
        # Model text is untrusted and JupyterLab does not sanitize a notebook's own outputs, so the
        # Markdown is rendered here with raw HTML escaped (never handed over as text/markdown).
        from .display import footer_html, markdown_html

        return markdown_html(self.text) + footer_html(self.footer_lines())


def _shorten(text: str) -> str:
    """`text` on one line, cut to QUOTE_CHARS: fit for an error message."""
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 3] + "..."


def _quote(body: bytes | str) -> str:
    """The start of a body that is not the service's JSON, quoted so it is shown, never run."""
    return repr(_shorten(body.decode("utf-8", "replace") if isinstance(body, bytes) else body))


def _error_fields(payload: Any) -> tuple[int | str | None, str | None, Any]:
    """(code, message, details) from `{"error": {...}}` or a non-zero `{"status": {...}}`."""
    if not isinstance(payload, Mapping):
        return None, None, None
    error = payload.get("error")
    if isinstance(error, Mapping):
        return error.get("code"), error.get("message"), error.get("details")
    if isinstance(error, str) and error:
        return None, error, None
    status = payload.get("status")
    if isinstance(status, Mapping) and status.get("code") not in _OK_CODES:
        return status.get("code"), status.get("message"), status.get("details")
    return None, None, None


def _parse_retry_after(value: str | None) -> float | None:
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


def _error_from_response(response: requests.Response) -> SenseNovaError:
    """The typed error for an HTTP error reply; reads (and so releases) the body."""
    status = response.status_code
    request_id = response.headers.get("x-request-id")
    body = response.content
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    code, message, details = _error_fields(payload)
    if message is None:
        kind = "an empty body" if not body.strip() else ("a body that is not JSON: " + _quote(body)
                                                          if payload is None else "JSON without an error: " + _quote(body))
        message = f"HTTP {status} {response.reason or ''}".rstrip() + f" with {kind}"
    if status == 401:
        message += " (check SENSENOVA_API_KEY, or SENSENOVA_ACCESS_KEY_ID and SENSENOVA_SECRET_ACCESS_KEY)"
    return error_for_status(status)(message, status=status, code=code, request_id=request_id, details=details)


def _json_of(response: requests.Response, what: str) -> Any:
    """A successful reply's JSON; a ServerError quoting the body when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        raise ServerError(f"{what} is not JSON: {_quote(response.content)}",
                          request_id=response.headers.get("x-request-id")) from None


def _read_reply(response: requests.Response) -> tuple[dict, str, str | None]:
    """(data, text, finish reason) of a whole JSON reply; an error it carries is raised, typed by its code."""
    request_id = response.headers.get("x-request-id")
    content = response.content
    try:
        payload = json.loads(content)
    except ValueError:
        raise ServerError(f"HTTP {response.status_code} with a body that is not JSON: {_quote(content)}",
                          status=response.status_code, request_id=request_id) from None
    code, message, details = _error_fields(payload)
    if message is not None or code is not None:
        status = CODE_STATUS.get(code) if isinstance(code, int) else None
        raise error_for_status(status or 500)(message or "the service reported an error", status=status,
                                              code=code, request_id=request_id, details=details)
    try:
        body = payload["data"]
        choice = body["choices"][0]
        text = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise ServerError(f"the reply has no data.choices[0].message: {_quote(content)}",
                          status=response.status_code, request_id=request_id) from None
    if isinstance(text, Mapping):  # an OpenAI-style {"role":..., "content":...}
        text = text.get("content") or ""
    return body, text, choice.get("finish_reason") or None


def _connection_error(exc: BaseException, url: str) -> APIConnectionError:
    """An APITimeoutError or APIConnectionError for an exception raised by requests/urllib3/socket."""
    import urllib3.exceptions

    causes = [exc, *exc.args]  # requests wraps urllib3's ReadTimeoutError in a ConnectionError
    timed_out = any(isinstance(e, (requests.Timeout, urllib3.exceptions.TimeoutError, socket.timeout, TimeoutError))
                    for e in causes)
    reason = _shorten(str(exc))
    if timed_out:
        return APITimeoutError(f"no answer from {url} within the timeout ({type(exc).__name__}: {reason})")
    return APIConnectionError(f"the connection to {url} failed ({type(exc).__name__}: {reason})")


def _retryable(error: SenseNovaError) -> bool:
    if isinstance(error, APIConnectionError):
        return True
    return error.status is not None and (error.status in RETRY_STATUSES or error.status >= 500)


def _iter_bytes(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives. Chunked replies come chunk by chunk through `iter_content`; for a
    reply without chunking `read1` returns what is there instead of waiting for a full buffer."""
    raw = response.raw
    if getattr(raw, "chunked", False) or not hasattr(raw, "read1"):
        return response.iter_content(chunk_size=None)
    return iter(lambda: raw.read1(65536, decode_content=True), b"")


def _socket_of(response: requests.Response) -> socket.socket | None:
    raw = response.raw
    sock = getattr(getattr(raw, "_connection", None), "sock", None)
    if sock is None:  # urllib3 already let go of the connection: reach it through the file
        fp = getattr(getattr(raw, "_fp", None), "fp", None)
        sock = getattr(getattr(fp, "raw", None), "_sock", None)
    return sock


def _abort(response: requests.Response) -> None:
    """Close a response's connection at once, waking a thread blocked reading it."""
    sock = _socket_of(response)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    response.close()


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


class Client:
    """A SenseNova client: thread-safe, one connection pool, credentials kept out of every repr."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        base_url: str | None = None,
        file_base_url: str | None = None,
        timeout: float | tuple[float, float] | None = None,
        max_retries: int = 2,
        model: str | None = None,
        history_media: str = "recent",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._credentials = Credentials(api_key, access_key_id=access_key_id, secret_access_key=secret_access_key)
        env = os.environ
        self.base_url = (base_url or env.get("SENSENOVA_API_BASE") or protocol.DEFAULT_BASE_URL).rstrip("/")
        self.file_base_url = (file_base_url or env.get("SENSENOVA_API_BASE_FILE")
                              or protocol.DEFAULT_FILE_BASE_URL).rstrip("/")
        if timeout is None:
            timeout = (CONNECT_TIMEOUT, READ_TIMEOUT)
        elif isinstance(timeout, (tuple, list)):
            timeout = (float(timeout[0]), float(timeout[1]))
        else:  # one number: the longest wait for the next bytes (and for connecting, up to 10 s)
            timeout = (min(float(timeout), CONNECT_TIMEOUT), float(timeout))
        self.timeout: tuple[float, float] = timeout
        if not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidRequestError(f"max_retries={max_retries!r} is not allowed: expected an integer >= 0.",
                                      field="max_retries")
        self.max_retries = max_retries
        self.model = model
        self.history_media = history_media
        self.headers = dict(headers or {})
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r}, model={self.resolve_model()!r}, auth=<{self._credentials.kind}>)"

    @property
    def session(self) -> requests.Session:
        """The one pooled session every call shares (batch code hooks its responses to pace itself)."""
        return self._session

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def resolve_model(self, model: str | None = None) -> str:
        """The model of a call: its argument, else Client(model=), else SENSENOVA_MODEL, else the default."""
        return model or self.model or os.environ.get("SENSENOVA_MODEL") or protocol.DEFAULT_MODEL

    # ----------------------------------------------------------------- building the body
    def build_body(
        self,
        prompt_or_messages: str | Sequence[Any],
        *,
        stream: bool = False,
        model: str | None = None,
        images: Any = None,
        video: Any = None,
        system: str | None = None,
        max_new_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
        user: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> tuple[dict, list[str]]:
        """The validated wire body and the notices of media the history policy left out."""
        body, omitted, _ = self._prepare(
            prompt_or_messages, stream=stream, model=model, images=images, video=video, system=system,
            max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
            repetition_penalty=repetition_penalty, user=user)
        return body, omitted

    def _prepare(self, prompt_or_messages: Any, *, stream: bool, model: str | None, images: Any, video: Any,
                 system: str | None, **params: Any) -> Prepared:
        messages = self._messages(prompt_or_messages, images, video, system)
        omitted: list[str] = []
        if any(protocol.count_media(messages)):  # text-only chats need no media policy (nor PIL)
            from .history import apply_media_policy

            messages, omitted = apply_media_policy(messages, policy=self.history_media)
        body: dict[str, Any] = {"model": self.resolve_model(model), "messages": messages}
        body.update((name, value) for name, value in params.items() if value is not None)
        body["stream"] = stream
        protocol.validate_body(body)
        try:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise InvalidRequestError(f"the request cannot be sent as JSON: {exc}", field="messages") from None
        protocol.check_body_size(len(data))
        return Prepared(body, list(omitted), data)

    def _messages(self, prompt_or_messages: Any, images: Any, video: Any, system: str | None) -> list:
        media = self._media_parts(images, video)
        if isinstance(prompt_or_messages, str):
            messages = [{"role": "user", "content": media + [{"type": "text", "text": prompt_or_messages}]}]
        elif isinstance(prompt_or_messages, Sequence) and not isinstance(prompt_or_messages, (bytes, bytearray)):
            messages = [self._message(m) for m in prompt_or_messages]
            if media:
                last = messages[-1] if messages else None
                if not isinstance(last, dict) or last.get("role") != "user" or not isinstance(last["content"], list):
                    raise InvalidRequestError("images=/video= attach to the last message, which must be a user "
                                              "message with content", field="messages")
                last["content"] = media + last["content"]
        else:
            raise InvalidRequestError(
                f"prompt_or_messages={_quote(repr(prompt_or_messages))} is not allowed: expected a str (one user "
                "turn) or a list of messages {'role': ..., 'content': ...}.", field="messages")
        if system is not None:
            if messages and isinstance(messages[0], dict) and messages[0].get("role") == "system":
                raise InvalidRequestError("system= was given but the messages already start with a system message: "
                                          "give the system prompt once.", field="system")
            messages.insert(0, {"role": "system", "content": [{"type": "text", "text": system}]})
        return messages

    def _message(self, message: Any) -> Any:
        if not isinstance(message, Mapping):
            return message  # validate_body names it
        return {"role": message.get("role"), "content": self._content(message.get("content"))}

    def _content(self, content: Any) -> Any:
        if content is None:
            return None
        if isinstance(content, str):
            return [{"type": "text", "text": content}]
        if isinstance(content, (list, tuple)):
            return [self._part(part) for part in content]
        return [self._part(content)]

    def _part(self, part: Any) -> Any:
        """A wire dict as it is, a str as text, anything else through the media layer."""
        if isinstance(part, Mapping):
            return dict(part)
        if isinstance(part, str):
            return {"type": "text", "text": part}
        from .media import to_part

        return to_part(part, client=self)

    def _media_parts(self, images: Any, video: Any) -> list[dict]:
        """The wire parts of `images=` and `video=` (one value or a list each), images first."""
        return ([self._media_part(value, "image") for value in _as_list(images)]
                + [self._media_part(value, "video") for value in _as_list(video)])

    def _media_part(self, value: Any, kind: str) -> dict:
        if isinstance(value, Mapping):
            return dict(value)
        from . import media

        return media.to_part(media.image(value) if kind == "image" else media.video(value), client=self)

    # ----------------------------------------------------------------- sending
    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {**self.headers, **(extra or {})}
        headers.update(self._credentials.header())  # last: no caller header can replace it
        return headers

    def _retry_delay(self, retries_done: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        delay = min(INITIAL_RETRY_DELAY * 2 ** retries_done, MAX_RETRY_DELAY)
        return delay * (1 - 0.25 * random.random())

    def _wait_before_retry(self, retries_done: int, error: SenseNovaError, url: str,
                           retry_after: float | None = None) -> None:
        delay = self._retry_delay(retries_done, retry_after)
        logger.warning("SenseNova request to %s failed (%s); retry %d of %d in %.2f s",
                       url, error.one_line(), retries_done + 1, self.max_retries, delay)
        time.sleep(delay)

    def _request(self, method: str, url: str, *, stream: bool = False,
                 extra_headers: Mapping[str, str] | None = None, retries: int | None = None,
                 **kwargs: Any) -> requests.Response:
        """Send with up to `retries` (default max_retries) retries; return a success or raise the typed error."""
        retries = self.max_retries if retries is None else retries
        retries_done = 0
        while True:
            retry_after = None
            try:
                response = self._session.request(method, url, headers=self._headers(extra_headers), stream=stream,
                                                 timeout=self.timeout, **kwargs)
            except requests.RequestException as exc:
                error: SenseNovaError = _connection_error(exc, url)
            else:
                if response.status_code < 400:
                    return response
                retry_after = _parse_retry_after(response.headers.get("retry-after"))
                error = _error_from_response(response)
                response.close()
            if retries_done >= retries or not _retryable(error):
                raise error
            self._wait_before_retry(retries_done, error, url, retry_after)
            retries_done += 1

    def _post_chat(self, data: bytes, *, stream: bool, extra_headers: Mapping[str, str] | None,
                   retries: int | None = None) -> requests.Response:
        headers = {**(extra_headers or {}), "Content-Type": "application/json",
                   "Accept": "text/event-stream" if stream else "application/json"}
        return self._request("POST", self.base_url + protocol.CHAT_PATH, data=data, stream=stream,
                             extra_headers=headers, retries=retries)

    # ----------------------------------------------------------------- public calls
    def chat(self, prompt_or_messages: str | Sequence[Any], *, model: str | None = None, images: Any = None,
             video: Any = None, system: str | None = None, max_new_tokens: int | None = None,
             temperature: float | None = None, top_p: float | None = None,
             repetition_penalty: float | None = None, user: str | None = None,
             extra_headers: Mapping[str, str] | None = None) -> Reply:
        """Send one request and return the whole reply."""
        prepared = self._prepare(
            prompt_or_messages, stream=False, model=model, images=images, video=video, system=system,
            max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
            repetition_penalty=repetition_penalty, user=user)
        return self._send_chat(prepared, extra_headers)

    def _send_chat(self, prepared: Prepared, extra_headers: Mapping[str, str] | None = None) -> Reply:
        response = self._post_chat(prepared.data, stream=False, extra_headers=extra_headers)
        body, text, finish = _read_reply(response)
        return Reply(text=text, finish_reason=finish, usage=body.get("usage") or {}, id=body.get("id"),
                     request_id=response.headers.get("x-request-id"), model=prepared.body["model"],
                     omitted=list(prepared.omitted))

    def stream(self, prompt_or_messages: str | Sequence[Any], *, model: str | None = None, images: Any = None,
               video: Any = None, system: str | None = None, max_new_tokens: int | None = None,
               temperature: float | None = None, top_p: float | None = None,
               repetition_penalty: float | None = None, user: str | None = None,
               extra_headers: Mapping[str, str] | None = None) -> Stream:
        """Send one streaming request; iterate the returned `Stream` for `Delta`s.

        The request is sent now, so an HTTP error (after its retries) raises here.
        """
        prepared = self._prepare(
            prompt_or_messages, stream=True, model=model, images=images, video=video, system=system,
            max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
            repetition_penalty=repetition_penalty, user=user)
        return self._open_stream(prepared, extra_headers)

    def _open_stream(self, prepared: Prepared, extra_headers: Mapping[str, str] | None = None) -> Stream:
        def open_response(retries: int) -> requests.Response:
            return self._post_chat(prepared.data, stream=True, extra_headers=extra_headers, retries=retries)

        return Stream(open_response, client=self, model=prepared.body["model"], omitted=list(prepared.omitted))

    def models(self) -> list[str]:
        """The model ids from GET {base}/llm/models."""
        url = self.base_url + protocol.MODELS_PATH
        payload = _json_of(self._request("GET", url), "the model list")
        items: Any = payload.get("data", payload) if isinstance(payload, Mapping) else payload
        if isinstance(items, Mapping):
            items = items.get("models", items.get("data", []))
        ids = []
        for item in items if isinstance(items, list) else []:
            if isinstance(item, str):
                ids.append(item)
            elif isinstance(item, Mapping) and (item.get("id") or item.get("model")):
                ids.append(item.get("id") or item.get("model"))
        return ids

    def upload(self, path_or_bytes: str | os.PathLike | bytes, *, scheme: str = "MULTIMODAL_1",
               filename: str | None = None, description: str | None = None) -> str:
        """Upload a file to the file service and return its id (for image_file_id / video_file_id)."""
        if scheme not in protocol.FILE_SCHEMES:
            raise InvalidRequestError(f"scheme={scheme!r} is not allowed: expected one of "
                                      f"{', '.join(protocol.FILE_SCHEMES)} (MULTIMODAL_1 images, MULTIMODAL_2 video).",
                                      field="scheme")
        if description is not None and (not isinstance(description, str)
                                        or len(description) > protocol.MAX_DESCRIPTION_CHARS):
            raise InvalidRequestError(f"description of {len(str(description))} characters is not allowed: expected "
                                      f"a string of at most {protocol.MAX_DESCRIPTION_CHARS}.", field="description")
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            content = bytes(path_or_bytes)
            filename = filename or ("video.mp4" if scheme == "MULTIMODAL_2" else "image.png")
        else:
            path = os.fspath(path_or_bytes)
            with open(path, "rb") as handle:
                content = handle.read()
            filename = filename or os.path.basename(path)
        if scheme == "MULTIMODAL_1" and len(content) > protocol.MAX_UPLOAD_BYTES:
            raise InvalidRequestError(f"an image file of {len(content) / 1e6:.1f} MB is not allowed: expected at "
                                      f"most {protocol.MAX_UPLOAD_BYTES // 1_000_000} MB.", field="file")
        form = {"scheme": scheme}
        if description is not None:
            form["description"] = description
        response = self._request("POST", self.file_base_url + protocol.FILES_PATH,
                                 files={"file": (filename, content)}, data=form)
        info = self._file_info(response)
        file_id = info.get("id")
        if not file_id:
            raise ServerError(f"the file service's reply has no id: {_quote(response.content)}",
                              request_id=response.headers.get("x-request-id"))
        return str(file_id)

    def file(self, file_id: str) -> dict:
        """The file service's record of one file (GET {file_base}/files/{id})."""
        response = self._request("GET", f"{self.file_base_url}{protocol.FILES_PATH}/{file_id}")
        return self._file_info(response)

    def wait_for_file(self, file_id: str, timeout: float = 30.0) -> dict:
        """Poll the file until its validation is over; raise APITimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        delay = 0.1
        while True:
            info = self.file(file_id)
            status = str(info.get("status") or "").upper()
            if status not in ("VALIDATING", "PENDING", "UPLOADING", "PROCESSING"):
                if status in ("FAILED", "INVALID", "ERROR", "REJECTED"):
                    raise InvalidRequestError(f"file {file_id} failed validation: "
                                              f"{info.get('message') or info.get('error') or status}", field="file")
                return info
            if time.monotonic() + delay > deadline:
                raise APITimeoutError(f"file {file_id} was still {status.lower()} after {timeout} s")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    @staticmethod
    def _file_info(response: requests.Response) -> dict:
        payload = _json_of(response, "the file service's reply")
        if isinstance(payload, Mapping) and isinstance(payload.get("data"), Mapping):
            payload = payload["data"]
        if isinstance(payload, Mapping) and isinstance(payload.get("file"), Mapping):
            payload = payload["file"]
        return dict(payload) if isinstance(payload, Mapping) else {}


class Stream:
    """A streaming reply: iterate it for `Delta`s; `text` and `reply` hold what arrived so far.

    `close()` (or leaving the `with` block) may be called from any thread: it closes the HTTP
    connection at once, the iteration then ends quietly and `reply.finish_reason == "stopped"`.
    """

    def __init__(self, open_response: Callable[[int], requests.Response], *, client: Client, model: str,
                 omitted: list[str]) -> None:
        self._open = open_response
        self._client = client
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
        self._response = open_response(client.max_retries)
        self.request_id: str | None = self._response.headers.get("x-request-id")
        self._iterator = self._deltas()

    # -- reading
    def __iter__(self) -> Iterator[Delta]:
        return self._iterator

    def __next__(self) -> Delta:
        return next(self._iterator)

    @property
    def text(self) -> str:
        return "".join(self._pieces)

    @property
    def reply(self) -> Reply:
        """The reply so far; whole once the stream ended (`finish_reason` None while it runs)."""
        return Reply(text=self.text, finish_reason=self.finish_reason, usage=dict(self.usage), id=self.id,
                     request_id=self.request_id, model=self.model, omitted=list(self.omitted))

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
        _abort(response)
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

    # -- the event loop (the hot path: kept inline, see benchmarks/bench_stream.py)
    def _deltas(self) -> Iterator[Delta]:
        url = self._client.base_url + protocol.CHAT_PATH
        retries_done = 0
        pieces = self._pieces
        loads, scan = json.loads, _SCAN_JSON
        try:
            while True:
                try:
                    decoder = SSEDecoder()
                    if self._response.headers.get("content-type", "").startswith("application/json"):
                        reads = iter([self._json_reply_as_events()])  # the server did not stream
                    else:
                        reads = map(decoder.feed, _iter_bytes(self._response))
                    for payloads in chain(reads, (decoder.flush() for _ in (0,))):
                        for data in payloads:
                            if self._closed:
                                return
                            if data == DONE:
                                self._ended = True
                                self._release(reads)
                                return
                            text = data.decode()
                            try:  # the C scanner alone: json.loads adds encoding sniffing and regexes
                                event, end = scan(text, 0)
                            except StopIteration:
                                end = -1
                            if end != len(text):
                                event = loads(text)  # whitespace around it, or raise naming the problem
                            status = event.get("status")
                            if event.get("error") or (status and status.get("code") not in _OK_CODES):
                                raise self._stream_error(event)
                            body = event.get("data") or _EMPTY  # an event with nothing (keep-alive) is skipped
                            choices = body.get("choices")
                            choice = choices[0] if choices else _EMPTY  # e.g. a usage-only last event
                            text = choice.get("delta") or ""
                            finish = choice.get("finish_reason") or None
                            usage = body.get("usage")
                            if usage:
                                self.usage = usage
                            if self.id is None:
                                self.id = body.get("id")
                            if text:
                                pieces.append(text)
                            elif not finish:
                                continue
                            if finish:
                                self.finish_reason = finish
                            yield Delta(text, finish, usage)
                    if self._closed:
                        return
                    if self.finish_reason:  # ended without [DONE]: the reply is whole all the same
                        self._ended = True
                        return
                    raise APIConnectionError("the connection closed before the reply finished")
                except GeneratorExit:
                    raise
                except SenseNovaError as exc:
                    if not isinstance(exc, APIConnectionError):
                        raise  # an error event, or an error the server answered in JSON
                    error = exc
                except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
                    if self._closed:
                        return
                    raise StreamError(f"the stream sent an event this client cannot read ({type(exc).__name__}: "
                                      f"{exc})", request_id=self.request_id, partial_text=self.text) from None
                except Exception as exc:
                    if self._closed:
                        return
                    error = _connection_error(exc, url)
                # A connection failure: retried while no text was delivered.
                error.request_id = error.request_id or self.request_id
                if pieces or retries_done >= self._client.max_retries:
                    error.partial_text = self.text
                    raise error from None
                self._client._wait_before_retry(retries_done, error, url)
                retries_done += 1
                self._response.close()
                response = self._open(self._client.max_retries - retries_done)
                with self._lock:
                    self._response = response
                    if self._closed:
                        return
                self.request_id = self._response.headers.get("x-request-id")
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

    def _json_reply_as_events(self) -> list[bytes]:
        """A stream request answered with plain JSON (a whole reply, or an error, which is raised):
        the same reply as the events a stream would have sent."""
        body, text, finish = _read_reply(self._response)
        event = {"data": {"id": body.get("id"), "usage": body.get("usage"),
                          "choices": [{"delta": text, "finish_reason": finish or "stop"}]}}
        return [json.dumps(event).encode(), DONE]

    def _release(self, reads: Iterator) -> None:
        """After [DONE]: read the body's end (the last chunk marker) so the connection can be
        reused (for HTTPS that saves a TLS handshake per reply), waiting at most DRAIN_TIMEOUT."""
        sock = _socket_of(self._response)
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

    def _stream_error(self, event: Mapping[str, Any]) -> StreamError:
        code, message, details = _error_fields(event)
        return StreamError(f"the service ended the stream with an error: {message or 'no message'}",
                           status=CODE_STATUS.get(code) if isinstance(code, int) else None, code=code,
                           request_id=self.request_id, details=details, partial_text=self.text)
