"""Schema prompts: the emulator answers a JSON Schema with values read from the image's pixels.

A request asks for structured data when it carries `response_format` (the OpenAI routes; the
native API does not document it and ignores it) or when a user message holds a JSON Schema (an
object with "properties") in a fenced json block, as `snw.extract()` writes its prompt. The
values are derived from the first image, so tests and notebooks can check them exactly:

- integer: the width for a field named like "width", the height for "height", otherwise how
  many palette colours cover at least 10% of the image;
- number: width / height, rounded to 3 places;
- boolean: whether the image is wider than tall;
- string: the most common palette colour (`replies.PALETTE`); with an enum (a Literal), the
  first listed colour the image has, else "other" when listed, else the first value;
- array: the colours (strings), [width, height] (integers), or one item otherwise;
- object (a nested model): each property the same way.

Prompt mode answers with a line of prose and one fenced json block; `response_format` mode with
bare JSON. The knob `malformed` (0-1) makes that share of replies malformed, in one of four
ways: prose around bare JSON, a trailing comma, a missing field, a value of the wrong type. Which
replies, and how, is decided by a hash of the request's messages, so a run repeats exactly and a
follow-up turn (which carries the error) is decided afresh. `response_format` mode does not
constrain the decoding: its replies are malformed the same way.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidRequestError

__all__ = ["MALFORMED_KINDS", "ImageFacts", "answer", "check_response_format"]

MALFORMED_KINDS = ("prose", "trailing_comma", "missing_field", "wrong_type")
COLOUR_SHARE = 0.10  # a colour counts when it covers at least this share of the image
_FENCED = re.compile(r"```(?:json)?\s*\n(.*?)\n\s*```", re.DOTALL)


@dataclass(frozen=True)
class ImageFacts:
    """What the values are read from: the size and the palette colours' shares, largest first."""

    width: int
    height: int
    shares: list[tuple[str, float]]

    @property
    def colours(self) -> list[str]:
        return [name for name, share in self.shares if share >= COLOUR_SHARE] or [self.shares[0][0]]


NO_IMAGE = ImageFacts(0, 0, [("black", 1.0)])  # a schema asked about no image (e.g. a probe)


def check_response_format(value: Any) -> None:
    """`{"type": "json_schema", "json_schema": {"schema": {...}}}`, `{"type": "json_object"}` or
    `{"type": "text"}`; anything else is the caller's error, named."""
    kind = value.get("type") if isinstance(value, Mapping) else None
    if kind in ("json_object", "text"):
        return
    if kind == "json_schema":
        spec = value.get("json_schema")
        if isinstance(spec, Mapping) and isinstance(spec.get("schema"), Mapping):
            return
    raise InvalidRequestError(
        f"response_format={json.dumps(value)[:120]} is not allowed: expected "
        '{"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}}, '
        '{"type": "json_object"} or {"type": "text"}',
        field="response_format",
        code=3,
        status=400,
    )


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text", "") for part in content if part.get("type") == "text")


def _prompt_schema(messages: list[Mapping[str, Any]]) -> dict | None:
    """The first JSON Schema written in a fenced json block of a user message."""
    for message in messages:
        if message.get("role") != "user":
            continue
        for block in _FENCED.findall(_text(message.get("content", ""))):
            try:
                found = json.loads(block)
            except ValueError:
                continue
            if isinstance(found, dict) and isinstance(found.get("properties"), dict):
                return found
    return None


def answer(body: Mapping[str, Any], facts: ImageFacts | None, share: float, fmt: Any = None) -> str | None:
    """The reply text for a schema request (in `response_format` `fmt`, or described in the prompt),
    or None when the request asks for no schema."""
    fmt = fmt or {}
    bare = fmt.get("type") in ("json_schema", "json_object")
    schema = fmt["json_schema"]["schema"] if fmt.get("type") == "json_schema" else None
    schema = schema or _prompt_schema(body["messages"])
    if schema is None:
        return None
    facts = facts or NO_IMAGE
    values = _object(schema, facts, schema.get("$defs", {}))
    seed = hashlib.sha256(json.dumps(body["messages"], sort_keys=True).encode()).digest()
    if int.from_bytes(seed[:4], "big") / 2**32 < share and values:
        return _malformed(MALFORMED_KINDS[seed[4] % len(MALFORMED_KINDS)], values, schema)
    text = json.dumps(values)
    return text if bare else f"Here is the data from the image:\n```json\n{text}\n```"


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a `$ref`, and take an Optional's non-null branch."""
    if "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [b for b in schema[key] if b.get("type") != "null"]
            return _resolve(branches[0], defs) if branches else schema
    return schema


def _object(schema: Mapping[str, Any], facts: ImageFacts, defs: Mapping[str, Any]) -> dict:
    return {name: _value(name, sub, facts, defs) for name, sub in schema.get("properties", {}).items()}


def _value(name: str, schema: Mapping[str, Any], facts: ImageFacts, defs: Mapping[str, Any]) -> Any:
    schema = _resolve(schema, defs)
    choices = schema.get("enum") or ([schema["const"]] if "const" in schema else None)
    if choices:
        present = [c for c in facts.colours if c in choices]
        return present[0] if present else ("other" if "other" in choices else choices[0])
    kind = schema.get("type")
    lowered = name.lower()
    if kind == "integer":
        if "width" in lowered:
            return facts.width
        if "height" in lowered:
            return facts.height
        return len(facts.colours)
    if kind == "number":
        return round(facts.width / facts.height, 3) if facts.height else 0.0
    if kind == "boolean":
        return facts.width > facts.height
    if kind == "string":
        return facts.colours[0]
    if kind == "array":
        items = _resolve(schema.get("items", {}), defs)
        if items.get("type") == "string" and not items.get("enum"):
            return list(facts.colours)
        if items.get("type") == "integer":
            return [facts.width, facts.height]
        return [_value(name, items, facts, defs)]
    if kind == "object" or "properties" in schema:
        return _object(schema, facts, defs)
    return None


def _malformed(kind: str, values: dict, schema: Mapping[str, Any]) -> str:
    """One of the ways a model's JSON goes wrong (the first field is the one spoiled)."""
    first = next(iter(values))
    if kind == "prose":
        return (
            f"Sure! Looking at the image, {json.dumps(values)} is what I see. Let me know if you need more."
        )
    if kind == "trailing_comma":
        text = json.dumps(values, indent=1)
        return "```json\n" + text[:-2] + ",\n}\n```"
    spoiled = dict(values)
    if kind == "missing_field":
        del spoiled[first]
    else:  # wrong_type: nothing a validator would coerce back
        spoiled[first] = 12345 if isinstance(values[first], str) else "unknown"
    return "```json\n" + json.dumps(spoiled) + "\n```"
