"""`caption()`: one request per row of a DataFrame, concurrent, paced, resumable, nothing lost.

`df.apply` asks one row at a time and forgets everything when the kernel is interrupted at row
9,000. Here `concurrency` worker threads share the client's HTTP session; rows are handed out
lazily (at most the in-flight limit at a time), and each image is hashed, looked up in the cache
and encoded inside its worker just before its request, so memory follows the concurrency, not
the row count. Every finished caption is committed to the SQLite cache (`cache.py`) the moment
it arrives, so an interrupt, an exception or a crash keeps it, and the same call run again only
asks for the rows still missing. 429s lower the in-flight limit (AIMD, `pacing.py`), and `rpm=`
spaces request starts.

Importing this module registers the pandas accessors `df.sensenova.caption(column, ...)` and
`series.sensenova.caption(...)`. `import sensenova_widget` stays free of pandas, so the accessor
appears once this module is imported: by `import sensenova_widget.captions` or by the first use
of `snw.caption`.

Dask: the same function is a `map_partitions` step; see `caption_partition`.
"""

from __future__ import annotations

import itertools
import logging
import math
import sqlite3
import string
import sys
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from . import cache as cache_module
from . import media
from .errors import InvalidRequestError, RateLimitError, SenseNovaError
from .pacing import AIMDLimit, RateLimiter
from .protocol import PARAMETERS, validate_parameter

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

__all__ = ["caption", "caption_partition", "caption_meta", "CaptionError", "DEFAULT_PROMPT", "ON_ERROR"]

logger = logging.getLogger("sensenova_widget")

DEFAULT_PROMPT = "Describe this image in one sentence."
ON_ERROR = ("record", "raise")
# client.chat's keyword arguments that `caption(**params)` passes through to every request.
CHAT_PARAMS = tuple(PARAMETERS) + ("system", "user", "extra_headers")
# ...and those that change what the model says, hence part of the cache key.
KEYED_PARAMS = tuple(PARAMETERS) + ("system",)
TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
RATE_LIMIT_REQUEUES = 3  # a row still rate limited after the client's retries goes back in line
POLL_SECONDS = 0.1  # how often the main thread wakes, so an interrupt is felt promptly


class CaptionError(SenseNovaError):
    """`on_error="raise"`: the first failing row, after everything in flight finished and was cached.

    `row` is the failing row's position, `finished` how many rows have a caption, and `partial`
    the result so far (the same shape `caption()` returns), so nothing finished is lost.
    """

    def __init__(self, message: str, *, row: int, finished: int, partial: Any = None, cause: BaseException | None = None) -> None:
        kw = {}
        if isinstance(cause, SenseNovaError):
            kw = {"status": cause.status, "code": cause.code, "request_id": cause.request_id}
        super().__init__(message, **kw)
        self.row = row
        self.finished = finished
        self.partial = partial


# --------------------------------------------------------------------------- one row's outcome

@dataclass
class _Outcome:
    text: str | None = None
    error: str | None = None
    usage: dict = field(default_factory=dict)
    from_cache: bool = False
    skipped: bool = False
    cancelled: bool = False  # never sent: the batch was stopped first
    exception: BaseException | None = None

    @property
    def rate_limited(self) -> bool:
        return isinstance(self.exception, RateLimitError)


@dataclass
class _Job:
    index: int
    images: list
    prompt: str
    requeues: int = 0


# --------------------------------------------------------------------------- checks made before anything is sent

def _template_fields(prompt: str) -> list[str]:
    """The row fields a prompt template names: `"A {category} photo, {meta[size]}"` -> category, meta."""
    try:
        parsed = list(string.Formatter().parse(prompt))
    except ValueError as exc:
        raise InvalidRequestError(
            f"prompt={prompt!r} is not a valid template ({exc}): name row fields as {{column}}, "
            "and write a literal brace as {{ or }}.", field="prompt") from None
    names = []
    for _, name, _, _ in parsed:
        if name is None:
            continue
        root = name.split(".", 1)[0].split("[", 1)[0]
        if not root or root.isdigit():
            raise InvalidRequestError(
                f"prompt={prompt!r} has a positional field {{{name}}}: name a column instead, "
                "e.g. {category}, and write a literal brace as {{ or }}.", field="prompt")
        if root not in names:
            names.append(root)
    return names


