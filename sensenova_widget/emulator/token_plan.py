"""The token plan's entry point, as SenseTime's 2026 guide documents `https://token.sensenova.cn/v1`.

Served at `/token-plan/v1` (`emu.token_plan_base_url`; `/chat/completions`, `/models`). OpenAI's
shape, with what the guide says differs (service-today.md, "The token plan"):

- its own models: a text-only model of another vendor listed BEFORE the vision model, each with
  `context_length`, `max_output_length` and `input_modalities`; `max_tokens` up to the model's
  `max_output_length`; images sent to a text-only model are refused (400);
- reasoning under `reasoning` (not `reasoning_content`), in the message and in each delta;
- streamed chunks carry `finish_reason: ""` until a last `{"delta": {}, "finish_reason": "stop"}`
  chunk, then one usage-only chunk with `"choices": []`, then `data: [DONE]`;
- errors with string codes: 404 "model is not found" (code "5"), 400 when an image URL cannot be
  downloaded (any host under `.invalid`, which never resolves), 403 risk control, and 429 code
  "8" in two kinds (knobs `quota=1` and `gate=<share>`; `status=429` is the rate gate).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import protocol
from ..errors import InvalidRequestError
from .openai_routes import FINISH_REASONS, OpenAIEntryPoint, to_native, usage_of
from .replies import Plan
from .server import EmulatorState, admit, dumps, serve_chat

__all__ = ["TOKEN_PLAN", "TokenPlanEntryPoint", "token_plan_routes"]

MODELS = {m.id: m for m in protocol.TOKEN_PLAN_MODELS}  # listed in this order: text-only first
UNREACHABLE_SUFFIX = ".invalid"  # RFC 2606: a host that never resolves, so never downloads
FAULT_MESSAGES = {
    403: protocol.RISK_CONTROL_MESSAGE,
    404: protocol.MODEL_NOT_FOUND_MESSAGE,
    429: protocol.RATE_GATE_MESSAGE,
}


def _check_media(native: Mapping[str, Any]) -> None:
    """A text-only model takes no images; an image URL that cannot be downloaded is a 400."""
    model = MODELS.get(native.get("model"))  # type: ignore[arg-type]
    messages = native.get("messages")
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, Mapping) else None
        for part in content if isinstance(content, list) else ():
            kind = protocol.media_kind(part)
            if kind and model is not None and model.takes_images is False:
                raise InvalidRequestError(
                    f"model {model.id} does not support {kind} input", field="messages", code=3, status=400
                )
            url = part.get("image_url") if isinstance(part, Mapping) else None
            if isinstance(url, str) and (urlsplit(url).hostname or "").endswith(UNREACHABLE_SUFFIX):
                raise InvalidRequestError(
                    "image download failed: the image url could not be fetched",
                    field="messages",
                    code=3,
                    status=400,
                )


class TokenPlanEntryPoint(OpenAIEntryPoint):
    """The token plan's models, limits, reasoning name, chunks and error messages."""

    def fault_message(self, status: int) -> str:
        return FAULT_MESSAGES.get(status) or super().fault_message(status)

    def served(self, state: EmulatorState) -> tuple[str, ...]:
        return tuple(MODELS)

    def max_output(self, model: Any) -> int | None:
        info = MODELS.get(model)
        return info.max_output if info is not None else None

    def unknown_model(self, model: Any, served: tuple[str, ...]) -> Response:
        return self.error(404, protocol.MODEL_NOT_FOUND_MESSAGE, field="model")

    def to_native(self, body: Any, state: EmulatorState) -> Any:
        if not isinstance(body, Mapping):
            return body
        native = to_native(body, tuple(MODELS))  # max_tokens: up to max_output, by validate_body
        _check_media(native)
        return native

    def reply(self, plan: Plan, reply_id: str, body: dict) -> bytes:
        message = {"role": "assistant", "content": plan.text}
        if plan.reasoning:
            message["reasoning"] = plan.reasoning_text
        choice = {"index": 0, "message": message, "finish_reason": FINISH_REASONS[plan.finish_reason]}
        return dumps(
            {
                "id": f"chatcmpl-{reply_id}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [choice],
                "usage": usage_of(plan),
            }
        )

    def stamp(self, reply_id: str, body: dict) -> str:
        """Every chunk's head up to its choices (id, created, model), made once per stream."""
        head = dumps({"id": f"chatcmpl-{reply_id}", "object": "chat.completion.chunk"}).decode()[:-1]
        return f'data: {head},"created":{int(time.time())},"model":{dumps(body["model"]).decode()},"choices":'

    def event(self, stamp: str, text: str, usage: dict, reasoning: bool) -> bytes:
        delta = {"role": "assistant", "reasoning" if reasoning else "content": text}
        return (
            stamp + dumps([{"index": 0, "delta": delta, "finish_reason": ""}]).decode() + "}\n\n"
        ).encode()

    def finish(self, plan: Plan, stamp: str) -> bytes:
        last = [{"index": 0, "delta": {}, "finish_reason": FINISH_REASONS[plan.finish_reason]}]
        usage = dumps(usage_of(plan)).decode()
        return (
            f'{stamp}{dumps(last).decode()}}}\n\n{stamp}[],"usage":{usage}}}\n\ndata: [DONE]\n\n'
        ).encode()


TOKEN_PLAN = TokenPlanEntryPoint()


async def chat_completions(request: Request) -> Response:
    return await serve_chat(request, TOKEN_PLAN)


def _info(model: protocol.ModelInfo, state: EmulatorState) -> dict[str, Any]:
    return {
        "id": model.id,
        "object": "model",
        "created": state.started_at,
        "owned_by": "SenseTime" if model.id.startswith("sensenova") else "partner",
        "context_length": model.context_length,
        "max_output_length": model.max_output,
        "input_modalities": list(model.input_modalities or ()),
    }


async def list_models(request: Request) -> Response:
    """The plan's models. Faults scripted for chat requests (`times`, `quota`, `gate`) do not
    strike here: listing models spends nothing of the plan."""
    refusal = admit(request, TOKEN_PLAN)
    if refusal:
        return refusal
    state: EmulatorState = request.app.state.emulator
    listed = [_info(m, state) for m in MODELS.values()]
    return Response(dumps({"object": "list", "data": listed}), media_type="application/json")


def token_plan_routes() -> list[Route]:
    root = protocol.EMULATOR_TOKEN_PLAN_PREFIX
    return [
        Route(root + protocol.OPENAI_CHAT_PATH, chat_completions, methods=["POST"]),
        Route(root + protocol.OPENAI_MODELS_PATH, list_models, methods=["GET"]),
    ]
