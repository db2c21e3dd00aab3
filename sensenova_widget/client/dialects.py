"""The two shapes the service speaks: its native API and the OpenAI-compatible entry points.

Everything above the client (Reply, Stream, errors, retries, media, history, the panel, the
magic, captions) is the same in both; a dialect only knows its paths, turns the checked native
body into what it sends, and reads a whole reply or one streamed event into the same fields.
Errors need nothing here: both shapes carry `{"error": {"message", "code"}}` (or the native
`status`), read by `errors.error_fields`, which takes the OpenAI string code as a number.

The checked body (parameters named as in `protocol.PARAMETERS`) is the one `protocol.validate_body`
reads, so the rules are read once; each dialect renames the parameters by that table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .. import protocol
from ..errors import InvalidRequestError
from ..media.formats import base64_data_url
from ..protocol import DIALECTS

__all__ = [
    "API_ENV",
    "DIALECTS",
    "Dialect",
    "OpenAI",
    "pick",
    "dialect_for",
    "reasoning_of",
    "EventFields",
]

API_ENV = "SENSENOVA_API_DIALECT"  # "native" or "openai": what connect(), the panel and the magic use
OPENAI_HOSTS = (protocol.TOKEN_PLAN_HOST,)
# Path segments that mark an OpenAI-shaped base: the service's compatible mode, and the
# emulator's token plan (`Emulator.token_plan_base_url`, as https://token.sensenova.cn/v1).
OPENAI_PATHS = ("/compatible-mode/", protocol.EMULATOR_TOKEN_PLAN_PREFIX + "/")
# The names a reply's reasoning comes under: `reasoning_content` (the service, compatible mode)
# and `reasoning` (the token plan). Read from either, never sent back.
REASONING_KEYS = ("reasoning_content", "reasoning")
# OpenAI's finish reasons as the service's (protocol.FINISH_REASONS); "length" is both.
OPENAI_FINISH = {"stop": "stop", "length": "length", "content_filter": "sensitive"}
_EMPTY: dict = {}

# (answer text, reasoning, finish reason, usage, id) of one streamed event
EventFields = tuple[str, str, "str | None", "dict | None", "str | None"]


def pick(api: str | None, base_url: str) -> str:
    """The dialect of a client: `api`, else SENSENOVA_API_DIALECT, else read from the base URL
    ("openai" for `/compatible-mode/`, the token plan's host or the emulator's token plan,
    "native" otherwise)."""
    api = api or os.environ.get(API_ENV) or None
    if api is None:
        host = urlsplit(base_url).hostname or ""
        path = urlsplit(base_url).path + "/"
        return "openai" if any(mark in path for mark in OPENAI_PATHS) or host in OPENAI_HOSTS else "native"
    if api not in DIALECTS:
        raise InvalidRequestError(
            f"api={api!r} is not allowed: expected 'native', 'openai' or None (read from the base URL).",
            field="api",
        )
    return api


class Dialect:
    """The native API (and the interface of every dialect)."""

    name = "native"
    chat_path = protocol.CHAT_PATH
    models_path = protocol.MODELS_PATH
    files = True  # whether the file service's ids can be sent

    def __repr__(self) -> str:
        return f"<dialect {self.name}>"

    def body(self, checked: dict) -> dict:
        """What is sent for a checked body: its parameters under this dialect's names."""
        return protocol.renamed(checked, self.name)

    def reply(self, payload: Any) -> tuple[dict, Any, str, str | None]:
        """(reply body with id/usage, text, reasoning, finish reason) of a whole JSON reply;
        raises KeyError/IndexError/TypeError when it has no choices[0].message."""
        body = payload["data"]
        choice = body["choices"][0]
        text = choice["message"]
        reasoning = reasoning_of(choice)
        if isinstance(text, Mapping):  # an OpenAI-style {"role":..., "content":...}
            reasoning = reasoning or reasoning_of(text)
            text = text.get("content") or ""
        return body, text, reasoning, choice.get("finish_reason") or None

    def event(self, event: Mapping[str, Any]) -> EventFields:
        """The fields of one streamed event (`carries_error` was checked before)."""
        body = event.get("data") or _EMPTY  # an event with nothing (keep-alive) carries nothing
        choices = body.get("choices")
        choice = choices[0] if choices else _EMPTY  # e.g. a usage-only last event
        return (
            choice.get("delta") or "",
            reasoning_of(choice),
            choice.get("finish_reason") or None,
            body.get("usage"),
            body.get("id"),
        )

    def event_of_reply(self, body: dict, text: str, reasoning: str, finish: str | None) -> dict:
        """A whole reply (a stream request the server answered in JSON) as one event of this shape."""
        choice = {"delta": text, "reasoning_content": reasoning, "finish_reason": finish or "stop"}
        return {"data": {"id": body.get("id"), "usage": body.get("usage"), "choices": [choice]}}


