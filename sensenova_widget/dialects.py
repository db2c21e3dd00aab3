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

from . import protocol
from .errors import InvalidRequestError
from .protocol import DIALECTS

__all__ = ["API_ENV", "DIALECTS", "Dialect", "OpenAI", "pick", "dialect_for", "EventFields"]

API_ENV = "SENSENOVA_API_DIALECT"  # "native" or "openai": what connect(), the panel and the magic use
OPENAI_HOSTS = ("token.sensenova.cn",)
# OpenAI's finish reasons as the service's (protocol.FINISH_REASONS); "length" is both.
OPENAI_FINISH = {"stop": "stop", "length": "length", "content_filter": "sensitive"}
_EMPTY: dict = {}

# (answer text, reasoning, finish reason, usage, id) of one streamed event
EventFields = tuple[str, str, "str | None", "dict | None", "str | None"]


def pick(api: str | None, base_url: str) -> str:
    """The dialect of a client: `api`, else SENSENOVA_API_DIALECT, else read from the base URL
    ("openai" for `/compatible-mode/` or the token plan's host, "native" otherwise)."""
    api = api or os.environ.get(API_ENV) or None
    if api is None:
        host = urlsplit(base_url).hostname or ""
        return "openai" if "/compatible-mode/" in base_url + "/" or host in OPENAI_HOSTS else "native"
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
        reasoning = choice.get("reasoning_content") or ""
        if isinstance(text, Mapping):  # an OpenAI-style {"role":..., "content":...}
            reasoning = reasoning or text.get("reasoning_content") or ""
            text = text.get("content") or ""
        return body, text, reasoning, choice.get("finish_reason") or None

    def event(self, event: Mapping[str, Any]) -> EventFields:
        """The fields of one streamed event (`carries_error` was checked before)."""
        body = event.get("data") or _EMPTY  # an event with nothing (keep-alive) carries nothing
        choices = body.get("choices")
        choice = choices[0] if choices else _EMPTY  # e.g. a usage-only last event
        return (
            choice.get("delta") or "",
            choice.get("reasoning_content") or "",
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
        reasoning = message.get("reasoning_content") or ""
        return payload, text, reasoning, OPENAI_FINISH.get(finish, finish)  # type: ignore[arg-type]

    def event(self, event: Mapping[str, Any]) -> EventFields:
        choices = event.get("choices")
        choice = choices[0] if choices else _EMPTY
        delta = choice.get("delta") or _EMPTY
        finish = choice.get("finish_reason") or None
        return (
            delta.get("content") or "",
            delta.get("reasoning_content") or "",
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


_IMAGE_TYPES = (
    ("/9j/", "image/jpeg"),
    ("iVBOR", "image/png"),
    ("R0lG", "image/gif"),
    ("UklGR", "image/webp"),
)


def _part(part: Mapping[str, Any]) -> dict:
    kind = part["type"]
    if kind == "text":
        return {"type": "text", "text": part["text"]}
    if kind == "image_base64":
        data = part["image_base64"]
        mime = next((m for head, m in _IMAGE_TYPES if data.startswith(head)), "image/jpeg")
        return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}
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
