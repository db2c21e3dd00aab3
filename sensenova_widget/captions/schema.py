"""What `extract()` asks for: the schema (a Pydantic model, or a dict of name -> type), how it is
written into the prompt, how a reply is validated against it, and each field's column type.

One `Schema` is made per call, before anything is sent, so a type the DataFrame cannot hold or a
name Pydantic refuses is an error then, naming the field.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidRequestError
from .json_text import parsed_values
from .tables import Kind

__all__ = ["Schema", "Validated"]

ERROR_INPUT_CHARS = 40  # how much of a wrong value an error quotes


@dataclass(frozen=True)
class Validated:
    """A reply checked against the schema: its values (plain Python), or why it did not validate."""

    values: dict | None
    error: str | None = None


class Schema:
    """The fields asked for, as a Pydantic model, and everything derived from it."""

    def __init__(self, schema: Any) -> None:
        self.model = _model_of(schema)
        self.fields = dict(self.model.model_fields)
        if not self.fields:
            raise InvalidRequestError("schema= has no fields: name at least one.", field="schema")
        try:
            self.json_schema = self.model.model_json_schema()
        except Exception as exc:  # noqa: BLE001 - pydantic raises several kinds; all mean "not describable"
            raise InvalidRequestError(
                f"schema= cannot be written as a JSON Schema: {exc}", field="schema"
            ) from None
        self.kinds = {name: _kind(info.annotation, name) for name, info in self.fields.items()}

    @property
    def text(self) -> str:
        """The schema as sent: compact JSON, its keys in a stable order (part of the cache key)."""
        return json.dumps(self.json_schema, sort_keys=True, separators=(",", ":"))

    def instructions(self, prompt: str) -> str:
        """The prompt sent: the user's words, the fields with their descriptions, the schema,
        and the one fenced JSON block asked for."""
        lines = [prompt.strip(), "", "Fields:"]
        for name, info in self.fields.items():
            about = f": {info.description}" if info.description else ""
            lines.append(f"- {name} ({_type_words(self.json_schema['properties'][name])}){about}")
        lines += [
            "",
            "Reply with one fenced JSON block (```json ... ```) holding one JSON object with exactly "
            "these fields, matching this JSON Schema:",
            "```json",
            self.text,
            "```",
        ]
        return "\n".join(lines)

    def correction(self, error: str) -> str:
        """The follow-up turn after a reply that did not validate."""
        return (
            f"That reply did not validate: {error}. Reply again with one fenced JSON block holding "
            "one JSON object with exactly the fields asked for, each of its declared type."
        )

    def response_format(self) -> dict:
        """The OpenAI `response_format` for this schema (sent when the endpoint takes it)."""
        return {
            "type": "json_schema",
            "json_schema": {"name": self.model.__name__, "schema": self.json_schema, "strict": False},
        }

    def validate(self, reply: str) -> Validated:
        """The first JSON in `reply` (fenced or bare, safely repaired) that validates; else the
        reason the most likely candidate did not, in one line."""
        first_error = None
        for value in parsed_values(reply):
            if not isinstance(value, dict) and len(self.fields) == 1:
                value = {next(iter(self.fields)): value}  # a lone value for a one-field schema
            if not isinstance(value, dict):
                first_error = first_error or f"expected a JSON object, got {type(value).__name__}"
                continue
            try:
                checked = self.model.model_validate(value)
            except Exception as exc:  # noqa: BLE001 - pydantic's ValidationError, and a validator's own
                first_error = first_error or _one_line(exc)
                continue
            return Validated(checked.model_dump(mode="python"))
        if first_error is None and len(self.fields) == 1 and reply.strip() and "\n" not in reply.strip():
            return self.validate(json.dumps(reply.strip().rstrip(".")))  # a bare word for a one-field schema
        return Validated(None, first_error or "no JSON object found in the reply")


def _model_of(schema: Any) -> type:
    from pydantic import BaseModel, create_model

    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema
    if not isinstance(schema, Mapping) or not schema:
        raise InvalidRequestError(
            f"schema={schema!r} is not allowed: expected a Pydantic model class, or a dict of field "
            'name to type, e.g. {"animals": int, "kind": Literal["cat", "dog", "other"]}.',
            field="schema",
        )
    fields = {}
    for name, annotation in schema.items():
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise InvalidRequestError(
                f"schema field {name!r} is not allowed: expected a name that is a Python identifier "
                "not starting with '_'.",
                field="schema",
            )
        fields[name] = annotation if isinstance(annotation, tuple) else (annotation, ...)
    try:
        return create_model("Extracted", **fields)
    except Exception as exc:  # noqa: BLE001 - pydantic's schema errors vary by type
        raise InvalidRequestError(f"schema= is not a valid schema: {exc}", field="schema") from None


_PLAIN = {int: "int", float: "float", bool: "bool", str: "text"}


def _kind(annotation: Any, name: str) -> Kind:
    """The column type of a field: scalars typed, a Literal categorical, anything else object."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _kind(options[0], name) if len(options) == 1 else Kind("object")
    if origin is typing.Annotated:
        return _kind(typing.get_args(annotation)[0], name)
    if origin is typing.Literal:
        return Kind("category", tuple(typing.get_args(annotation)))
    if annotation in _PLAIN:
        return Kind(_PLAIN[annotation])
    return Kind("object")


def _type_words(schema: Mapping[str, Any]) -> str:
    """A field's type in a few words for the prompt: "integer", "one of 'cat', 'dog'", ..."""
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
    if branches:
        return " or ".join(_type_words(b) for b in branches) + (
            " or null" if len(branches) < len(schema["anyOf"]) else ""
        )
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return f"exactly {json.dumps(schema['const'])}"
    if "$ref" in schema:
        return "object: " + schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"list of {_type_words(schema.get('items', {}))}"
    return schema.get("type", "any value")


def _one_line(exc: Exception) -> str:
    """A validation error as one line: `animals: Input should be a valid integer (got 'many')`."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return f"{type(exc).__name__}: {exc}".replace("\n", " ")
    parts = []
    for error in errors():
        where = ".".join(str(p) for p in error.get("loc", ())) or "(the object)"
        got = (
            "" if error.get("type") == "missing" else f" (got {repr(error.get('input'))[:ERROR_INPUT_CHARS]})"
        )
        parts.append(f"{where}: {error.get('msg')}{got}")
    return "; ".join(parts)