def _check_fields(fields: list[str], available: Sequence[Any], prompt: str) -> None:
    missing = [name for name in fields if name not in available]
    if missing:
        shown = ", ".join(repr(c) for c in available) or "none"
        raise InvalidRequestError(
            f"prompt={prompt!r} names {', '.join('{' + m + '}' for m in missing)}, which is not a column: "
            f"the columns available are {shown}.", field="prompt")


def _check_arguments(*, out: Any, concurrency: Any, on_error: Any, rpm: Any, params: Mapping[str, Any]) -> None:
    if on_error not in ON_ERROR:
        raise InvalidRequestError(f"on_error={on_error!r} is not allowed: expected one of {', '.join(map(repr, ON_ERROR))}.",
                                  field="on_error")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidRequestError(f"concurrency={concurrency!r} is not allowed: expected an integer >= 1.", field="concurrency")
    if not isinstance(out, str) or not out:
        raise InvalidRequestError(f"out={out!r} is not allowed: expected a non-empty column name.", field="out")
    if rpm is not None:
        try:
            RateLimiter(rpm)
        except ValueError as exc:
            raise InvalidRequestError(str(exc), field="rpm") from None
    for name, value in params.items():
        if name not in CHAT_PARAMS:
            raise InvalidRequestError(f"{name}= is not a caption() parameter: expected one of {', '.join(CHAT_PARAMS)}.",
                                      field=name)
        if name in PARAMETERS and value is not None:
            validate_parameter(name, value)


def _is_missing(value: Any) -> bool:
    """None, NaN, pd.NA, NaT or an empty list: nothing to caption in this row."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (list, tuple)):
        return len(value) == 0
    return type(value).__name__ in ("NAType", "NaTType")


def _as_images(value: Any) -> list:
    """A row's value as the list of images of its request (a list/tuple is several images)."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if type(value).__module__.startswith("polars") and type(value).__name__ == "Series":
        return value.to_list()  # a polars List cell
    return [value]


# --------------------------------------------------------------------------- the inputs caption() accepts

class _Table:
    """The input, seen the same way whatever its kind: values per row, fields, and a result builder."""

    def __init__(self, data: Any, column: Any) -> None:
        self.data = data
        self.column = column

    def __len__(self) -> int:
        return len(self.data)

    @property
    def fields(self) -> list:
        """The names a prompt template may use: the frame's columns."""
        return list(self.data.columns)

    def values(self) -> Iterator[Any]:
        raise NotImplementedError

    def field_values(self, names: list[str]) -> Iterator[tuple]:
        raise NotImplementedError

    def label(self, position: int) -> Any:
        return position

    def result(self, columns: dict[str, list], counts: set[str], summary: dict) -> Any:
        """A new object with `columns` added: text columns, and `_tokens` columns of counts."""
        raise NotImplementedError


class _PandasFrame(_Table):
    def __init__(self, data: Any, column: Any) -> None:
        super().__init__(data, column)
        if column is None:
            raise InvalidRequestError(
                "column= is required for a DataFrame: name the column holding the images "
                f"(the columns are {', '.join(map(repr, data.columns))}).", field="column")
        if column not in data.columns:
            raise InvalidRequestError(
                f"column={column!r} is not in the DataFrame: the columns are {', '.join(map(repr, data.columns))}.",
                field="column")
        if not data.columns.is_unique:
            twice = sorted({repr(c) for c in data.columns[data.columns.duplicated()]})
            raise InvalidRequestError(f"the DataFrame has more than one column named {', '.join(twice)}: "
                                      "rename them so each row's fields are unambiguous.", field="data")

    def values(self) -> Iterator[Any]:
        return iter(self.data[self.column])

    def field_values(self, names: list[str]) -> Iterator[tuple]:
        return zip(*(self.data[name] for name in names)) if names else itertools.repeat(())

    def label(self, position: int) -> Any:
        return self.data.index[position]

    def result(self, columns: dict[str, list], counts: set[str], summary: dict) -> Any:
        new = self.data.copy()
        for name, values in columns.items():
            new[name] = _pandas_column(values, counts=name in counts)
        new.attrs["sensenova_summary"] = summary
        return new


