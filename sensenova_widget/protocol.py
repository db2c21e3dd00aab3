"""The rules of SenseNova's image-text chat completions, in one place.

`../shared/spec/chat-completions.md` restated as code. The client checks a body with
`validate_body` before sending it and the emulator checks what it receives with the same
function, so the two can never disagree about what the service accepts.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any, NamedTuple

from .errors import InvalidRequestError

DEFAULT_BASE_URL = "https://api.sensenova.cn/v1"
DEFAULT_FILE_BASE_URL = "https://file.sensenova.cn/v1"
DEFAULT_MODEL = "SenseNova-V6-Pro"
CHAT_PATH = "/llm/chat-completions"
MODELS_PATH = "/llm/models"
FILES_PATH = "/files"

MAX_IMAGES = 6
MAX_VIDEOS = 1
MAX_BODY_BYTES = 45_000_000  # "under 45 MB"
MAX_UPLOAD_BYTES = 10_000_000
MAX_UPLOAD_SIDE = 13_000
MAX_DESCRIPTION_CHARS = 256
ROLES = ("user", "assistant", "system")
IMAGE_PART_TYPES = ("image_url", "image_file_id", "image_base64")
VIDEO_PART_TYPES = ("video_url", "video_file_id")
PART_TYPES = ("text",) + IMAGE_PART_TYPES + VIDEO_PART_TYPES
FILE_SCHEMES = ("MULTIMODAL_1", "MULTIMODAL_2")
FINISH_REASONS = ("stop", "length", "sensitive", "context")

# What each ending means to a person reading the reply; every surface shows these words.
FINISH_NOTICES = {
    "length": "The reply was cut off: it reached max_new_tokens. Raise max_new_tokens to get more.",
    "sensitive": "The reply was stopped by the service's content filter.",
    "context": (
        "The reply stopped at the model's context length: shorten the conversation or send fewer images."
    ),
    "stopped": "Stopped: the reply was interrupted before it finished.",
}


class ParameterSpec(NamedTuple):
    """The allowed range of one sampling parameter, with the spec's open or closed ends."""

    type: type
    low: float
    low_inclusive: bool
    high: float
    high_inclusive: bool
    allowed: str  # what is allowed, in the words an error message uses
    default: Any  # what the server uses when the parameter is not sent


PARAMETERS: dict[str, ParameterSpec] = {
    "max_new_tokens": ParameterSpec(int, 1, True, 16384, True, "an integer in [1, 16384]", 1024),
    "repetition_penalty": ParameterSpec(float, 0, False, 2, True, "a number in (0, 2]", 1.0),
    "temperature": ParameterSpec(
        float, 0, False, 2, True, "a number in (0, 2] with at most six decimal places", 0.8
    ),
    "top_p": ParameterSpec(float, 0, False, 1, False, "a number in the open interval (0, 1)", 0.7),
}


def invalid_value(field: str, value: Any, allowed: str) -> InvalidRequestError:
    """The refusal every rule here gives, in one wording (the emulator's OpenAI routes use it too)."""
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return InvalidRequestError(
        f"{field}={shown} is not allowed: expected {allowed}.", field=field, code=3, status=400
    )


def plain_number(value: Any) -> int | float:
    """A real number of any type (int, float, NumPy scalars, ...) as a plain int or float for JSON.

    A float of lower precision (`np.float32(0.1)`) keeps the decimal it shows, not its binary
    neighbour (0.10000000149...), so `temperature`'s six-decimals rule reads what the user wrote.
    """
    if isinstance(value, numbers.Integral):
        return int(value)
    plain = float(value)
    if not isinstance(value, float) and math.isfinite(plain):
        try:
            shown = float(str(value))
        except ValueError:  # e.g. Fraction's "1/2"
            return plain
        if abs(shown - plain) <= 1e-6 * max(1.0, abs(plain)):
            return shown
    return plain


def validate_parameter(name: str, value: Any, *, high: float | None = None) -> None:
    """Check one sampling parameter against its range, with the spec's open or closed ends.

    Any real number type passes (`numbers.Integral` / `numbers.Real`: NumPy scalars too), never
    a bool or a string; `plain_number` is what is sent. `high` replaces the upper end (a model's
    own output limit for max_new_tokens, see `output_limit`).
    """
    spec = bounded(name, high)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise invalid_value(name, value, spec.allowed)
    plain = plain_number(value)
    if not math.isfinite(plain):
        raise invalid_value(name, value, spec.allowed)
    if spec.type is int and not float(plain).is_integer():
        raise invalid_value(name, value, spec.allowed)
    above = plain >= spec.low if spec.low_inclusive else plain > spec.low
    below = plain <= spec.high if spec.high_inclusive else plain < spec.high
    if not (above and below):
        raise invalid_value(name, value, spec.allowed)
    if name == "temperature" and round(plain, 6) != plain:
        raise invalid_value(name, value, spec.allowed)


