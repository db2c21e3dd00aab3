"""`Client`: SenseNova's image-text chat completions, the facade over the request pipeline.

The flow, one module per step (the way openai-python splits its client):
`params.Params` (the settings, one typed value) and `messages` (prompt, media, system) ->
`Client.prepare` (the body, checked by `protocol.validate_body` before anything is sent) ->
`transport.Transport` (signing, the pooled session, retries) -> `replies.Reply` for a whole
reply or `streaming.Stream` for a streamed one; errors are typed in `errors`.

The seam every surface uses (the conversation, the panel, the magic, captions):
`prepare(...) -> PreparedRequest`, then `send(prepared) -> Reply` or `open_stream(prepared) -> Stream`;
`media_parts(images, video)` makes a turn's media parts once. `chat` and `stream` do both steps.

Two dialects, one client: `api="native"` (the reference API) or `api="openai"` (the
OpenAI-compatible entry points); `dialects` holds all that differs (paths, body, reading).
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import os
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Unpack

import requests

from .. import protocol
from ..errors import (
    APITimeoutError,
    InvalidRequestError,
    NotFoundError,
    SenseNovaError,
    ServerError,
    name_failed_download,
    quote,
)
from ..media.options import MediaOptions, options_for
from ..params import Params, ParamsDict, wire_body
from . import models
from .auth import Credentials
from .dialects import Dialect, dialect_for, pick
from .messages import build_messages, media_parts
from .replies import Delta, Reply, json_of, reply_of
from .streaming import Stream
from .target import connected
from .transport import CONNECT_TIMEOUT, READ_TIMEOUT, RetryPolicy, Transport, check_plaintext

__all__ = ["Client", "PreparedRequest", "CallDict", "Reply", "Delta", "Stream", "Params", "ModelInfo"]

ModelInfo = models.ModelInfo
logger = logging.getLogger("sensenova_widget")


@dataclass(frozen=True)
class PreparedRequest:
    """A checked request, ready to send: the wire body, notices of media the history policy
    left out, the exact bytes to send and the call's extra headers."""

    body: dict
    omitted: list[str]
    data: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return self.body["model"]


class CallDict(ParamsDict, total=False):
    """The keywords of `chat` and `stream`: the settings (`ParamsDict`), a whole
    `params=Params(...)` they override, the media of the (last) user turn, and extra headers."""

    images: Any
    video: Any
    extra_headers: Mapping[str, str] | None
    extra_body: Mapping[str, Any] | None
    params: Params | None
    retry: RetryPolicy | None


