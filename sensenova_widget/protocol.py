"""The rules of SenseNova's image-text chat completions, in one place.

`../shared/spec/chat-completions.md` restated as code. The client checks a body with
`validate_body` before sending it and the emulator checks what it receives with the same
function, so the two can never disagree about what the service accepts.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, replace
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


def invalid_value(field: str, value: Any, allowed: str) -> InvalidRequestError:
    """The refusal every rule here gives, in one wording (the emulator's OpenAI routes use it too).

    It carries no HTTP status or service code: raised by the client, nothing was sent; the
    emulator answers it as the service would (400, code 3)."""
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return InvalidRequestError(f"{field}={shown} is not allowed: expected {allowed}.", field=field)


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


# ---- request parameters: each declared once, every surface derives from this table -----------
# (simonw/llm's Options idea): `params.Params`, the checks (client and emulator), the wire body of
# each dialect, the panel's settings form, the magic's options and the caption cache key read it.

DIALECTS = ("native", "openai")  # the native API and the OpenAI-compatible entry points
ENDPOINTS = {
    "native": "the native endpoint (api='native')",
    "openai": "the OpenAI-compatible endpoints (api='openai': the token plan, compatible-mode)",
}
MAX_OUTPUT_TOKENS = 16384  # max_new_tokens' bound where the model gives none (chat-completions.md)
_COUNT_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True)
class PanelField:
    """How a parameter shows in the panel's settings (sent to the browser, which builds the form)."""

    label: str
    kind: str  # "number", "toggle", "textarea"; "picker": the toolbar's model menu
    step: str | None = None  # a number field's step
    hint: str = ""  # a toggle's note, a textarea's placeholder
    shown_if: str | None = None  # a synced trait that must be true for the field to show


@dataclass(frozen=True)
class Parameter:
    """One request parameter: its type and range, its name on each dialect's wire (None: that
    dialect does not know it), whether it keys the caption cache, and how the panel and the
    magic show it."""

    name: str
    type: type  # int, float, bool or str
    description: str  # what it does, in a few words (the magic's help)
    wire: Mapping[str, str | None]  # the body field per dialect
    low: float | None = None  # the least value (for a string: its least length, 1 = non-empty)
    high: float | None = None  # None: no upper bound
    low_inclusive: bool = True
    high_inclusive: bool = True
    decimals: int | None = None  # at most this many decimal places
    words: str | None = None  # what is allowed, for a string or a flag (numbers: from the range)
    default: Any = None  # what the service uses when it is not sent (None: the model's own)
    per_model_high: bool = False  # `high` is replaced by the model's own limit when it is known
    wrap: str | None = None  # sent as {wrap: value} (thinking: {"enabled": true})
    aliases: tuple[str, ...] = ()  # other OpenAI names an OpenAI-compatible endpoint takes
    in_messages: bool = False  # sent as the first message (the system prompt), not a body field
    keys_cache: bool = True  # part of the caption cache key: it changes what the model says
    panel: PanelField | None = None  # None: not in the panel's settings form
    flags: tuple[str, ...] = ()  # the magic's option; () means --name-with-dashes
    metavar: str | None = None

    @property
    def allowed(self) -> str:
        """What is allowed, in the words every refusal uses."""
        if self.words is not None:
            return self.words
        kind = "an integer" if self.type is int else "a number"
        if self.high is None:
            said = f"{kind} {'>=' if self.low_inclusive else '>'} {_shown(self.low)}"
        elif not self.low_inclusive and not self.high_inclusive:
            said = f"{kind} in the open interval ({_shown(self.low)}, {_shown(self.high)})"
        else:
            left, right = "[" if self.low_inclusive else "(", "]" if self.high_inclusive else ")"
            said = f"{kind} in {left}{_shown(self.low)}, {_shown(self.high)}{right}"
        if self.decimals is not None:
            said += f" with at most {_COUNT_WORDS[self.decimals]} decimal places"
        return said

    @property
    def option(self) -> tuple[str, ...]:
        """The magic's flags for it."""
        return self.flags or ("--" + self.name.replace("_", "-"),)

    def knows(self, api: str) -> bool:
        """Whether the dialect `api` takes this parameter."""
        return self.in_messages or self.wire.get(api) is not None

    @property
    def for_any_model(self) -> Parameter:
        """This rule as the surfaces check it before the model is known: a `per_model_high`
        bound waits for the request (`up_to`), where the model's own limit is read."""
        if not self.per_model_high:
            return self
        words = f"{self.allowed}, or up to the model's own limit where its endpoint gives one"
        return replace(self, high=None, words=words)

    def up_to(self, high: float | None) -> Parameter:
        """This rule with a model's own upper bound (a `per_model_high` parameter; None: as declared).
        The one place a per-model limit (max_new_tokens up to the model's output length) applies."""
        return replace(self, high=high) if high is not None and self.per_model_high else self

    def check(self, value: Any, field: str | None = None) -> None:
        """Refuse a value out of the rule, naming `field` (the parameter's name by default).

        Any real number type passes for a number (NumPy scalars too), never a bool or a string."""
        if self.type in (bool, str):
            if not isinstance(value, self.type) or (self.type is str and self.low and not value):
                raise invalid_value(field or self.name, value, self.allowed)
            return
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise invalid_value(field or self.name, value, self.allowed)
        plain = plain_number(value)
        whole = self.type is not int or (math.isfinite(plain) and float(plain).is_integer())
        above = self.low is None or (plain >= self.low if self.low_inclusive else plain > self.low)
        below = self.high is None or (plain <= self.high if self.high_inclusive else plain < self.high)
        exact = self.decimals is None or round(plain, self.decimals) == plain
        if not (math.isfinite(plain) and whole and above and below and exact):
            raise invalid_value(field or self.name, value, self.allowed)

    def plain(self, value: Any) -> Any:
        """A checked value as JSON has it: an int or a float for a number (NumPy's too)."""
        self.check(value)
        if self.type in (bool, str):
            return value
        return int(plain_number(value)) if self.type is int else float(plain_number(value))

    def to_wire(self, value: Any) -> Any:
        """A checked value as the body carries it (`thinking=True` is `{"enabled": true}`)."""
        plain = self.plain(value)
        return {self.wrap: plain} if self.wrap else plain

    def from_wire(self, value: Any, field: str) -> Any:
        """What a received body's field holds, unwrapped (a refusal when its shape is wrong)."""
        if not self.wrap:
            return value
        if not isinstance(value, Mapping) or self.wrap not in value:
            raise invalid_value(field, value, f'{{"{self.wrap}": {self.allowed}}}')
        return value[self.wrap]

    def refusal(self, api: str, value: Any) -> InvalidRequestError:
        """The error for a parameter the dialect `api` does not take, naming the ones that do."""
        takers = " or ".join(ENDPOINTS[d] for d in DIALECTS if self.knows(d))
        return invalid_value(
            self.name, value, f"no {self.name} in a request to {ENDPOINTS[api]}: only {takers} take it"
        )


def _shown(number: float | None) -> str:
    return str(int(number)) if number is not None and float(number).is_integer() else str(number)


def _both(name: str) -> dict[str, str | None]:
    return {"native": name, "openai": name}


def _openai_only(name: str) -> dict[str, str | None]:
    return {"native": None, "openai": name}


# In the order the panel's settings show them; the body and Params follow the same order.
# fmt: off
PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in (
        Parameter(
            "model", str, "model id (default: the session's, the client's or the service's)",
            _both("model"), low=1, words="a model id string",
            panel=PanelField("Model", "picker"), flags=("-m", "--model"), metavar="MODEL",
        ),
        Parameter(
            "temperature", float, "sampling temperature", _both("temperature"),
            low=0, low_inclusive=False, high=2, decimals=6, default=0.8,
            panel=PanelField("Temperature", "number", step="0.01"), metavar="T",
        ),
        Parameter(
            "top_p", float, "nucleus sampling", _both("top_p"),
            low=0, low_inclusive=False, high=1, high_inclusive=False, default=0.7,
            panel=PanelField("Top p", "number", step="0.01"), metavar="P",
        ),
        Parameter(
            "max_new_tokens", int, "reply length limit", {"native": "max_new_tokens", "openai": "max_tokens"},
            low=1, high=MAX_OUTPUT_TOKENS, default=1024, per_model_high=True,
            aliases=("max_completion_tokens",),
            panel=PanelField("Max new tokens", "number", step="1"), metavar="N",
        ),
        Parameter(
            "repetition_penalty", float, "1 = no penalty", _both("repetition_penalty"),
            low=0, low_inclusive=False, high=2, default=1.0,
            panel=PanelField("Repetition penalty", "number", step="0.01"), metavar="R",
        ),
        Parameter(
            "top_k", int, "sample from the k likeliest tokens", _openai_only("top_k"), low=1,
            panel=PanelField("Top k", "number", step="1"), metavar="K",
        ),
        Parameter(
            "min_p", float, "drop tokens below this share of the likeliest one's probability",
            _openai_only("min_p"), low=0, high=1, default=0.0,
            panel=PanelField("Min p", "number", step="0.01"), metavar="P",
        ),
        Parameter(
            "presence_penalty", float, "above 0 favours tokens not used yet",
            _openai_only("presence_penalty"), low=-2, high=2, default=0.0,
            panel=PanelField("Presence penalty", "number", step="0.1"), metavar="X",
        ),
        Parameter(
            "thinking", bool,
            "ask a reasoning model to think first (its thinking is shown apart, above the answer)",
            _both("thinking"), words="True, False or None", wrap="enabled",
            panel=PanelField(
                "Thinking", "toggle", hint="show the model's reasoning above its answer", shown_if="thinks"
            ),
        ),
        Parameter(
            "system", str, "system prompt", {"native": None, "openai": None}, words="a string",
            in_messages=True, flags=("-s", "--system"), metavar="TEXT",
            panel=PanelField("System prompt", "textarea", hint="Optional instructions for every reply"),
        ),
        Parameter(
            "user", str, "your end user's id, for the service's tracking", _both("user"), words="a string",
            metavar="ID",
        ),
    )
}
# fmt: on


