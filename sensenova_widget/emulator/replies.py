"""Deterministic reply text that proves what arrived, and the tokens and ending it is sent with.

The reply repeats the last user text verbatim (up to 200 characters), then one line per
medium in the request, in order:

    image 1: 640x480 RGB, mostly red
    image 2: 1024x768 RGBA, mostly blue (file file-1a2b: cat.png, 1234 bytes)
    image 3: url https://example.com/cat.jpg
    video 1: mp4, 24 frames, 320x240 (file file-3c4d: clip.mp4, 56789 bytes)

A token is a whitespace-separated word (kept with the whitespace before it, so the deltas
join back to the exact text).

Reasoning (the V6.5 models with `"thinking": {"enabled": true}`, the Reasoner always) comes
first, as its own tokens, in one short line that proves what arrived:

    Reasoning: 1 message, 1 image, 0 videos; thinking asked for; the question: what is this?

The service's own refusals of a valid body, both HTTP 400:
- code 17 (context length): the prompt alone reaches the model's context, or the prompt plus
  the `max_new_tokens` the request gave exceeds it (without `max_new_tokens` the reply is cut
  where the context ends instead, finish reason `context`);
- code 18 (content filter): any message text contains `EMULATOR-UNSAFE` (any case).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from .. import protocol
from ..errors import InvalidRequestError, NotFoundError, SenseNovaError
from .faults import DEFAULT_CONTEXT_LENGTH, Knobs
from .files import VALIDATING, FileStore, StoredFile
from .structured import ImageFacts, answer, check_response_format

ECHO_CHARS = 200
IMAGE_PROMPT_TOKENS = 256  # what one image costs in prompt tokens (choice: a fixed estimate)
VIDEO_PROMPT_TOKENS = 1024
DEFAULT_MAX_NEW_TOKENS = protocol.PARAMETERS["max_new_tokens"].default
UNSAFE_PHRASE = "EMULATOR-UNSAFE"  # the content filter refuses (code 18) any input containing it
REASONING_ECHO_CHARS = 60
_TOKEN = re.compile(r"\s*\S+")

# A small palette: the name of the nearest colour wins the "mostly ..." vote.
PALETTE = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "gray": (128, 128, 128),
    "red": (220, 30, 30),
    "orange": (255, 140, 0),
    "yellow": (240, 220, 30),
    "green": (40, 170, 60),
    "cyan": (0, 200, 220),
    "blue": (30, 60, 220),
    "purple": (130, 50, 170),
    "pink": (255, 150, 190),
    "brown": (130, 80, 40),
}
_PALETTE_NAMES = list(PALETTE)
_PALETTE_IMAGE = Image.new("P", (1, 1))  # 256 entries: the palette repeated, so entry i is colour i % len
_PALETTE_IMAGE.putpalette([c for i in range(256) for c in PALETTE[_PALETTE_NAMES[i % len(PALETTE)]]])


class FileStateError(SenseNovaError):
    """A chat request names an uploaded file that cannot be used yet (code 9, HTTP 400)."""


@dataclass(frozen=True)
class Plan:
    """What to send back: the tokens, the ending and the usage numbers."""

    tokens: list[str]
    finish_reason: str
    prompt_tokens: int
    reasoning: list[str] = field(default_factory=list)  # sent before the answer, as reasoning_content

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    @property
    def reasoning_text(self) -> str:
        return "".join(self.reasoning)

    def usage(self, completion_tokens: int | None = None) -> dict[str, int]:
        """Usage so far; completion tokens count the reasoning too, as the service counts them."""
        done = len(self.tokens) + len(self.reasoning) if completion_tokens is None else completion_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "knowledge_tokens": 0,
            "completion_tokens": done,
            "total_tokens": self.prompt_tokens + done,
        }


def split_tokens(text: str) -> list[str]:
    """Words with the whitespace before them: `"".join(split_tokens(t)) == t.rstrip()`."""
    return _TOKEN.findall(text)


def count_words(text: str) -> int:
    return len(text.split())


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") for part in content if part.get("type") == "text")


def _media_parts(messages: list[Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    """(field path, part) of every image or video part, in request order."""
    found = []
    for i, message in enumerate(messages):
        content = message.get("content")
        if isinstance(content, list):
            for j, part in enumerate(content):
                if protocol.part_kind(part) != "text":
                    found.append((f"messages[{i}].content[{j}].{part['type']}", part))
    return found


def colour_shares(image: Image.Image) -> list[tuple[str, float]]:
    """Each palette colour's share of the pixels nearest to it, largest first (a tie: the later colour)."""
    small = image.convert("RGB")
    small.thumbnail((48, 48))
    mapped = small.quantize(palette=_PALETTE_IMAGE, dither=Image.Dither.NONE)
    counts: dict[str, int] = {}
    for count, index in mapped.getcolors(48 * 48):
        name = _PALETTE_NAMES[index % len(PALETTE)]
        counts[name] = counts.get(name, 0) + count
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda item: (-item[1], -_PALETTE_NAMES.index(item[0])))
    return [(name, count / total) for name, count in ordered]


