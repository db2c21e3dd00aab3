"""What a chat request gives back: `Reply` (whole) and `Delta` (a streamed piece), and the
reading of a JSON reply, whose errors (in a 200 body too) are raised typed by their code."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .. import protocol
from ..errors import ServerError, error_fields, error_for_code, quote
from .dialects import Dialect, dialect_for
from .reasoning import OPEN, split_think

__all__ = ["Reply", "Delta", "read_reply", "reply_of", "json_of"]


@dataclass(slots=True)
class Delta:
    """One piece of a streamed reply: its new answer text (`reasoning`: new reasoning, which comes
    before the answer and is never part of `text`), and on the last one the finish reason."""

    text: str
    finish_reason: str | None = None
    usage: dict | None = None
    reasoning: str = ""


@dataclass
class Reply:
    """A whole reply. `finish_reason` is stop|length|sensitive|context, or `stopped` when closed early.
    `text` is the answer only; a reasoning model's thinking is in `reasoning` ('' when none)."""

    text: str = ""
    finish_reason: str | None = None
    usage: dict = field(default_factory=dict)
    id: str | None = None
    request_id: str | None = None
    model: str | None = None
    omitted: list[str] = field(default_factory=list)
    reasoning: str = ""

    @property
    def notice(self) -> str | None:
        """What the ending means to a reader (None for a normal stop)."""
        return protocol.FINISH_NOTICES.get(self.finish_reason or "")

    def __str__(self) -> str:
        return self.text

    def footer_lines(self) -> list[str]:
        """How the reply ended (when not plainly), media the history policy left out, and tokens."""
        lines = [self.notice] if self.notice else []
        lines += self.omitted
        if self.usage:
            lines.append(
                f"{self.model or ''} \u00b7 {self.usage.get('prompt_tokens', 0)} prompt + "
                f"{self.usage.get('completion_tokens', 0)} reply tokens".lstrip(" \u00b7")
            )
        return lines

    def _repr_html_(self) -> str:
        # Model text is untrusted and JupyterLab does not sanitize a notebook's own outputs, so the
        # Markdown is rendered here with raw HTML escaped (never handed over as text/markdown).
        from ..magic.display import footer_html
        from ..render import output_html

        return output_html(self.text) + footer_html(self.footer_lines())


def json_of(response: Any, what: str) -> Any:
    """A successful reply's JSON; a ServerError quoting the body when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        raise ServerError(
            f"{what} is not JSON: {quote(response.content)}", request_id=response.headers.get("x-request-id")
        ) from None


_NATIVE = dialect_for("native")


def read_reply(response: Any, dialect: Dialect = _NATIVE) -> tuple[dict, str, str, str | None]:
    """(data, text, reasoning, finish reason) of a whole JSON reply in `dialect`'s shape; an error
    it carries is raised, typed by its code. A leading `<think>` block in the text is reasoning."""
    request_id = response.headers.get("x-request-id")
    content = response.content
    try:
        payload = json.loads(content)
    except ValueError:
        raise ServerError(
            f"HTTP {response.status_code} with a body that is not JSON: {quote(content)}",
            status=response.status_code,
            request_id=request_id,
        ) from None
    code, message, details = error_fields(payload)
    if message is not None or code is not None:
        raise error_for_code(code, message, request_id=request_id, details=details)
    try:
        body, text, reasoning, finish = dialect.reply(payload)
    except (KeyError, IndexError, TypeError, AttributeError):
        where = "data.choices[0].message" if dialect.name == "native" else "choices[0].message"
        raise ServerError(
            f"the reply has no {where}: {quote(content)}",
            status=response.status_code,
            request_id=request_id,
        ) from None
    if isinstance(text, str) and text.lstrip().startswith(OPEN):
        thought, text = split_think(text)
        reasoning += thought
    return body, text, reasoning, finish


def reply_of(response: Any, *, model: str, omitted: list[str], dialect: Dialect = _NATIVE) -> Reply:
    """The `Reply` of a non-streamed request's successful response."""
    body, text, reasoning, finish = read_reply(response, dialect)
    return Reply(
        text=text,
        finish_reason=finish,
        usage=body.get("usage") or {},
        id=body.get("id"),
        request_id=response.headers.get("x-request-id"),
        model=model,
        omitted=list(omitted),
        reasoning=reasoning,
    )
