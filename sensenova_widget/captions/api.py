"""`caption()`: the public function, its checks, and the error it raises with `on_error="raise"`."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import Interrupted, InvalidRequestError, SenseNovaError
from ..params import Params
from ..protocol import PARAMETERS
from . import cache as cache_module
from .pacing import RateLimiter
from .rows import Job, Ready, check_fields, jobs, template_fields
from .run import CAPTION, Run, Task
from .tables import Table, table_for
from .tally import Tally, interrupted_line, progress_bar, summary_line

if TYPE_CHECKING:  # pragma: no cover
    from ..client.client import Client

__all__ = [
    "CHAT_PARAMS",
    "DEFAULT_PROMPT",
    "ON_ERROR",
    "CaptionError",
    "caption",
    "check_arguments",
    "run_table",
]

DEFAULT_PROMPT = "Describe this image in one sentence."
ON_ERROR = ("record", "raise")
# client.chat's keyword arguments that `caption(**params)` passes through to every request: every
# request parameter (the model is caption's own `model=`) and extra headers.
CHAT_PARAMS = tuple(name for name in PARAMETERS if name != "model") + ("extra_headers",)


class CaptionError(SenseNovaError):
    """`on_error="raise"` (caption() and extract()): the first failing row, after everything in
    flight finished and was cached.

    `row` is the failing row's position, `finished` how many rows have an answer, and `partial`
    the result so far (the same shape the call returns), so nothing finished is lost.
    """

    def __init__(
        self,
        message: str,
        *,
        row: int,
        finished: int,
        partial: Any = None,
        cause: BaseException | None = None,
    ) -> None:
        kw = {}
        if isinstance(cause, SenseNovaError):
            kw = {"status": cause.status, "code": cause.code, "request_id": cause.request_id}
        super().__init__(message, **kw)
        self.row = row
        self.finished = finished
        self.partial = partial


def check_arguments(
    *,
    out: Any = None,
    concurrency: Any,
    on_error: Any,
    rpm: Any,
    params: Mapping[str, Any],
    reasoning: Any = None,
    name: str = "caption",
) -> None:
    """Refuse bad arguments by name, with what is allowed, before anything is sent (`out` is
    caption()'s text column; `name` the function the message names)."""
    if on_error not in ON_ERROR:
        raise InvalidRequestError(
            f"on_error={on_error!r} is not allowed: expected one of {', '.join(map(repr, ON_ERROR))}.",
            field="on_error",
        )
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidRequestError(
            f"concurrency={concurrency!r} is not allowed: expected an integer >= 1.", field="concurrency"
        )
    if name == "caption" and (not isinstance(out, str) or not out):
        raise InvalidRequestError(
            f"out={out!r} is not allowed: expected a non-empty column name.", field="out"
        )
    if reasoning is not None and (not isinstance(reasoning, str) or not reasoning or reasoning == out):
        raise InvalidRequestError(
            f"reasoning={reasoning!r} is not allowed: expected None or a column name other than out={out!r}.",
            field="reasoning",
        )
    if rpm is not None:
        try:
            RateLimiter(rpm)
        except ValueError as exc:
            raise InvalidRequestError(str(exc), field="rpm") from None
    for param, value in params.items():
        if param not in CHAT_PARAMS:
            raise InvalidRequestError(
                f"{param}= is not a {name}() parameter: expected one of {', '.join(CHAT_PARAMS)}.",
                field=param,
            )
        if param in PARAMETERS and value is not None:
            PARAMETERS[param].for_any_model.check(value)


def caption(
    data: Any,
    column: Any = None,
    prompt: str = DEFAULT_PROMPT,
    *,
    model: str | None = None,
    out: str = "caption",
    concurrency: int = 8,
    on_error: str = "record",
    cache: bool | str | Any = True,
    progress: bool = True,
    rpm: float | None = None,
    client: Client | None = None,
    tokens: bool = False,
    reasoning: str | None = None,
    **params: Any,
) -> Any:
    """Ask the model about each row's image(s); return a new frame with the answers.

    data: a pandas DataFrame (give `column`), a pandas Series, or a polars DataFrame (give
      `column`). A row's value is anything `to_part` accepts (PIL image, array, bytes, path,
      URL, matplotlib figure...), a list of up to 6 of them, or missing (None/NaN/NA: skipped).
    prompt: a template over the row's fields, e.g. "Describe this {category}."; a field that
      is not a column is an error before anything is sent.
    out: the caption column; `{out}_error` holds None or the row's one-line error; with
      `tokens=True`, `{out}_prompt_tokens`, `{out}_completion_tokens` and `{out}_total_tokens`.
    concurrency: worker threads (requests in flight); lowered for a while after 429s.
    on_error: "record" keeps going and records each failure in its row; "raise" stops at the
      first failure, keeps (and caches) what finished, and raises `CaptionError` (its
      `.partial` holds the result so far).
    cache: True (the user cache dir), a file path (shareable, e.g. by Dask workers), or False.
      A caption is reused only for the same endpoint, images, encoding (the client's
      `MediaOptions`: longest side, JPEG quality, part budget), prompt, model and parameters.
    rpm: at most this many request starts a minute (the service allows about 60).
    client: the `Client` to send with (a `Client()` from the environment for None); its
      `media=MediaOptions(...)` decides how the images are encoded.
    reasoning: a column name for a reasoning model's thinking (`thinking=True`, or a model that
      always reasons); the caption column holds only the answer either way.
    params: every request parameter but the model (`protocol.PARAMETERS`: temperature, top_p,
      max_new_tokens, repetition_penalty, top_k, min_p, presence_penalty, thinking, system, user;
      each one keys the cache) and extra_headers.

    Returns a pandas DataFrame / Series (summary in `.attrs["sensenova_summary"]`; a Series
    also keeps its errors in `.attrs["sensenova_errors"]`) or a polars DataFrame (summary in its
    `.sensenova_summary` attribute). The input is not changed. An interrupt stops handing out
    rows, keeps every finished caption in the cache and re-raises: run the same call again to
    continue where it stopped.
    """
    started = time.perf_counter()
    check_arguments(
        out=out, concurrency=concurrency, on_error=on_error, rpm=rpm, params=params, reasoning=reasoning
    )
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequestError(
            f"prompt={prompt!r} is not allowed: expected a non-empty string.", field="prompt"
        )
    table = table_for(data, column)
    fields = template_fields(prompt)
    check_fields(fields, table.fields, prompt)

    def build(tally: Tally, info: dict) -> Any:
        return table.result(*tally.columns(out), info)

    return run_table(
        table,
        jobs(table, prompt, fields),
        build,
        errors=f"{out}_error",
        client=client,
        model=model,
        params=params,
        cache=cache,
        concurrency=concurrency,
        rpm=rpm,
        on_error=on_error,
        progress=progress,
        tokens=tokens,
        reasoning=reasoning,
        started=started,
    )


def run_table(
    table: Table,
    rows: Iterator[Job | Ready],
    build: Callable[[Tally, dict], Any],
    *,
    errors: str,
    client: Client | None,
    model: str | None,
    params: dict,
    cache: Any,
    concurrency: int,
    rpm: float | None,
    on_error: str,
    progress: bool,
    tokens: bool = False,
    reasoning: str | None = None,
    task: Task = CAPTION,
    started: float,
) -> Any:
    """The part caption() and extract() share once their arguments are checked: the client and
    cache opened (and closed), the run with its progress, the interrupt line, `on_error="raise"`,
    and the summary; `build(tally, info)` makes the result from the finished columns."""
    owns_client = client is None
    if client is None:
        from ..client.client import Client

        client = Client()
    model = client.resolve_model(model)
    settings = {name: value for name, value in params.items() if name in PARAMETERS}
    try:  # a parameter this client's endpoint does not take is refused before any row is sent
        Params.of(**settings).check_dialect(client.api)
    except BaseException:
        if owns_client:
            client.close()
        raise
    store = cache_module.open_cache(cache)
    owns_store = store is not None and store is not cache

    total = len(table)
    tally = Tally(
        total, tokens, progress_bar(total, progress, task.name), reasoning=reasoning, done=task.done
    )
    run = Run(
        client=client,
        model=model,
        params=params,
        cache=store,
        concurrency=concurrency,
        rpm=rpm,
        stop_at_error=on_error == "raise",
        task=task,
    )

    def summary() -> dict:
        return {
            "rows": total,
            **tally.counts,
            "elapsed": round(time.perf_counter() - started, 3),
            "model": model,
            "cache": str(store.path) if store is not None else None,
            "lowest_concurrency": run.limit.lowest,
        }

    try:
        run.execute(rows, tally)
    except KeyboardInterrupt:
        tally.close()
        raise Interrupted(interrupted_line(summary(), task)) from None  # one line, not a traceback
    except BaseException as exc:
        tally.close()
        if not isinstance(exc, Exception):
            print(interrupted_line(summary(), task), file=sys.stderr)
        raise
    finally:
        if owns_store:
            store.close()
        if owns_client:
            client.close()
    tally.close()
    info = summary()
    result = build(tally, info)
    if on_error == "raise" and tally.first_failure is not None:
        failed_at, failure = tally.first_failure
        done = info[task.done]
        raise CaptionError(
            f"row {table.label(failed_at)!r} failed: {failure.error.rstrip('.')}. "  # one full stop
            f"{done} of {total} rows finished"
            + (
                f" and are cached in {info['cache']}: run the same call again to continue."
                if info["cache"]
                else "."
            ),
            row=failed_at,
            finished=done,
            partial=result,
            cause=failure.exception,
        ) from failure.exception
    if progress or info["not_done"]:  # rows left for later are said even without a progress bar
        print(summary_line(info, errors, task))
    return result
