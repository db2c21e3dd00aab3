"""What a row becomes: its prompt (a template over its fields), its images, and its outcome.

Everything here runs before a request is made, or after it came back; nothing here sends.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequestError, RateLimitError

if TYPE_CHECKING:  # pragma: no cover
    from .tables import Table

__all__ = [
    "TOKEN_FIELDS",
    "Job",
    "RowResult",
    "Ready",
    "as_images",
    "check_fields",
    "is_missing",
    "jobs",
    "template_fields",
]

TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")


@dataclass
class RowResult:
    """One row's result: a caption, an error, a skip (no image), or cancelled (never sent)."""

    text: str | None = None  # the answer only: a reasoning model's thinking is in `reasoning`
    reasoning: str = ""
    error: str | None = None
    usage: dict = field(default_factory=dict)
    from_cache: bool = False
    skipped: bool = False
    cancelled: bool = False  # never sent: the batch was stopped first
    not_done: bool = False  # left for a later run (the plan's quota ran out first)
    exception: BaseException | None = None

    @property
    def rate_limited(self) -> bool:
        return isinstance(self.exception, RateLimitError)


@dataclass
class Job:
    """A row to send: its position, its images (as given) and its rendered prompt."""

    index: int
    images: list
    prompt: str
    requeues: int = 0
    not_before: float = 0.0  # a refused row waits in line until then (time.monotonic())


@dataclass
class Ready:
    """A row with nothing to send (no image, or a prompt its fields cannot fill): already decided."""

    index: int
    outcome: RowResult


def template_fields(prompt: str) -> list[str]:
    """The row fields a prompt template names: `"A {category} photo, {meta[size]}"` -> category, meta."""
    try:
        parsed = list(string.Formatter().parse(prompt))
    except ValueError as exc:
        raise InvalidRequestError(
            f"prompt={prompt!r} is not a valid template ({exc}): name row fields as {{column}}, "
            "and write a literal brace as {{ or }}.",
            field="prompt",
        ) from None
    names = []
    for _, name, _, _ in parsed:
        if name is None:
            continue
        root = name.split(".", 1)[0].split("[", 1)[0]
        if not root or root.isdigit():
            raise InvalidRequestError(
                f"prompt={prompt!r} has a positional field {{{name}}}: name a column instead, "
                "e.g. {category}, and write a literal brace as {{ or }}.",
                field="prompt",
            )
        if root not in names:
            names.append(root)
    return names


def check_fields(fields: list[str], available: Sequence[Any], prompt: str) -> None:
    """Refuse, before anything is sent, a template naming a field that is not a column."""
    missing = [name for name in fields if name not in available]
    if missing:
        shown = ", ".join(repr(c) for c in available) or "none"
        raise InvalidRequestError(
            f"prompt={prompt!r} names {', '.join('{' + m + '}' for m in missing)}, which is not a column: "
            f"the columns available are {shown}.",
            field="prompt",
        )


def is_missing(value: Any) -> bool:
    """None, NaN, pd.NA, NaT or an empty list: nothing to caption in this row."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (list, tuple)):
        return len(value) == 0
    return type(value).__name__ in ("NAType", "NaTType")


def as_images(value: Any) -> list:
    """A row's value as the list of images of its request (a list/tuple is several images)."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if type(value).__module__.startswith("polars") and type(value).__name__ == "Series":
        return value.to_list()  # a polars List cell
    return [value]


def jobs(table: Table, prompt: str, fields: list[str]) -> Iterator[Job | Ready]:
    """Rows, lazily: a job per row to send, or a ready outcome for a row with nothing to send
    (no image, or a value the template cannot format, e.g. `{n:.2f}` over a string)."""
    for index, (value, row) in enumerate(zip(table.values(), table.field_values(fields))):
        if is_missing(value):
            yield Ready(index, RowResult(skipped=True))
            continue
        try:
            text = prompt.format_map(dict(zip(fields, row))) if fields else prompt
        except (KeyError, IndexError, AttributeError, TypeError, ValueError) as exc:
            error = InvalidRequestError(
                f"prompt={prompt!r} cannot be filled from this row: {type(exc).__name__}: {exc}",
                field="prompt",
            )
            yield Ready(index, RowResult(error=error.one_line(), exception=error))
            continue
        yield Job(index, as_images(value), text)
