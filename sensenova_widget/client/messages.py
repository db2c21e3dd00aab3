"""Turning what a caller gives (a prompt, messages, `images=` and `video=`) into wire messages.

Kept apart from the client so the rules of what a message may look like are read in one place.
Notebook values become parts through the media layer (imported when a value needs it, so a
text-only chat never loads PIL), by the caller's `options` (a `Client`'s `MediaOptions`); a
value that must be uploaded (a video file, frames) is uploaded through `uploader`, any object
with `upload` and `wait_for_file` (a `Client`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequestError, quote
from ..protocol import invalid_value, media_kind

if TYPE_CHECKING:  # pragma: no cover
    from ..media import MediaOptions

__all__ = ["as_list", "text_message", "media_parts", "build_messages"]


def as_list(value: Any) -> list:
    """`images=`/`video=` as a list: None is none, a list or tuple its items, anything else one value."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def text_message(role: str, text: str) -> dict:
    """A message holding one text part."""
    return {"role": role, "content": [{"type": "text", "text": text}]}


def media_parts(
    images: Any, video: Any, *, uploader: Any = None, options: MediaOptions | None = None
) -> list[dict]:
    """The wire parts of `images=` and `video=` (one value or a list each), images first.
    A wire dict is checked by the media layer (its type, its URL) and kept as it is; anything
    else is marked as an image or a video and encoded."""
    parts = []
    for kind, values in (("image", as_list(images)), ("video", as_list(video))):
        for value in values:
            from .. import media
            from ..media.parts import wire_part

            if isinstance(value, Mapping):
                parts.append(dict(wire_part(value)))
                continue

            marked = media.image(value) if kind == "image" else media.video(value)
            parts.append(media.to_part(marked, client=uploader, options=options))
    return parts


def build_messages(
    prompt_or_messages: Any,
    media: list[dict],
    system: str | None,
    *,
    uploader: Any = None,
    options: MediaOptions | None = None,
) -> list:
    """The request's messages: a prompt or a list of messages, `media` (parts) added to the last
    user turn, and the system prompt first. Malformed messages are left for validate_body to name."""
    if isinstance(prompt_or_messages, str):
        if not prompt_or_messages.strip() and not media:
            raise InvalidRequestError(
                "the prompt is empty: expected some text (or images=/video= to ask about).", field="prompt"
            )
        messages = [{"role": "user", "content": media + [{"type": "text", "text": prompt_or_messages}]}]
    elif isinstance(prompt_or_messages, Sequence) and not isinstance(prompt_or_messages, (bytes, bytearray)):
        for i, message in enumerate(prompt_or_messages):
            if not isinstance(message, Mapping):
                raise invalid_value(
                    f"messages[{i}]",
                    message,
                    "a message {'role': ..., 'content': ...} (one prompt is a str, not a list of them)",
                )
        messages = [_message(m, uploader, options) for m in prompt_or_messages]
        if media:
            last = messages[-1] if messages else None
            if (
                not isinstance(last, dict)
                or last.get("role") != "user"
                or not isinstance(last["content"], list)
            ):
                raise InvalidRequestError(
                    "images=/video= attach to the last message, which must be a user message with content",
                    field="messages",
                )
            last["content"] = media + last["content"]
    else:
        raise InvalidRequestError(
            f"prompt_or_messages={quote(repr(prompt_or_messages))} is not allowed: expected a str (one user "
            "turn) or a list of messages {'role': ..., 'content': ...}.",
            field="messages",
        )
    if system is not None:
        if messages and isinstance(messages[0], dict) and messages[0].get("role") == "system":
            raise InvalidRequestError(
                "system= was given but the messages already start with a system message: "
                "give the system prompt once.",
                field="system",
            )
        messages.insert(0, text_message("system", system))
    return messages


def _message(message: Any, uploader: Any, options: MediaOptions | None) -> Any:
    if not isinstance(message, Mapping):
        return message  # validate_body names it
    return {"role": message.get("role"), "content": _content(message.get("content"), uploader, options)}


def _content(content: Any, uploader: Any, options: MediaOptions | None) -> Any:
    if content is None:
        return None
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, (list, tuple)):
        return [_part(part, uploader, options) for part in content]
    return [_part(content, uploader, options)]


def _part(part: Any, uploader: Any, options: MediaOptions | None) -> Any:
    """A wire dict as it is (a media part checked by the media layer: its URL too), a str as text,
    anything else through the media layer."""
    if isinstance(part, Mapping):
        if media_kind(part) is not None:
            from ..media.parts import wire_part

            return dict(wire_part(part))
        return dict(part)
    if isinstance(part, str):
        return {"type": "text", "text": part}
    from ..media import to_part

    return to_part(part, client=uploader, options=options)