class _PandasSeries(_PandasFrame):
    def __init__(self, data: Any, column: Any) -> None:
        if column is not None and column != data.name:
            raise InvalidRequestError(
                f"column={column!r} does not apply to a Series: pass the Series alone, or a DataFrame and a column.",
                field="column")
        _Table.__init__(self, data, column)

    @property
    def fields(self) -> list:
        return [self.data.name] if isinstance(self.data.name, str) else []

    def values(self) -> Iterator[Any]:
        return iter(self.data)

    def field_values(self, names: list[str]) -> Iterator[tuple]:
        return ((value,) for value in self.data) if names else itertools.repeat(())

    def result(self, columns: dict[str, list], counts: set[str], summary: dict) -> Any:
        import pandas as pd

        (out, texts), (_, errors) = list(columns.items())[:2]
        series = pd.Series(_pandas_column(texts), index=self.data.index, name=out)
        series.attrs["sensenova_summary"] = summary
        series.attrs["sensenova_errors"] = {self.data.index[i]: e for i, e in enumerate(errors) if e is not None}
        series.attrs["sensenova_columns"] = {name: values for name, values in list(columns.items())[2:]}
        return series


class _PolarsFrame(_Table):
    def __init__(self, data: Any, column: Any) -> None:
        super().__init__(data, column)
        if column is None or column not in data.columns:
            raise InvalidRequestError(
                f"column={column!r} is not in the DataFrame: name the column holding the images "
                f"(the columns are {', '.join(map(repr, data.columns))}).", field="column")

    def values(self) -> Iterator[Any]:
        return iter(self.data.get_column(self.column))

    def field_values(self, names: list[str]) -> Iterator[tuple]:
        return zip(*(self.data.get_column(name) for name in names)) if names else itertools.repeat(())

    def result(self, columns: dict[str, list], counts: set[str], summary: dict) -> Any:
        import polars as pl

        new = self.data.with_columns([
            pl.Series(name, values, dtype=pl.Int64 if name in counts else pl.String)
            for name, values in columns.items()
        ])
        new.sensenova_summary = summary  # polars frames have no attrs: a plain attribute, documented
        return new


def _pandas_column(values: list, counts: bool = False) -> Any:
    import pandas as pd

    return pd.array(values, dtype="Int64" if counts else _text_dtype())


def _text_dtype() -> Any:
    """pandas 3's `str` (missing values are NaN); on pandas 2 `str` would turn None into "None"."""
    import pandas as pd

    return "str" if int(pd.__version__.split(".", 1)[0]) >= 3 else object


def _table(data: Any, column: Any) -> _Table:
    module = type(data).__module__.split(".", 1)[0]
    name = type(data).__name__
    if module == "pandas" and name == "DataFrame":
        return _PandasFrame(data, column)
    if module == "pandas" and name == "Series":
        return _PandasSeries(data, column)
    if module == "polars" and name == "DataFrame":
        return _PolarsFrame(data, column)
    raise InvalidRequestError(
        f"caption() got a {type(data).__module__}.{name}: expected a pandas DataFrame (with column=), "
        "a pandas Series, or a polars DataFrame (with column=).", field="data")


# --------------------------------------------------------------------------- the run