def bounded(name: str, high: float | None) -> ParameterSpec:
    """The range of `name`, its upper end replaced by `high` when given (inclusive)."""
    spec = PARAMETERS[name]
    if high is None or high == spec.high:
        return spec
    low = f"[{spec.low:g}" if spec.low_inclusive else f"({spec.low:g}"
    kind = "an integer" if spec.type is int else "a number"
    return spec._replace(high=high, high_inclusive=True, allowed=f"{kind} in {low}, {high:g}] for this model")


def wire_parameter(name: str, value: Any, *, high: float | None = None) -> int | float:
    """A checked sampling parameter as the body carries it: an int for integer ones, else a float."""
    validate_parameter(name, value, high=high)
    plain = plain_number(value)
    return int(plain) if PARAMETERS[name].type is int else float(plain)


def media_kind(part: Any) -> str | None:
    """'image' or 'video' for a media part, None for a text part, an unknown type or no part.

    The one reading of what kind a part is, by its `type` alone: `part_kind`, `count_media`,
    the history policy and the media layer all ask here.
    """
    kind = part.get("type") if isinstance(part, Mapping) else None
    if kind in IMAGE_PART_TYPES:
        return "image"
    if kind in VIDEO_PART_TYPES:
        return "video"
    return None


def part_kind(part: Mapping[str, Any]) -> str:
    """'text', 'image' or 'video' for a wire part; an unknown `type` is an InvalidRequestError."""
    kind = media_kind(part)
    if kind is not None:
        return kind
    if part.get("type") == "text":
        return "text"
    raise invalid_value("type", part.get("type"), "one of " + ", ".join(PART_TYPES))


def _validate_part(part: Any, where: str) -> str:
    if not isinstance(part, Mapping):
        raise invalid_value(where, part, "a part object with a 'type'")
    kind = part_kind(part)
    key = part["type"]
    value = part.get(key)
    if not isinstance(value, str) or (kind != "text" and not value):
        raise invalid_value(f"{where}.{key}", value, f"a non-empty string for a {key} part")
    return kind


def count_media(messages: list[Mapping[str, Any]]) -> tuple[int, int]:
    """(images, videos) over the whole request, every message included."""
    images = videos = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                kind = media_kind(part)
                images += kind == "image"
                videos += kind == "video"
    return images, videos


def plural(n: int, kind: str) -> str:
    """ "1 image", "2 images": how every message about media counts names them."""
    return f"{n} {kind}" + ("s" if n != 1 else "")


def media_count_problem(images: int, videos: int) -> tuple[str, str] | None:
    """(what was counted, what is allowed) when the counts break the limits, else None."""
    if images and videos:
        return (
            f"{plural(images, 'image')} and {plural(videos, 'video')}",
            "images or a video in one request, never both",
        )
    if images > MAX_IMAGES:
        return f"{images} images", f"at most {MAX_IMAGES} images in one request"
    if videos > MAX_VIDEOS:
        return f"{videos} videos", f"at most {MAX_VIDEOS} video in one request"
    return None


def check_media_counts(images: int, videos: int) -> None:
    """At most 6 images or 1 video, never both."""
    problem = media_count_problem(images, videos)
    if problem:
        raise invalid_value("messages", *problem)


def validate_body(body: Any, *, max_output: int | None = None) -> None:
    """Raise InvalidRequestError naming the field if `body` breaks any rule of the spec
    (`max_output`: the model's own limit on max_new_tokens, when known)."""
    if not isinstance(body, Mapping):
        raise invalid_value("body", type(body).__name__, "a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid_value("model", model, "a model id string")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid_value("messages", messages, "a non-empty list of messages")
    kinds = {"text": 0, "image": 0, "video": 0}  # counted here rather than in a second pass
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise invalid_value(f"messages[{i}]", message, "an object with role and content")
        if message.get("role") not in ROLES:
            raise invalid_value(f"messages[{i}].role", message.get("role"), "one of " + ", ".join(ROLES))
        content = message.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list) or not content:
            raise invalid_value(f"messages[{i}].content", content, "a string or a non-empty list of parts")
        for j, part in enumerate(content):
            kinds[_validate_part(part, f"messages[{i}].content[{j}]")] += 1
    if messages[-1].get("role") != "user":
        raise invalid_value(
            "messages[-1].role", messages[-1].get("role"), "the last message to have role 'user'"
        )
    check_media_counts(kinds["image"], kinds["video"])
    for name in PARAMETERS:
        if name in body and body[name] is not None:
            validate_parameter(name, body[name], high=max_output if name == "max_new_tokens" else None)
    if "stream" in body and not isinstance(body["stream"], bool):
        raise invalid_value("stream", body["stream"], "true or false")
    if body.get("user") is not None and not isinstance(body["user"], str):
        raise invalid_value("user", body["user"], "a string")