class OpenAI(Dialect):
    """OpenAI's Chat Completions shape (`{base}/chat/completions`, `{base}/models`)."""

    name = "openai"
    chat_path = protocol.OPENAI_CHAT_PATH
    models_path = protocol.OPENAI_MODELS_PATH
    files = False

    def body(self, checked: dict) -> dict:
        sent = super().body(checked)
        sent["messages"] = [_message(m) for m in checked["messages"]]
        return sent

    def reply(self, payload: Any) -> tuple[dict, Any, str, str | None]:
        choice = payload["choices"][0]
        message = choice["message"]
        finish = choice.get("finish_reason") or None
        text = message.get("content") or ""
        reasoning = reasoning_of(message)
        return payload, text, reasoning, OPENAI_FINISH.get(finish, finish)  # type: ignore[arg-type]

    def event(self, event: Mapping[str, Any]) -> EventFields:
        choices = event.get("choices")
        choice = choices[0] if choices else _EMPTY
        delta = choice.get("delta") or _EMPTY
        finish = choice.get("finish_reason") or None
        return (
            delta.get("content") or "",
            reasoning_of(delta),
            OPENAI_FINISH.get(finish, finish) if finish else None,
            event.get("usage"),
            event.get("id"),
        )

    def event_of_reply(self, body: dict, text: str, reasoning: str, finish: str | None) -> dict:
        finish = {"sensitive": "content_filter"}.get(finish or "stop", finish or "stop")
        delta = {"content": text, "reasoning_content": reasoning}
        choice = {"delta": delta, "finish_reason": finish}
        return {"id": body.get("id"), "usage": body.get("usage"), "choices": [choice]}


_BY_NAME = {"native": Dialect(), "openai": OpenAI()}


def reasoning_of(fields: Mapping[str, Any]) -> str:
    """The reasoning a message, delta or choice carries under either name ('' when none)."""
    for key in REASONING_KEYS:
        value = fields.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def dialect_for(name: str) -> Dialect:
    """The dialect named `name` ("native" or "openai")."""
    return _BY_NAME[name]


def _message(message: Mapping[str, Any]) -> dict:
    """A native message in OpenAI's shape: one text part as a plain string, else OpenAI parts."""
    content = message["content"]
    if isinstance(content, list) and len(content) == 1 and content[0].get("type") == "text":
        content = content[0]["text"]
    elif isinstance(content, list):
        content = [_part(part) for part in content]
    return {"role": message["role"], "content": content}


def _part(part: Mapping[str, Any]) -> dict:
    kind = part["type"]
    if kind == "text":
        return {"type": "text", "text": part["text"]}
    if kind == "image_base64":
        return {"type": "image_url", "image_url": {"url": base64_data_url(part["image_base64"])}}
    if kind in ("image_url", "video_url"):
        return {"type": kind, kind: {"url": part[kind]}}
    what = "an image" if kind == "image_file_id" else "a video"
    raise InvalidRequestError(
        f"{kind} parts cannot be sent to the OpenAI-compatible entry point: the file service is "
        f"native only. Send {what} there as "
        + ("pixels or an https URL" if kind == "image_file_id" else "an https URL (video='https://...')")
        + ", or use Client(api='native').",
        field="messages",
    )