def colour_name(image: Image.Image) -> str:
    """The palette colour most pixels are nearest to."""
    return colour_shares(image)[0][0]


def describe_image_bytes(data: bytes, field: str) -> str:
    """`640x480 RGB, mostly red`; undecodable bytes are the caller's error, naming the field."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            (width, height), mode = image.size, image.mode
            image.draft("RGB", (96, 96))  # JPEG: decode at a reduced scale, the colour vote needs little
            return f"{width}x{height} {mode}, mostly {colour_name(image)}"
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise InvalidRequestError(
            f"{field} is not a decodable image ({len(data)} bytes): {exc}", field=field, code=3, status=400
        ) from None


def describe_video_bytes(data: bytes) -> str:
    """`mp4, 24 frames, 320x240` with PyAV when installed; else the byte size."""
    try:
        import av  # optional: the `media` extra
    except ImportError:
        return f"{len(data)} bytes"
    try:
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            frames = sum(1 for _ in container.demux(stream) if _.size)
            name = container.format.name.split(",")[0]
            if name == "mov" and data[8:12] != b"qt  ":  # the mov demuxer reads both; the ftyp brand tells
                name = "mp4"
            return f"{name}, {frames} frames, {stream.codec_context.width}x{stream.codec_context.height}"
    except Exception:  # noqa: BLE001 - any undecodable video is reported, not fatal: the URL case is not fetched either
        return f"undecodable video, {len(data)} bytes"


def _stored_file(files: FileStore, file_id: str, field: str) -> StoredFile:
    stored = files.get(file_id)
    if stored is None:
        raise NotFoundError(
            f"{field}: file {file_id!r} not found (upload it to the file service first)", code=5, status=404
        )
    if stored.status == VALIDATING:
        raise FileStateError(
            f"{field}: file {file_id!r} is still being validated; retry in a few seconds", code=9, status=400
        )
    return stored


def _data_url_bytes(url: str, field: str) -> bytes:
    head, comma, data = url.partition(",")
    try:
        if not comma or not head.endswith(";base64"):
            raise ValueError("not base64")
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError(
            f"{field} is not a data URL of the form data:<type>;base64,<data>",
            field=field,
            code=3,
            status=400,
        ) from None


def _media_bytes(
    where: str, part: Mapping[str, Any], files: FileStore
) -> tuple[bytes | None, StoredFile | None]:
    """The bytes a media part carries (None for a URL, never fetched), and its stored file if any."""
    key = part["type"]
    value = part[key]
    if key.endswith("_url"):
        return (_data_url_bytes(value, where) if value.startswith("data:") else None), None
    if key == "image_base64":
        if value.startswith("data:"):
            raise InvalidRequestError(
                f"{where} starts with 'data:': expected bare base64 of the image bytes, "
                "without a data: URL prefix",
                field=where,
                code=3,
                status=400,
            )
        try:
            return base64.b64decode(value, validate=False), None
        except (binascii.Error, ValueError):
            raise InvalidRequestError(
                f"{where} is not valid base64", field=where, code=3, status=400
            ) from None
    stored = _stored_file(files, value, where)
    return stored.data, stored


def describe_media(messages: list[Mapping[str, Any]], files: FileStore) -> list[str]:
    """One clause per image or video, numbered per kind in request order."""
    clauses = []
    numbers = {"image": 0, "video": 0}
    for where, part in _media_parts(messages):
        kind = protocol.part_kind(part)
        numbers[kind] += 1
        label = f"{kind} {numbers[kind]}"
        data, stored = _media_bytes(where, part, files)
        if data is None:  # a URL: named, never fetched
            clauses.append(f"{label}: url {part[part['type']]}")
            continue
        about = describe_image_bytes(data, where) if kind == "image" else describe_video_bytes(data)
        if stored is not None:
            about += f" (file {stored.id}: {stored.filename}, {len(stored.data)} bytes)"
        clauses.append(f"{label}: {about}")
    return clauses


def image_facts(messages: list[Mapping[str, Any]], files: FileStore) -> ImageFacts | None:
    """What a schema prompt's values are read from: the first image's size and palette colours."""
    for where, part in _media_parts(messages):
        if protocol.part_kind(part) != "image":
            continue
        data, _ = _media_bytes(where, part, files)
        if data is None:
            return None
        try:
            with Image.open(io.BytesIO(data)) as image:
                (width, height) = image.size  # before draft(), which shrinks a JPEG's size as it decodes
                image.draft("RGB", (96, 96))
                return ImageFacts(width, height, colour_shares(image))
        except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
            raise InvalidRequestError(
                f"{where} is not a decodable image ({len(data)} bytes): {exc}",
                field=where,
                code=3,
                status=400,
            ) from None
    return None


def prompt_tokens(messages: list[Mapping[str, Any]]) -> int:
    """Words of every text, plus a fixed cost per image and per video."""
    words = sum(count_words(_text_of(m.get("content", ""))) for m in messages)
    images, videos = protocol.count_media(messages)
    return words + images * IMAGE_PROMPT_TOKENS + videos * VIDEO_PROMPT_TOKENS


def reply_text(body: Mapping[str, Any], files: FileStore) -> str:
    """The whole reply before any cut: last user text, then one line per medium."""
    messages = body["messages"]
    echo = _text_of(messages[-1]["content"])[:ECHO_CHARS]
    lines = ([echo] if echo.strip() else []) + describe_media(messages, files)
    return "\n".join(lines) if lines else "(empty message)"


def _pad(tokens: list[str], count: int) -> list[str]:
    """Exactly `count` tokens: the proof first, then numbered filler words."""
    if len(tokens) >= count:
        return tokens[:count]
    return tokens + [f" word{i}" for i in range(len(tokens) + 1, count + 1)]


def context_length(model: str, knobs: Knobs) -> int:
    """The model's context in tokens (`protocol.MODEL_CONTEXTS`), unless the knob sets one for all."""
    if knobs.context_length is not None:
        return knobs.context_length
    documented = protocol.documented_model(model)
    return (documented.context_length if documented else None) or DEFAULT_CONTEXT_LENGTH