def check_body_size(size: int) -> None:
    """The whole request body must stay under 45 MB."""
    if size >= MAX_BODY_BYTES:
        raise invalid_value(
            "body",
            f"{size / 1e6:.1f} MB",
            f"a request body under {MAX_BODY_BYTES // 1_000_000} MB "
            "(send fewer or smaller images, or lower max_side)",
        )


# ---- today's service, beyond the 2024 reference (../shared/spec/service-today.md) -------------
# Added for issue 13: the models and their contexts, codes 17/18, reasoning and the
# OpenAI-compatible entry points. The client asks the service for its models rather than
# reading MODEL_CONTEXTS; the emulator serves this table.

MAX_OUTPUT_TOKENS = 16384
MODEL_CONTEXTS = {
    "SenseNova-V6-5-Pro": 131072,
    "SenseNova-V6-5-Turbo": 131072,
    "SenseNova-V6-Pro": 32768,
    "SenseNova-V6-Turbo": 32768,
    "SenseNova-V6-Reasoner": 32768,
    "SenseChat-Vision": 32768,
}
THINKING_MODELS = ("SenseNova-V6-5-Pro", "SenseNova-V6-5-Turbo")  # reason when asked: "thinking"
ALWAYS_REASONING_MODELS = ("SenseNova-V6-Reasoner",)
CONTEXT_LENGTH_CODE = 17  # HTTP 400: the input (plus max_new_tokens) is longer than the context
CONTENT_FILTER_CODE = 18  # HTTP 400: the input was judged unsafe by the content filter

OPENAI_COMPATIBLE_PREFIX = "/compatible-mode/v1"  # https://api.sensenova.cn/compatible-mode/v1
OPENAI_TOKEN_PLAN_BASE_URL = "https://token.sensenova.cn/v1"
OPENAI_CHAT_PATH = "/chat/completions"
OPENAI_MODELS_PATH = "/models"
# OpenAI request field: the native parameter whose range it has.
OPENAI_PARAMETERS = {"max_tokens": "max_new_tokens", "temperature": "temperature", "top_p": "top_p"}


# ---- the token plan (service-today.md, "The token plan") --------------------------------------
# Its own entry point, OpenAI's shape, and models from several vendors, some of which read text
# only: a client picks a model by what the endpoint says it takes, never by list position.
TOKEN_PLAN_HOST = "token.sensenova.cn"
TOKEN_PLAN_BASE_URL = OPENAI_TOKEN_PLAN_BASE_URL
EMULATOR_TOKEN_PLAN_PREFIX = "/token-plan/v1"  # the emulator's token plan, beside its other entry points
TOKEN_PLAN_VISION_MODEL = "sensenova-6.7-flash-lite"
# 429 "8" comes in two kinds, told apart only by the message.
QUOTA_EXHAUSTED_MESSAGE = "token plan entitlement exhausted"
RATE_GATE_MESSAGE = "inference exceeds tpm/rpm limit"
RISK_CONTROL_MESSAGE = "the request was blocked by risk control"
MODEL_NOT_FOUND_MESSAGE = "model is not found"


class ModelInfo(NamedTuple):
    """What an endpoint says of one model; None where it says nothing."""

    id: str
    context_length: int | None = None
    max_output: int | None = None
    input_modalities: tuple[str, ...] | None = None

    @property
    def takes_images(self) -> bool | None:
        """True or False when the endpoint lists what the model takes, None when it does not."""
        return None if self.input_modalities is None else "image" in self.input_modalities


# The documented models: the token plan's (the guide, and `deepseek-v4-flash` as a text-only
# model of another vendor: emulator's choice of limits), then the native table's above (images
# yes, output at most MAX_OUTPUT_TOKENS). Used when an endpoint's list leaves a limit out.
TOKEN_PLAN_MODELS = (
    ModelInfo("deepseek-v4-flash", 131072, 8192, ("text",)),
    ModelInfo(TOKEN_PLAN_VISION_MODEL, 262144, 65536, ("text", "image")),
)
DOCUMENTED_MODELS = {
    **{m.id.lower(): m for m in TOKEN_PLAN_MODELS},
    **{
        name.lower(): ModelInfo(name, context, MAX_OUTPUT_TOKENS, ("text", "image"))
        for name, context in MODEL_CONTEXTS.items()
    },
}
REASONING_BY_DEFAULT_MODELS = (TOKEN_PLAN_VISION_MODEL,)  # reason unless thinking is turned off


def documented_model(model: str) -> ModelInfo | None:
    """The documented table's entry for `model` (any case), None when it is not in it."""
    return DOCUMENTED_MODELS.get(model.lower()) if isinstance(model, str) else None


def output_limit(info: ModelInfo | None) -> int:
    """The most max_new_tokens a model takes: what its endpoint says, else the documented
    table, else the reference's MAX_OUTPUT_TOKENS."""
    if info is not None and info.max_output:
        return int(info.max_output)
    documented = documented_model(info.id) if info is not None else None
    return documented.max_output if documented and documented.max_output else MAX_OUTPUT_TOKENS