class _Run:
    """One caption() call: the worker body, the 429 observer, and the main thread's hand-out loop."""

    def __init__(self, *, client: Client, model: str, params: dict, cache: cache_module.ResultCache | None,
                 concurrency: int, rpm: float | None) -> None:
        self.client = client
        self.model = model
        self.params = params
        self.keyed = {name: params[name] for name in KEYED_PARAMS if name in params}
        self.cache = cache
        self.limit = AIMDLimit(concurrency)
        self.rate = RateLimiter(rpm) if rpm else None
        self.stop = threading.Event()
        self.local = threading.local()  # the AIMD epoch a worker's current request started in
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sensenova-caption")

    # ---- in a worker thread
    def work(self, job: _Job) -> _Outcome:
        try:
            key, images = None, job.images
            if self.cache is not None:
                pairs = [media.keyed(value) for value in job.images]  # each image read and hashed once
                images = [held for _, held in pairs]
                key = cache_module.cache_key([hash_ for hash_, _ in pairs], job.prompt, self.model, self.keyed)
                hit = self.cache.get(key)
                if hit is not None:
                    usage = {name: getattr(hit, name) for name in TOKEN_FIELDS}
                    return _Outcome(text=hit.text, usage=usage, from_cache=True)
            if self.stop.is_set() or (self.rate is not None and not self.rate.wait(self.stop)):
                return _Outcome(cancelled=True)
            self.local.epoch = self.limit.epoch
            reply = self.client.chat(job.prompt, images=images, model=self.model, **self.params)
            usage = {name: (reply.usage or {}).get(name) for name in TOKEN_FIELDS}
            if key is not None:
                try:
                    self.cache.put(key, cache_module.CachedReply(reply.text, reply.finish_reason, **usage),
                                   model=self.model)
                except sqlite3.Error as exc:  # the caption is still returned; only its saving failed
                    logger.warning("caption(): could not save a caption to %s: %s", self.cache.path, exc)
            self.limit.on_success()
            return _Outcome(text=reply.text, usage=usage)
        except Exception as exc:  # recorded in the row; `on_error="raise"` re-raises it from the main thread
            message = exc.one_line() if isinstance(exc, SenseNovaError) else f"{type(exc).__name__}: {exc}"
            return _Outcome(error=message.replace("\n", " "), exception=exc)
        finally:
            self.local.epoch = None

    def on_response(self, response: Any, *args: Any, **kwargs: Any) -> None:
        """A requests response hook: every HTTP attempt's status, retries included, in its own thread."""
        epoch = getattr(self.local, "epoch", None)
        if epoch is not None and response.status_code == 429:
            self.limit.on_rate_limited(epoch)

    # ---- in the main thread
    def execute(self, jobs: Iterator[_Job | _Ready], tally: _Tally, stop_at_error: bool) -> None:
        """Hand jobs to the workers as slots free up, recording each outcome in `tally` as it
        arrives; with `stop_at_error`, hand out nothing more after the first failure."""
        in_flight: dict[Future, _Job] = {}
        again: deque[_Job] = deque()
        exhausted = False
        hooks = self._hooks()
        hooks.append(self.on_response)
        try:
            while True:
                while not self.stop.is_set() and len(in_flight) < self.limit.limit:
                    job = again.popleft() if again else (None if exhausted else next(jobs, None))
                    if job is None:
                        exhausted = True
                        break
                    if isinstance(job, _Ready):  # a gap, or a prompt that could not be made: nothing to send
                        tally.record(job.index, job.outcome)
                        continue
                    in_flight[self.pool.submit(self.work, job)] = job
                if not in_flight:
                    return
                done, _ = wait(list(in_flight), timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                for future in done:
                    job = in_flight.pop(future)
                    outcome = future.result()
                    if outcome.cancelled:
                        continue
                    if outcome.rate_limited and job.requeues < RATE_LIMIT_REQUEUES and not self.stop.is_set():
                        job.requeues += 1
                        again.append(job)  # the limit is lower now; try it again later
                        continue
                    tally.record(job.index, outcome)
                    if outcome.error and stop_at_error:
                        self.stop.set()  # hand out nothing more; what is in flight finishes and is kept
        except BaseException:
            # An interrupt (or any error) in the main thread: stop handing out work, and keep
            # every caption that finishes in flight (a second interrupt abandons the wait; the
            # workers still commit their captions to the cache when they finish).
            self.stop.set()
            for future, job in list(in_flight.items()):
                outcome = future.result()
                if not outcome.cancelled:
                    tally.record(job.index, outcome)
            self.pool.shutdown(wait=True, cancel_futures=True)  # also a job the interrupt hit mid-submit
            raise
        finally:
            self.pool.shutdown(wait=False, cancel_futures=True)
            if self.on_response in hooks:
                hooks.remove(self.on_response)

    def _hooks(self) -> list:
        return self.client.session.hooks.setdefault("response", [])


@dataclass
class _Ready:
    index: int
    outcome: _Outcome


def _jobs(table: _Table, prompt: str, fields: list[str]) -> Iterator[_Job | _Ready]:
    """Rows, lazily: a job per row to send, or a ready outcome for a row with nothing to send
    (no image, or a value the template cannot format, e.g. `{n:.2f}` over a string)."""
    for index, (value, row) in enumerate(zip(table.values(), table.field_values(fields))):
        if _is_missing(value):
            yield _Ready(index, _Outcome(skipped=True))
            continue
        try:
            text = prompt.format_map(dict(zip(fields, row))) if fields else prompt
        except (KeyError, IndexError, AttributeError, TypeError, ValueError) as exc:
            error = InvalidRequestError(f"prompt={prompt!r} cannot be filled from this row: {type(exc).__name__}: {exc}",
                                        field="prompt")
            yield _Ready(index, _Outcome(error=error.one_line(), exception=error))
            continue
        yield _Job(index, _as_images(value), text)


# --------------------------------------------------------------------------- the public function

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
    rpm: at most this many request starts a minute (the service allows about 60).
    params: max_new_tokens, temperature, top_p, repetition_penalty, system, user, extra_headers.

    Returns a pandas DataFrame / Series (summary in `.attrs["sensenova_summary"]`; a Series
    also keeps its errors in `.attrs["sensenova_errors"]`) or a polars DataFrame (summary in its
    `.sensenova_summary` attribute). The input is not changed. An interrupt stops handing out
    rows, keeps every finished caption in the cache and re-raises: run the same call again to
    continue where it stopped.
    """
    started = time.perf_counter()
    _check_arguments(out=out, concurrency=concurrency, on_error=on_error, rpm=rpm, params=params)
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequestError(f"prompt={prompt!r} is not allowed: expected a non-empty string.", field="prompt")
    table = _table(data, column)
    fields = _template_fields(prompt)
    _check_fields(fields, table.fields, prompt)
    owns_client = client is None
    if client is None:
        from .client import Client

        client = Client()
    model = client.resolve_model(model)
    store = cache_module.open_cache(cache)
    owns_store = store is not None and store is not cache

    total = len(table)
    tally = _Tally(total, tokens, _progress_bar(total, progress))
    run = _Run(client=client, model=model, params=params, cache=store, concurrency=concurrency, rpm=rpm)

    def summary() -> dict:
        return {"rows": total, **tally.counts, "elapsed": round(time.perf_counter() - started, 3),
                "model": model, "cache": str(store.path) if store is not None else None,
                "lowest_concurrency": run.limit.lowest}

    try:
        run.execute(_jobs(table, prompt, fields), tally, stop_at_error=on_error == "raise")
    except BaseException as exc:
        tally.close()
        if isinstance(exc, KeyboardInterrupt) or not isinstance(exc, Exception):
            print(_interrupted_line(summary()), file=sys.stderr)
        raise
    finally:
        if owns_store:
            store.close()
        if owns_client:
            client.close()
    tally.close()
    info = summary()
    result = table.result(*tally.columns(out), info)
    if on_error == "raise" and tally.first_failure is not None:
        failed_at, failure = tally.first_failure
        raise CaptionError(
            f"row {table.label(failed_at)!r} failed: {failure.error}. {info['captioned']} of {total} rows finished"
            + (f" and are cached in {info['cache']}: run the same call again to continue." if info["cache"] else "."),
            row=failed_at, finished=info["captioned"], partial=result, cause=failure.exception,
        ) from failure.exception
    if progress:
        print(_summary_line(info, out))
    return result


class _Tally:
    """The result columns and counts, filled row by row in the main thread as outcomes arrive.

    Outcomes are not kept: a finished row costs its caption text (and three ints with
    `tokens=True`), so memory grows by the answers alone, not by anything a request held.
    """

    def __init__(self, total: int, tokens: bool, bar: Any) -> None:
        self.texts: list[str | None] = [None] * total
        self.errors: list[str | None] = [None] * total
        self.usage = {name: [None] * total for name in TOKEN_FIELDS} if tokens else {}
        self.counts = {"captioned": 0, "from_cache": 0, "skipped": 0, "failed": 0, "tokens": 0}
        self.first_failure: tuple[int, _Outcome] | None = None
        self.bar = bar

    def record(self, index: int, outcome: _Outcome) -> None:
        counts = self.counts
        if outcome.skipped:
            counts["skipped"] += 1
        elif outcome.error is not None:
            counts["failed"] += 1
            self.errors[index] = outcome.error
            if self.first_failure is None:
                self.first_failure = (index, outcome)
        else:
            counts["captioned"] += 1
            counts["from_cache"] += outcome.from_cache
            if not outcome.from_cache:
                counts["tokens"] += outcome.usage.get("total_tokens") or 0
            self.texts[index] = outcome.text
            for name, column in self.usage.items():
                column[index] = outcome.usage.get(name)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(failed=counts["failed"], cached=counts["from_cache"], tokens=counts["tokens"],
                                 refresh=False)

    def columns(self, out: str) -> tuple[dict[str, list], set[str]]:
        """The new columns by name (text first), and the names of those holding token counts."""
        counts = {f"{out}_{name}": values for name, values in self.usage.items()}
        return {out: self.texts, f"{out}_error": self.errors, **counts}, set(counts)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _summary_line(info: dict, out: str) -> str:
    parts = [f"{info['captioned']} captioned ({info['from_cache']} from cache)"]
    if info["skipped"]:
        parts.append(f"{info['skipped']} skipped (missing)")
    if info["failed"]:
        parts.append(f"{info['failed']} failed (see the {out}_error column)")
    parts.append(f"{info['tokens']:,} tokens used")
    return f"caption: {info['rows']} rows: " + ", ".join(parts) + f", in {info['elapsed']:.1f} s."


def _interrupted_line(info: dict) -> str:
    where = (f"they are cached in {info['cache']}: run the same call again to continue (only the missing rows are sent)."
             if info["cache"] else "cache=False, so they are not kept: use the default cache to resume.")
    return f"caption: stopped after {info['captioned']} of {info['rows']} rows captioned; {where}"


def _progress_bar(total: int, progress: bool) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="caption", unit="row", dynamic_ncols=True)


# --------------------------------------------------------------------------- Dask

def caption_partition(partition: Any, column: Any = None, prompt: str = DEFAULT_PROMPT, *,
                      client: Client | Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
    """`caption()` as a Dask `map_partitions` step, one partition per call on the workers.

    ```python
    import dask.dataframe as dd
    from sensenova_widget.captions import caption_meta, caption_partition

    ddf = dd.from_pandas(df, npartitions=8)           # or dd.read_parquet(...) of image paths
    out = ddf.map_partitions(caption_partition, "image", "Describe this {category}.",
                             cache="/shared/local/disk/captions.sqlite",  # one file all workers share
                             concurrency=4, meta=caption_meta(ddf, "caption")).compute()
    ```
    `client`: None (each worker builds `Client()` from its environment, the safest way to give
    workers credentials), a dict of `Client(...)` keyword arguments, or a Client. Progress bars
    and the printed summary are off on the workers. The cache file must be on a disk all the
    workers' processes see (SQLite is not safe over a network filesystem); a recomputed or
    retried partition then costs no request for the rows already captioned.
    """
    if isinstance(client, Mapping):
        from .client import Client

        client = Client(**client)
    kwargs.setdefault("progress", False)
    return caption(partition, column, prompt, client=client, **kwargs)


def caption_meta(frame: Any, out: str = "caption", *, tokens: bool = False) -> Any:
    """The empty pandas frame Dask needs as `meta=` for `caption_partition`'s output."""
    import pandas as pd

    meta = getattr(frame, "_meta", frame).iloc[:0].copy()
    for name in [out, f"{out}_error"]:
        meta[name] = pd.array([], dtype=_text_dtype())
    if tokens:
        for name in TOKEN_FIELDS:
            meta[f"{out}_{name}"] = pd.array([], dtype="Int64")
    return meta


# --------------------------------------------------------------------------- pandas accessors

def _register_accessors() -> None:
    import warnings

    import pandas as pd

    class _CaptionAccessor:
        """`df.sensenova.caption("image", ...)` / `series.sensenova.caption(...)`: `caption()` on this object."""

        def __init__(self, obj: Any) -> None:
            self._obj = obj

        def caption(self, *args: Any, **kwargs: Any) -> Any:
            return caption(self._obj, *args, **kwargs)

    with warnings.catch_warnings():  # re-importing (autoreload) re-registers the same name
        warnings.simplefilter("ignore")
        pd.api.extensions.register_dataframe_accessor("sensenova")(_CaptionAccessor)
        pd.api.extensions.register_series_accessor("sensenova")(_CaptionAccessor)


_register_accessors()