def reasons(body: Mapping[str, Any]) -> bool:
    """Whether the reply reasons first: always on the Reasoner, when asked on the V6.5 models."""
    model = body["model"]
    if model in protocol.ALWAYS_REASONING_MODELS:
        return True
    thinking = body.get("thinking")
    asked = isinstance(thinking, Mapping) and thinking.get("enabled") is True
    if model in protocol.REASONING_BY_DEFAULT_MODELS:  # on unless turned off
        return not (isinstance(thinking, Mapping) and thinking.get("enabled") is False)
    return model in protocol.THINKING_MODELS and asked


def check_thinking(body: Mapping[str, Any]) -> None:
    """`thinking`, when sent, is `{"enabled": true | false}`."""
    thinking = body.get("thinking")
    if thinking is None:
        return
    if not isinstance(thinking, Mapping) or not isinstance(thinking.get("enabled"), bool):
        shown = repr(thinking)[:80]
        raise InvalidRequestError(
            f'thinking={shown} is not allowed: expected {{"enabled": true or false}}.',
            field="thinking",
            code=3,
            status=400,
        )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def reasoning_text(body: Mapping[str, Any]) -> str:
    """One deterministic line that proves what the reasoning saw."""
    messages = body["messages"]
    images, videos = protocol.count_media(messages)
    model = body["model"]
    why = (
        "always on"
        if model in protocol.ALWAYS_REASONING_MODELS
        else "on by default"
        if model in protocol.REASONING_BY_DEFAULT_MODELS
        else "thinking asked for"
    )
    question = " ".join(_text_of(messages[-1]["content"]).split())[:REASONING_ECHO_CHARS] or "(no text)"
    return (
        f"Reasoning: {_plural(len(messages), 'message')}, {_plural(images, 'image')}, "
        f"{_plural(videos, 'video')}; {why}; the question: {question}"
    )