def _seconds(value: Any, given: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < float(value) < math.inf:
        raise InvalidRequestError(
            f"timeout={given!r} is not allowed: expected a number of seconds > 0, a (connect, read) "
            "pair of them, or None for the defaults.",
            field="timeout",
        )
    return float(value)


def _timeout(timeout: float | tuple[float, float] | None) -> tuple[float, float]:
    """(connect, read) seconds; one number is the longest wait for the next bytes (connect up to 10 s).
    A negative, zero, infinite or non-number timeout is refused here, not by the first request."""
    if timeout is None:
        return (CONNECT_TIMEOUT, READ_TIMEOUT)
    if isinstance(timeout, (tuple, list)):
        if len(timeout) != 2:
            _seconds(None, timeout)  # raises
        return (_seconds(timeout[0], timeout), _seconds(timeout[1], timeout))
    seconds = _seconds(timeout, timeout)
    return (min(seconds, CONNECT_TIMEOUT), seconds)


def _checked_retries(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise InvalidRequestError(
            f"max_retries={value!r} is not allowed: expected an integer >= 0.", field="max_retries"
        )
    return int(value)


def _checked_base(value: str, field: str, env_name: str, given: str | None) -> str:
    """An http(s) URL with a host, without its trailing slash; where it came from is named when not."""
    url = value.strip().rstrip("/") if isinstance(value, str) else value
    parsed = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if (
        parsed is None
        or parsed.scheme.lower() not in ("http", "https")
        or not parsed.hostname
        or any(c.isspace() for c in url)
        or parsed.query
        or parsed.fragment
    ):
        source = f"{field}=" if given is not None else f"the environment variable {env_name}="
        shown = quote(value if isinstance(value, str) else repr(value))
        raise InvalidRequestError(
            f"{source}{shown} is not allowed: expected an http(s) URL such as "
            f"{protocol.DEFAULT_BASE_URL if field == 'base_url' else protocol.DEFAULT_FILE_BASE_URL}.",
            field=field,
        )
    return url


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
        api: str | None = None,
        allow_insecure_http: bool = False,
        media: MediaOptions | None = None,
    ) -> None:
        """`api`: "native", "openai", or None to take SENSENOVA_API_DIALECT, else to read it from
        the base URL (`/compatible-mode/` or token.sensenova.cn speak "openai").
        `allow_insecure_http=True` (or SENSENOVA_ALLOW_INSECURE_HTTP=1) lets the credentials go
        over plain http:// to another machine; loopback (the emulator) needs no opt-in.
        `media`: how this client encodes images and videos (`MediaOptions(max_side=1024)`; the
        defaults for None), for every surface that sends through it."""
        env = os.environ
        target = connected()  # the emulator `connect()` started in this process, if any: it comes first
        self.base_url = _checked_base(
            base_url
            or (target.base_url if target else None)
            or env.get("SENSENOVA_API_BASE")
            or protocol.DEFAULT_BASE_URL,
            "base_url",
            "SENSENOVA_API_BASE",
            base_url,
        )
        self.file_base_url = _checked_base(
            file_base_url
            or (target.file_base_url if target else None)
            or env.get("SENSENOVA_API_BASE_FILE")
            or protocol.DEFAULT_FILE_BASE_URL,
            "file_base_url",
            "SENSENOVA_API_BASE_FILE",
            file_base_url,
        )
        given = api_key or access_key_id or secret_access_key
        if target and self.base_url == target.base_url and not given:
            api_key = target.api_key  # its key goes to it only, never to another address
        credentials = Credentials(api_key, access_key_id=access_key_id, secret_access_key=secret_access_key)
        self.api = pick(api, self.base_url)
        self.dialect: Dialect = dialect_for(self.api)
        self.model = model
        self.history_media = history_media
        self._listed: list[ModelInfo] | None = None  # the endpoint's model list, once fetched
        self._list_error: SenseNovaError | None = None  # why it did not load (asked again on refresh)
        self._listing = threading.Lock()
        self.media: MediaOptions = options_for(media, name="media")
        for url in (self.base_url, self.file_base_url):
            check_plaintext(url, allow_insecure_http)  # said now, not at the first request
        self.transport = Transport(
            credentials,
            timeout=_timeout(timeout),
            retry=RetryPolicy(_checked_retries(max_retries)),
            headers=headers,
            allow_insecure_http=allow_insecure_http,
        )

    def __repr__(self) -> str:
        kind = self.transport.credentials.kind
        return (
            f"Client(base_url={self.base_url!r}, api={self.api!r}, model={self._named_model()!r}, "
            f"auth=<{kind}>)"
        )

    @property
    def session(self) -> requests.Session:
        """The one pooled session every call shares (batch code hooks its responses to pace itself)."""
        return self.transport.session

    @property
    def timeout(self) -> tuple[float, float]:
        return self.transport.timeout

    @timeout.setter
    def timeout(self, value: float | tuple[float, float] | None) -> None:
        self.transport.timeout = _timeout(value)

    @property
    def max_retries(self) -> int:
        """Retries of a failed request (408/409/429/5xx, connection errors); settable."""
        return self.transport.retry.max_retries

    @max_retries.setter
    def max_retries(self, value: int) -> None:
        self.transport.retry = RetryPolicy(_checked_retries(value))

    @property
    def headers(self) -> dict[str, str]:
        """Headers sent with every request (a live dict: changes apply to the next request)."""
        return self.transport.headers

    def close(self) -> None:
        """Close the pooled connections."""
        self.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _named_model(self, model: str | None = None) -> str | None:
        """The model named by the call, Client(model=) or SENSENOVA_MODEL; None when none is."""
        return model or self.model or os.environ.get("SENSENOVA_MODEL") or None

    def resolve_model(self, model: str | None = None) -> str:
        """The model of a call: its argument, else Client(model=), else SENSENOVA_MODEL, else the
        endpoint's choice (`default_model`)."""
        return self._named_model(model) or self.default_model()

    def default_model(self) -> str:
        """The model used when none is named. An OpenAI-shaped endpoint (the token plan serves
        text-only models too, possibly listed first) is asked which models it serves: the first
        one it lists as taking images. Without that metadata, and on the native endpoint, the
        documented default."""
        if self.dialect.name == "native":
            return protocol.DEFAULT_MODEL
        return models.first_seeing(self._endpoint_models()) or protocol.DEFAULT_MODEL

    def model_info(self, model: str) -> ModelInfo:
        """What is known of `model`: the endpoint's list, else the documented table, else its id."""
        return models.merged(model, self._endpoint_models())

    def _endpoint_models(self) -> list[ModelInfo]:
        """The OpenAI-shaped endpoint's list for defaults and limits, asked once per client: a
        list that does not load is logged once and left out, so no request waits on it again."""
        if self._listed is None and self._list_error is None and self.dialect.name != "native":
            try:
                return self.model_list()
            except SenseNovaError as exc:
                self._list_error = exc
                logger.warning(
                    "SenseNova's model list did not load (%s): the documented table decides", exc.one_line()
                )
        return list(self._listed or [])

    # ----------------------------------------------------------------- the seam
    def media_parts(self, images: Any = None, video: Any = None) -> list[dict]:
        """The wire parts of `images=` and `video=` (one value or a list each), images first;
        a video that must be uploaded is uploaded through this client."""
        return media_parts(images, video, uploader=self, options=self.media)

    def prepare(
        self,
        prompt_or_messages: str | Sequence[Any],
        params: Params | None = None,
        *,
        stream: bool,
        images: Any = None,
        video: Any = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> PreparedRequest:
        """Build and check the request (nothing is sent): raises InvalidRequestError naming the field.

        `extra_body`: fields sent as given beside the checked ones, in the dialect's own names
        (e.g. `response_format` on the OpenAI routes); they cannot replace a checked field."""
        params = params or Params()
        messages = build_messages(
            prompt_or_messages,
            self.media_parts(images, video),
            params.system,
            uploader=self,
            options=self.media,
        )
        omitted: list[str] = []
        if any(protocol.count_media(messages)):  # text-only chats need no media policy (nor PIL)
            from .history import apply_media_policy

            messages, omitted = apply_media_policy(messages, policy=self.history_media)
        info = self.model_info(self.resolve_model(params.model))
        max_output = protocol.output_limit(info)
        body = wire_body(messages, params, model=info.id, stream=stream, api=self.api, max_output=max_output)
        protocol.validate_body(body, self.api, max_output=max_output)
        models.check_images_taken(info, messages)
        body = self.dialect.body(body)  # the rules are checked on one shape, in one place
        if extra_body:
            clash = sorted(set(extra_body) & set(body))
            if clash:
                raise InvalidRequestError(
                    f"extra_body names {', '.join(clash)}, which the request already sets: "
                    "give it as its own argument.",
                    field="extra_body",
                )
            body = {**body, **extra_body}
        try:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise InvalidRequestError(
                f"the request cannot be sent as JSON: {exc}", field="messages"
            ) from None
        protocol.check_body_size(len(data))
        return PreparedRequest(body, list(omitted), data, dict(extra_headers or {}))

    def send(self, prepared: PreparedRequest, *, retry: RetryPolicy | None = None) -> Reply:
        """Send a prepared request and return the whole reply (HTTP errors raise after their
        retries; `retry` replaces the client's policy for this call, e.g. batch work that paces
        its own 429s)."""
        response = self._post_chat(prepared, stream=False, retry=retry)
        return reply_of(response, model=prepared.model, omitted=prepared.omitted, dialect=self.dialect)

    def open_stream(self, prepared: PreparedRequest, *, retry: RetryPolicy | None = None) -> Stream:
        """Send a prepared request as a stream: an HTTP error (after its retries) raises here."""

        def open_response(retries: int) -> requests.Response:
            return self._post_chat(prepared, stream=True, retries=retries, retry=retry)

        return Stream(
            open_response,
            retry=retry or self.transport.retry,
            redact=self.transport.credentials,
            url=self.base_url + self.dialect.chat_path,
            model=prepared.model,
            omitted=list(prepared.omitted),
            dialect=self.dialect,
        )

    def _post_chat(
        self,
        prepared: PreparedRequest,
        *,
        stream: bool,
        retries: int | None = None,
        retry: RetryPolicy | None = None,
    ) -> requests.Response:
        headers = {
            **prepared.headers,
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if stream else "application/json",
        }
        try:
            return self.transport.request(
                "POST",
                self.base_url + self.dialect.chat_path,
                data=prepared.data,
                stream=stream,
                extra_headers=headers,
                retries=retries,
                retry=retry,
            )
        except NotFoundError as exc:
            raise self._not_served(prepared.model, exc) from None
        except InvalidRequestError as exc:
            raise name_failed_download(prepared.body, exc) from None

    def _not_served(self, model: str, error: NotFoundError) -> NotFoundError:
        """A 404 for a chat says which model was asked for and which ones the endpoint serves."""
        try:
            served = [m.id for m in self.model_list(refresh=True)]
        except SenseNovaError:
            served = []
        if model in served:
            return error
        listing = f": it serves {', '.join(served)}" if served else ""
        return NotFoundError(
            f"model {model!r} is not served at {self.base_url}{listing} "
            f"(pass model=, or set SENSENOVA_MODEL; the service said: {error.message})",
            status=error.status,
            code=error.code,
            request_id=error.request_id,
            details=error.details,
        )

    # ----------------------------------------------------------------- one call
    def chat(self, prompt_or_messages: str | Sequence[Any], **call: Unpack[CallDict]) -> Reply:
        """Send one request and return the whole reply.

        Keywords (`CallDict`): `images=`, `video=`, `extra_headers=`, `extra_body=`, and the
        settings, as `params=Params(...)` and/or as keywords over it (every row of
        `protocol.PARAMETERS`: model, temperature, top_p, max_new_tokens, repetition_penalty,
        top_k, min_p, presence_penalty, thinking, system, user; top_k, min_p and
        presence_penalty are taken by the OpenAI-compatible endpoints only);
        `retry=RetryPolicy(...)` replaces the client's retries for this call (batch work that
        paces its own 429s).
        """
        retry = call.pop("retry", None)
        return self.send(self._prepare_call(prompt_or_messages, call, stream=False), retry=retry)

    def stream(self, prompt_or_messages: str | Sequence[Any], **call: Unpack[CallDict]) -> Stream:
        """Send one streaming request; iterate the returned `Stream` for `Delta`s.

        Takes the keywords `chat` takes. The request is sent now, so an HTTP error (after its
        retries) raises here.
        """
        retry = call.pop("retry", None)
        return self.open_stream(self._prepare_call(prompt_or_messages, call, stream=True), retry=retry)

    def _prepare_call(
        self, prompt_or_messages: Any, call: dict[str, Any], *, stream: bool
    ) -> PreparedRequest:
        """`prepare` for the keyword spelling: settings typed at this edge, unknown names refused."""
        images, video = call.pop("images", None), call.pop("video", None)
        extra_headers, params = call.pop("extra_headers", None), call.pop("params", None)
        extra_body = call.pop("extra_body", None)
        given = Params.of(**call)
        return self.prepare(
            prompt_or_messages,
            given.over(params) if params is not None else given,
            stream=stream,
            images=images,
            video=video,
            extra_headers=extra_headers,
            extra_body=extra_body,
        )

    # ----------------------------------------------------------------- models and files
    def models(self) -> list[str]:
        """The model ids from GET {base}/llm/models (native) or GET {base}/models (openai)."""
        return [m.id for m in self.model_list()]

    def model_list(self, *, refresh: bool = False) -> list[ModelInfo]:
        """The endpoint's models with what it says of each (context, output limit, what they
        take), fetched once per client and kept (`refresh=True` asks again)."""
        with self._listing:
            if self._listed is None or refresh:
                url = self.base_url + self.dialect.models_path
                payload = json_of(self.transport.request("GET", url), "the model list")
                self._listed = models.listed_models(payload)
                self._list_error = None
            return list(self._listed)

    def upload(
        self,
        path_or_bytes: str | os.PathLike | bytes,
        *,
        scheme: str = "MULTIMODAL_1",
        filename: str | None = None,
        description: str | None = None,
    ) -> str:
        """Upload a file to the file service and return its id (for image_file_id / video_file_id).
        Native dialect only: the OpenAI-compatible entry points take media as URLs or data URLs."""
        if not self.dialect.files:
            raise InvalidRequestError(
                "the file service works with the native API only: in the OpenAI-compatible dialect "
                "send a video as an https URL (video='https://...') and images as pixels or URLs, "
                "or use Client(api='native').",
                field="file",
            )
        if scheme not in protocol.FILE_SCHEMES:
            raise InvalidRequestError(
                f"scheme={scheme!r} is not allowed: expected one of "
                f"{', '.join(protocol.FILE_SCHEMES)} (MULTIMODAL_1 images, MULTIMODAL_2 video).",
                field="scheme",
            )
        if description is not None and (
            not isinstance(description, str) or len(description) > protocol.MAX_DESCRIPTION_CHARS
        ):
            raise InvalidRequestError(
                f"description of {len(str(description))} characters is not allowed: expected "
                f"a string of at most {protocol.MAX_DESCRIPTION_CHARS}.",
                field="description",
            )
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            content = bytes(path_or_bytes)
            filename = filename or ("video.mp4" if scheme == "MULTIMODAL_2" else "image.png")
        else:
            path = os.fspath(path_or_bytes)
            with open(path, "rb") as handle:
                content = handle.read()
            filename = filename or os.path.basename(path)
        if scheme == "MULTIMODAL_1" and len(content) > protocol.MAX_UPLOAD_BYTES:
            raise InvalidRequestError(
                f"an image file of {len(content) / 1e6:.1f} MB is not allowed: expected at "
                f"most {protocol.MAX_UPLOAD_BYTES // 1_000_000} MB.",
                field="file",
            )
        form = {"scheme": scheme}
        if description is not None:
            form["description"] = description
        response = self.transport.request(
            "POST", self.file_base_url + protocol.FILES_PATH, files={"file": (filename, content)}, data=form
        )
        info = self._file_info(response)
        file_id = info.get("id")
        if not file_id:
            raise ServerError(
                f"the file service's reply has no id: {quote(response.content)}",
                request_id=response.headers.get("x-request-id"),
            )
        return str(file_id)

    def file_url(self, file_id: str) -> str:
        """{file_base}/files/{id}, the id one quoted path segment: an id cannot leave its URL path.

        An id that is not one segment ("../../llm/models", "a/b", ".", blank, or with spaces or
        control characters) is refused before anything is sent; `?`, `#` and `%` are quoted.
        """
        if (
            not isinstance(file_id, str)
            or file_id in ("", ".", "..")
            or any(c in "/\\" or c.isspace() or not c.isprintable() for c in file_id)
        ):
            raise InvalidRequestError(
                f"file id {quote(file_id if isinstance(file_id, str) else repr(file_id))} is not allowed: "
                "expected the id the file service gave (one path segment, no '/', '..' or spaces).",
                field="file_id",
            )
        return f"{self.file_base_url}{protocol.FILES_PATH}/{urllib.parse.quote(file_id, safe='')}"

    def file(self, file_id: str) -> dict:
        """The file service's record of one file (GET {file_base}/files/{id})."""
        response = self.transport.request("GET", self.file_url(file_id))
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
                    raise InvalidRequestError(
                        f"file {file_id} failed validation: "
                        f"{info.get('message') or info.get('error') or status}",
                        field="file",
                    )
                return info
            if time.monotonic() + delay > deadline:
                raise APITimeoutError(f"file {file_id} was still {status.lower()} after {timeout} s")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    @staticmethod
    def _file_info(response: requests.Response) -> dict:
        payload = json_of(response, "the file service's reply")
        if isinstance(payload, Mapping) and isinstance(payload.get("data"), Mapping):
            payload = payload["data"]
        if isinstance(payload, Mapping) and isinstance(payload.get("file"), Mapping):
            payload = payload["file"]
        return dict(payload) if isinstance(payload, Mapping) else {}
