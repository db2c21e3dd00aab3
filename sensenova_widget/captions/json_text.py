"""Finding the JSON in a model's reply, and the repairs that are safe to make to it.

Models answer in prose around JSON, in fences, with trailing commas or single quotes. The
candidates are tried in order: each fenced block, then each balanced `{...}` in the prose, then
the whole reply. A candidate that is not JSON is repaired only in ways that cannot change a
value: a comma before a closing bracket is dropped, and single-quoted strings become
double-quoted (only outside double-quoted strings). Nothing is guessed beyond that; a reply that
still does not parse is asked again with the reason (see `extract.py`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["NOT_FOUND", "candidates", "parse", "parsed_values"]

NOT_FOUND = object()  # no candidate parsed as JSON
_FENCE = re.compile(r"```[ \t]*(?:json|JSON|javascript)?[ \t]*\r?\n?(.*?)```", re.DOTALL)


def candidates(text: str) -> Iterator[str]:
    """The places JSON may be in `text`, most likely first."""
    for block in _FENCE.findall(text):
        if block.strip():
            yield block.strip()
    yield from _balanced_objects(text)
    yield text.strip()


def _balanced_objects(text: str) -> Iterator[str]:
    """Each outermost `{...}` whose braces balance (braces inside strings do not count)."""
    depth, start, quote, escaped = 0, -1, "", False
    for i, char in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'" and depth:
            quote = char
        elif char == "{":
            if depth == 0:
                start = i
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                yield text[start : i + 1]


def parse(candidate: str) -> Any:
    """`candidate` as JSON, repaired where that is safe; NOT_FOUND when it still does not parse."""
    try:
        return json.loads(candidate)
    except ValueError:
        pass
    try:  # repaired only when needed: most replies parse as they are
        return json.loads(_without_trailing_commas(candidate))
    except ValueError:
        pass
    if "'" in candidate:
        try:
            return json.loads(_without_trailing_commas(_double_quoted(candidate)))
        except ValueError:
            pass
    return NOT_FOUND


def parsed_values(text: str) -> Iterator[Any]:
    """Every candidate of `text` that parses (repaired where safe), in order, without repeats."""
    seen = set()
    for candidate in candidates(text):
        if candidate in seen:
            continue
        seen.add(candidate)
        value = parse(candidate)
        if value is not NOT_FOUND:
            yield value


def _without_trailing_commas(text: str) -> str:
    """Drop a comma (and the space after it) that comes right before `}` or `]`, outside strings."""
    out: list[str] = []
    pending: list[str] = []  # a comma seen outside strings, and the whitespace after it
    quote, escaped = "", False
    for char in text:
        if quote:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
            continue
        if pending and char.isspace():
            pending.append(char)
            continue
        if pending:
            if char not in "}]":
                out.extend(pending)
            else:
                out.extend(pending[1:])
            pending = []
        if char == ",":
            pending = [char]
            continue
        if char == '"':
            quote = char
        out.append(char)
    out.extend(pending)
    return "".join(out)


def _double_quoted(text: str) -> str:
    """Single-quoted strings as double-quoted ones (inner double quotes escaped); the contents of
    double-quoted strings are left alone, so an apostrophe in them is kept."""
    out: list[str] = []
    quote, escaped = "", False
    for char in text:
        if not quote:
            if char in "\"'":
                quote = char
                out.append('"')
            else:
                out.append(char)
            continue
        if escaped:
            escaped = False
            out.append("'" if char == "'" and quote == "'" else "\\" + char)
            continue
        if char == "\\":
            escaped = True
            continue
        if char == quote:
            quote = ""
            out.append('"')
        elif char == '"' and quote == "'":
            out.append('\\"')
        else:
            out.append(char)
    return "".join(out)