def check_parameters(body: Mapping[str, Any], api: str, *, max_output: int | None = None) -> None:
    """The parameters of a checked body (named as in `PARAMETERS`), for the dialect `api`: a
    parameter that dialect does not take is refused, and a refusal names the field as `api` sends it."""
    for spec in PARAMETERS.values():
        value = body.get(spec.name)
        if spec.in_messages or value is None:
            continue
        if not spec.knows(api):
            raise spec.refusal(api, value)
        sent = spec.wire[api] or spec.name
        spec.up_to(max_output).check(spec.from_wire(value, sent), sent)


def renamed(body: Mapping[str, Any], api: str) -> dict[str, Any]:
    """A checked body with its parameters under the names `api` sends them by (max_new_tokens is
    max_tokens in the OpenAI shape)."""
    return {(PARAMETERS[k].wire[api] or k) if k in PARAMETERS else k: value for k, value in body.items()}


def named_back(body: Mapping[str, Any], api: str) -> dict[str, Any]:
    """The parameters a request to `api` carries, under their names in `PARAMETERS` (the OpenAI
    aliases too, e.g. max_completion_tokens); what is not a parameter is left out."""
    found = {}
    for spec in PARAMETERS.values():
        for sent in (spec.wire.get(api), *spec.aliases):
            if sent and body.get(sent) is not None:
                found[spec.name] = body[sent]
                break
    return found


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


def validate_body(body: Any, api: str = "native", *, max_output: int | None = None) -> None:
    """Raise InvalidRequestError naming the field if `body` (a checked body: parameters named as in
    `PARAMETERS`) breaks any rule of the spec, or carries a parameter the dialect `api` does not take.
    `max_output`: the model's own output limit, when known."""
    if not isinstance(body, Mapping):
        raise invalid_value("body", type(body).__name__, "a JSON object")
    PARAMETERS["model"].check(body.get("model"))
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
    check_parameters(body, api, max_output=max_output)
    if "stream" in body and not isinstance(body["stream"], bool):
        raise invalid_value("stream", body["stream"], "true or false")


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
