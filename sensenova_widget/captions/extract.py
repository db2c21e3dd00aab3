"""`extract()`: typed DataFrame columns from images, on caption()'s runner, cache and pacing.

Each row is asked for one JSON object matching the schema (`schema.py`): the schema is written
into the prompt and one fenced JSON block is asked for; where the endpoint takes OpenAI's
`response_format`, it is sent too, decided by one probe per client and model (`Structured`).
The reply's JSON is found and safely repaired (`json_text.py`) and validated by Pydantic; a
reply that does not validate is answered, in the same conversation, with the validation error,
at most `retries` times. Only the reply that validated is cached, so a cached row never needs
asking again; the key holds the schema, so a changed schema (or prompt) is asked afresh.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequestError, SenseNovaError
from .api import check_arguments, run_table
from .json_text import parsed_values
from .rows import TOKEN_FIELDS, check_fields, jobs, template_fields
from .run import Task
from .schema import Schema
from .tables import TEXT, Kind, table_for
from .tally import Tally

if TYPE_CHECKING:  # pragma: no cover
    from ..client.client import Client

__all__ = ["DEFAULT_EXTRACT_PROMPT", "ERROR_COLUMN", "RAW_COLUMN", "ExtractionError", "Extraction", "extract"]

DEFAULT_EXTRACT_PROMPT = "Look at the image and fill in these fields."
ERROR_COLUMN = "extract_error"
RAW_COLUMN = "extract_raw"
KEY_VERSION = 1  # of the instructions' wording: bump when it changes what is asked
PROBE_PROMPT = "Answer with a JSON object whose field ok is true."
PROBE_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "probe",
        "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]},
    },
}
PROBE_TOKENS = 32
CUT = {  # why a reply that never validated may have had no chance to
    "length": " (the reply was cut at max_new_tokens: allow more)",
    "context": " (the reply was cut where the model's context ends)",
    "sensitive": " (the content filter stopped the reply)",
}


class ExtractionError(SenseNovaError):
    """A row whose replies never validated; `raw` is the last reply."""

    def __init__(self, message: str, *, raw: str | None = None) -> None:
        super().__init__(message)
        self.raw = raw


class Structured:
    """Whether an endpoint takes `response_format`: one probe per client and model, remembered.

    Never assumed: a short text request with a JSON schema format is sent once; an endpoint
    that refuses it (HTTP 400) or answers without a JSON object (it ignored the format) does
    not take it. Until the probe has answered, rows go out with the schema in the prompt only,
    which every endpoint takes, so the probe costs no wall time.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: weakref.WeakKeyDictionary[Any, dict[str, bool | None]] = weakref.WeakKeyDictionary()

    def supported(
        self, client: Client, model: str, headers: Any = None, pace: Callable[[], None] | None = None
    ) -> bool:
        """The probe's answer; False while it runs in another thread (or failed). `pace` is
        called after a probe this call sent, so the request that follows waits its turn."""
        with self._lock:
            models = self._known.setdefault(client, {})
            if model in models:
                return bool(models[model])
            models[model] = None  # being probed
        found = self._probe(client, model, headers)
        with self._lock:
            self._known.setdefault(client, {})[model] = found
        if pace is not None:
            pace()
        return found

    @staticmethod
    def _probe(client: Client, model: str, headers: Any) -> bool:
        try:
            reply = client.chat(
                PROBE_PROMPT,
                model=model,
                max_new_tokens=PROBE_TOKENS,
                extra_headers=headers,
                extra_body={"response_format": PROBE_FORMAT},
            )
        except SenseNovaError:
            return False  # refused, or not reachable now: the prompt alone always works
        return any(isinstance(value, dict) for value in parsed_values(reply.text))


STRUCTURED = Structured()


class FinalReply:
    """The reply that validated, with the tokens of every reply the row cost."""

    def __init__(self, reply: Any, usage: dict) -> None:
        self.text = reply.text
        self.reasoning = reply.reasoning
        self.finish_reason = reply.finish_reason
        self.usage = usage


class Extraction(Task):
    """extract()'s task: ask for the schema, and ask again with the validation error."""

    name = "extract"
    done = "extracted"

    def __init__(self, schema: Schema, retries: int, structured: Structured = STRUCTURED) -> None:
        self.schema = schema
        self.retries = retries
        self.structured = structured
        self.key = {"extract": schema.text, "extract_version": KEY_VERSION}

    def ask(
        self,
        client: Client,
        prompt: str,
        parts: list[dict],
        *,
        model: str,
        params: dict,
        pace: Callable[[], None],
    ) -> FinalReply:
        extra = None
        if self.structured.supported(client, model, params.get("extra_headers"), pace):
            extra = {"response_format": self.schema.response_format()}
        messages: list[dict] = [
            {"role": "user", "content": [*parts, {"type": "text", "text": self.schema.instructions(prompt)}]}
        ]
        usage = dict.fromkeys(TOKEN_FIELDS, 0)
        replies = 0
        for _ in range(self.retries + 1):
            if replies:
                pace()  # asked again at once, in the slot the row holds, keeping to rpm and Retry-After
            replies += 1
            reply = client.chat(messages, model=model, extra_body=extra, **params)
            for name in TOKEN_FIELDS:
                usage[name] += (reply.usage or {}).get(name) or 0
            checked = self.schema.validate(reply.text)
            if checked.values is not None:
                return FinalReply(reply, usage)
            messages += [
                {"role": "assistant", "content": reply.text or "(empty)"},
                {"role": "user", "content": self.schema.correction(checked.error)},
            ]
        said = "reply" if replies == 1 else f"{replies} replies"
        cut = CUT.get(reply.finish_reason or "", "")
        raise ExtractionError(f"did not validate ({said}): {checked.error}{cut}", raw=reply.text)