def _request_text(body: Mapping[str, Any]) -> str:
    return " ".join(_text_of(m.get("content", "")) for m in body["messages"]).lower()


def plan_reply(body: Mapping[str, Any], knobs: Knobs, files: FileStore, fmt: Any = None) -> Plan:
    """Tokens and finish reason for a validated body asked in the structured-output format `fmt`
    (an OpenAI route's `response_format`, else None); raises for the service's own refusals."""
    messages = body["messages"]
    check_thinking(body)
    if UNSAFE_PHRASE.lower() in _request_text(body):
        raise InvalidRequestError(
            f"the input was judged unsafe by the content filter (the emulator refuses "
            f"{UNSAFE_PHRASE}): rephrase the request",
            field="messages",
            code=protocol.CONTENT_FILTER_CODE,
            status=400,
        )
    prompt = prompt_tokens(messages)
    context = context_length(body["model"], knobs)
    asked = body.get("max_new_tokens")
    if prompt >= context or (asked is not None and prompt + int(asked) > context):
        wanted = f" plus max_new_tokens={int(asked)}" if asked is not None else ""
        raise InvalidRequestError(
            f"context length exceeded: the prompt is about {prompt} tokens{wanted}, the model's context "
            f"length is {context}: shorten the conversation, send fewer images or lower max_new_tokens",
            field="messages",
            code=protocol.CONTEXT_LENGTH_CODE,
            status=400,
        )
    if fmt is not None:
        if not knobs.response_format:
            raise InvalidRequestError(
                "response_format is not supported by this endpoint: describe the JSON wanted in the prompt",
                field="response_format",
                code=3,
                status=400,
            )
        check_response_format(fmt)
    structured = answer(body, image_facts(messages, files), knobs.malformed, fmt)
    tokens = split_tokens(structured if structured is not None else reply_text(body, files))
    if knobs.reply_tokens is not None:
        tokens = _pad(tokens, knobs.reply_tokens)
    finish = "stop"
    trigger = _sensitive_index(body, tokens, knobs.sensitive_words)
    if trigger is not None:
        tokens, finish = tokens[:trigger], "sensitive"
    max_new = int(asked or DEFAULT_MAX_NEW_TOKENS)  # 5.0 is a valid 5
    room = context - prompt
    if len(tokens) > min(max_new, room):
        finish = "length" if max_new <= room else "context"
        tokens = tokens[: min(max_new, room)]
    if not reasons(body):
        return Plan(tokens=tokens, finish_reason=finish, prompt_tokens=prompt)
    thought = split_tokens(reasoning_text(body))
    if knobs.think_inline:  # some deployments: `<think>...</think>` leads the text itself
        inline = split_tokens("<think>" + "".join(thought) + "</think>")
        tokens = inline + (["\n\n" + tokens[0].lstrip()] + tokens[1:] if tokens else [])
        return Plan(tokens=tokens, finish_reason=finish, prompt_tokens=prompt)
    return Plan(tokens=tokens, finish_reason=finish, prompt_tokens=prompt, reasoning=thought)


def _sensitive_index(body: Mapping[str, Any], tokens: list[str], words: tuple[str, ...]) -> int | None:
    """Where the content filter stops the reply: at the trigger's first echo, else at once."""
    if not words:
        return None
    request_text = _request_text(body)
    hits = [w for w in words if w in request_text]
    if not hits:
        return None
    for index, token in enumerate(tokens):
        if any(w in token.lower() for w in hits):
            return index
    return 0
