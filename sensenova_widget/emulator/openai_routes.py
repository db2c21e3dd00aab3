"""The OpenAI-compatible entry points: the same replies in OpenAI's Chat Completions shape.

Served at `/compatible-mode/v1` (`/chat/completions`, `/models`), as the service's
`https://api.sensenova.cn/compatible-mode/v1`, and at `/v1/chat/completions` (and `/v1/models`),
as the token plan's `https://token.sensenova.cn/v1`. A request is turned into the native body
(`image_url` data URLs become `image_base64`, `max_tokens` becomes `max_new_tokens` by the wire
names of `protocol.PARAMETERS`, a lower-case model id becomes the listed one) and checked by the
same rules as the native endpoint, with the parameters only this shape takes (top_k, min_p,
presence_penalty); faults, auth and limits are the same. What differs is only the shape:

- reply `{"id", "object": "chat.completion", "created", "model", "choices": [{"index", "message":
  {"role", "content", "reasoning_content"?}, "finish_reason"}], "usage"}`;
- streamed `data: {"object": "chat.completion.chunk", ..., "choices": [{"delta": {"content" |
  "reasoning_content"}}]}` events, the last with `finish_reason` and `usage`, then `data: [DONE]`;
- errors `{"error": {"message", "type", "param", "code"}}` where `code` is the service's numeric
  code as a string ("17" context length, "18" content filter, "8" rate limit, ...).

Finish reasons map to OpenAI's: `sensitive` is `content_filter`, `context` is `length`.
`response_format` is taken here (not on the native endpoint, which ignores it) while the knob
`response_format` is on, and answered by `structured.py`; with the knob off it is an HTTP 400.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from json.encoder import encode_basestring as encode_json_string
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import protocol
from ..errors import InvalidRequestError
from .replies import Plan
from .server import (
    CODE_FOR_STATUS,
    EmulatorState,
    EntryPoint,
    dumps,
    guarded,
    model_info,
    serve_chat,
)

ROOTS = (protocol.OPENAI_COMPATIBLE_PREFIX, "/v1")  # "/v1": the token plan's entry point
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
}
FINISH_REASONS = {"stop": "stop", "length": "length", "sensitive": "content_filter", "context": "length"}
ROLES = {"developer": "system"}  # OpenAI's newer name for the system role


def invalid_value(field: str, value: Any, allowed: str) -> InvalidRequestError:
    return protocol.invalid_value(field, value, allowed)  # the shared rules' wording


def _check_data_url(url: str, field: str) -> None:
    """A `data:<type>;base64,<data>` URL (the data itself is decoded once, when described)."""
    head, comma, _ = url[:256].partition(",")
    if not comma or not head.endswith(";base64"):
        raise invalid_value(field, url[:40], "a data URL of the form data:<type>;base64,<data>")


def _url_of(part: Mapping[str, Any], key: str, field: str) -> str:
    value = part.get(key)
    url = value.get("url") if isinstance(value, Mapping) else value
    if not isinstance(url, str) or not url:
        raise invalid_value(f"{field}.{key}", value, '{"url": "data:...;base64,..." or "https://..."}')
    return url


def _part(part: Any, field: str) -> dict[str, Any]:
    """One OpenAI content part as a native part."""
    if not isinstance(part, Mapping):
        raise invalid_value(field, part, "a part object with a 'type'")
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": part.get("text")}
    if kind == "image_url":
        url = _url_of(part, kind, field)
        if url.startswith("data:"):  # the native endpoint's bare base64, so both share one decoder
            _check_data_url(url, f"{field}.image_url.url")
            return {"type": "image_base64", "image_base64": url.partition(",")[2]}
        return {"type": "image_url", "image_url": url}
    if kind == "video_url":
        url = _url_of(part, kind, field)
        if url.startswith("data:"):
            _check_data_url(url, f"{field}.video_url.url")
        return {"type": "video_url", "video_url": url}
    raise invalid_value(f"{field}.type", kind, "one of text, image_url, video_url")


def _message(message: Any, field: str) -> Any:
    if not isinstance(message, Mapping):
        return message  # the shared rules name what is wrong with it
    native = dict(message)
    native["role"] = ROLES.get(message.get("role"), message.get("role"))
    content = message.get("content")
    if isinstance(content, list):
        native["content"] = [_part(part, f"{field}.content[{j}]") for j, part in enumerate(content)]
    return native


def model_id(name: Any, models: tuple[str, ...]) -> Any:
    """The listed id for `name` in any case (the compatible list is lower-case), else `name`."""
    if not isinstance(name, str) or name in models:
        return name
    return next((m for m in models if m.lower() == name.lower()), name)


def to_native(body: Any, models: tuple[str, ...]) -> Any:
    """The native body for an OpenAI request (raises InvalidRequestError for what cannot map)."""
    if not isinstance(body, Mapping):
        return body
    native: dict[str, Any] = {"model": model_id(body.get("model"), models)}
    messages = body.get("messages")
    native["messages"] = (
        [_message(m, f"messages[{i}]") for i, m in enumerate(messages)]
        if isinstance(messages, list)
        else messages
    )
    # every parameter the OpenAI shape takes, named back (checked by validate_body, named as sent)
    native.update((k, v) for k, v in protocol.named_back(body, "openai").items() if k != "model")
    if "stream" in body:
        native["stream"] = body["stream"]
    return native


def usage_of(plan: Plan) -> dict[str, Any]:
    usage = plan.usage()
    return {
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
        "total_tokens": usage["total_tokens"],
        "completion_tokens_details": {"reasoning_tokens": len(plan.reasoning)},
    }


def error_body(status: int, message: str, code: int, field: str | None) -> bytes:
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return dumps({"error": {"message": message, "type": kind, "param": field, "code": str(code)}})


class OpenAIEntryPoint(EntryPoint):
    """Replies, chunks and errors in OpenAI's shape."""

    api = "openai"

    def error(
        self,
        status: int,
        message: str,
        *,
        code: int | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        code = CODE_FOR_STATUS.get(status, 2) if code is None else code
        return Response(
            error_body(status, message, code, field),
            status_code=status,
            headers=headers,
            media_type="application/json",
        )

    def to_native(self, body: Any, state: EmulatorState) -> Any:
        return to_native(body, state.models)

    def response_format(self, received: Any) -> Any:
        """`response_format` as sent: honoured (or refused) by the knob `response_format`."""
        return received.get("response_format") if isinstance(received, Mapping) else None

    def reply(self, plan: Plan, reply_id: str, body: dict) -> bytes:
        message = {"role": "assistant", "content": plan.text}
        if plan.reasoning:
            message["reasoning_content"] = plan.reasoning_text
        return dumps(
            {
                "id": f"chatcmpl-{reply_id}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"].lower(),
                "choices": [
                    {"index": 0, "message": message, "finish_reason": FINISH_REASONS[plan.finish_reason]}
                ],
                "usage": usage_of(plan),
            }
        )

    def stamp(self, reply_id: str, body: dict) -> str:
        """The part every chunk of one reply shares (id, created, model), made once per stream."""
        return (
            'data: {"id":"chatcmpl-'
            + reply_id
            + '","object":"chat.completion.chunk","created":'
            + str(int(time.time()))
            + ',"model":'
            + encode_json_string(body["model"].lower())
            + ',"choices":[{"index":0,'
        )

    def event(self, stamp: str, text: str, usage: dict, reasoning: bool) -> bytes:
        key = "reasoning_content" if reasoning else "content"
        return (
            stamp
            + '"delta":{"role":"assistant","'
            + key
            + '":'
            + encode_json_string(text)
            + '},"finish_reason":null}]}\n\n'
        ).encode()

    def finish(self, plan: Plan, stamp: str) -> bytes:
        usage = dumps(usage_of(plan)).decode()
        return (
            stamp
            + '"delta":{},"finish_reason":"'
            + FINISH_REASONS[plan.finish_reason]
            + '"}],"usage":'
            + usage
            + "}\n\ndata: [DONE]\n\n"
        ).encode()

    def error_event(self, message: str) -> bytes:
        return b"data: " + error_body(500, message, 2, None) + b"\n\n"


OPENAI = OpenAIEntryPoint()


async def chat_completions(request: Request) -> Response:
    return await serve_chat(request, OPENAI)


async def list_models(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    listed = [{**model_info(state, m), "id": m.lower()} for m in state.models]
    return Response(dumps({"object": "list", "data": listed}), media_type="application/json")


async def get_model(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    model = model_id(request.path_params["model"], state.models)
    if model not in state.models:
        return OPENAI.error(404, f"model {request.path_params['model']!r} not found", field="model")
    return Response(dumps({**model_info(state, model), "id": model.lower()}), media_type="application/json")


def openai_routes() -> list[Route]:
    routes = []
    for root in ROOTS:
        routes += [
            Route(root + protocol.OPENAI_CHAT_PATH, chat_completions, methods=["POST"]),
            Route(root + protocol.OPENAI_MODELS_PATH, guarded(list_models, OPENAI), methods=["GET"]),
            Route(
                root + protocol.OPENAI_MODELS_PATH + "/{model:path}",
                guarded(get_model, OPENAI),
                methods=["GET"],
            ),
        ]
    return routes