def extract(
    data: Any,
    column: Any,
    schema: Any,
    prompt: str | None = None,
    *,
    client: Client | None = None,
    model: str | None = None,
    concurrency: int = 8,
    rpm: float | None = None,
    on_error: str = "record",
    cache: bool | str | Any = True,
    progress: bool = True,
    retries: int = 2,
    raw: bool = False,
    **params: Any,
) -> Any:
    """Read typed fields from each row's image(s); return the frame with one column per field.

    schema: a Pydantic model class, or a dict of field name to type, e.g. `{"animals": int,
      "outdoor": bool, "kind": Literal["cat", "dog", "other"]}`; `Field(description=...)` goes
      into the prompt. Column types: int -> Int64, float -> Float64, bool -> boolean, str ->
      string, Literal -> categorical with exactly those categories, anything else (lists,
      nested models) -> object holding plain Python values.
    prompt: what to look for, a template over the row's fields like caption()'s; the schema and
      the reply's format are added to it.
    retries: how many times a reply that does not validate is answered with the error, in the
      same conversation; a row that never validates has a one-line error in `extract_error`.
    raw: also a column `extract_raw` with the model's reply (the last one, for a failed row).
    data, column, client, model, concurrency, rpm, on_error, cache, progress, params: as
      caption()'s (a Series is taken as a one-column frame). The cache key holds the schema
      and the prompt, so a changed schema or prompt is asked again.

    Returns a new frame: the input's columns, then the fields, then `extract_error` (None where
    the row validated or had no image) and, with raw=True, `extract_raw`.
    """
    started = time.perf_counter()
    check_arguments(concurrency=concurrency, on_error=on_error, rpm=rpm, params=params, name="extract")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InvalidRequestError(
            f"retries={retries!r} is not allowed: expected an integer >= 0.", field="retries"
        )
    prompt = DEFAULT_EXTRACT_PROMPT if prompt is None else prompt
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequestError(
            f"prompt={prompt!r} is not allowed: expected a non-empty string or None.", field="prompt"
        )
    wanted = Schema(schema)
    if type(data).__module__.split(".", 1)[0] == "pandas" and type(data).__name__ == "Series":
        column = data.name if data.name is not None else "image"
        data = data.to_frame(column)
    table = table_for(data, column)
    fields = template_fields(prompt)
    check_fields(fields, table.fields, prompt)
    added = [*wanted.fields, ERROR_COLUMN, *([RAW_COLUMN] if raw else [])]
    clash = [name for name in added if name in table.fields or added.count(name) > 1]
    if clash:
        clash = list(dict.fromkeys(clash))
        raise InvalidRequestError(
            f"the result would have two columns named {', '.join(map(repr, clash))}: rename the input's "
            "column(s) or the schema's field(s).",
            field="schema",
        )

    def build(tally: Tally, info: dict) -> Any:
        columns, kinds = typed_columns(wanted, tally.texts, tally.errors, raw=raw)
        return table.result(columns, kinds, info)

    return run_table(
        table,
        jobs(table, prompt, fields),
        build,
        errors=ERROR_COLUMN,
        client=client,
        model=model,
        params=params,
        cache=cache,
        concurrency=concurrency,
        rpm=rpm,
        on_error=on_error,
        progress=progress,
        task=Extraction(wanted, retries),
        started=started,
    )


def typed_columns(
    schema: Schema, texts: list[str | None], errors: list[str | None], *, raw: bool
) -> tuple[dict[str, list], dict[str, Kind]]:
    """The result's new columns from each row's kept reply: the fields' values, the errors and
    (with `raw`) the replies, with each column's kind."""
    values: dict[str, list] = {name: [None] * len(texts) for name in schema.fields}
    errors = list(errors)
    for index, text in enumerate(texts):
        if text is None or errors[index] is not None:
            continue
        checked = schema.validate(text)  # the reply that validated (now, or when it was cached)
        if checked.values is None:
            errors[index] = f"did not validate: {checked.error}"
            continue
        for name, value in checked.values.items():
            values[name][index] = value
    columns: dict[str, list] = {**values, ERROR_COLUMN: errors}
    if raw:
        columns[RAW_COLUMN] = list(texts)
    return columns, {**schema.kinds, ERROR_COLUMN: TEXT, **({RAW_COLUMN: TEXT} if raw else {})}
