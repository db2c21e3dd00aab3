"""Dask: `caption()` and `extract()` as `map_partitions` steps, and the `meta=` frames Dask needs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .api import DEFAULT_PROMPT, caption
from .extract import ERROR_COLUMN, RAW_COLUMN, extract
from .rows import TOKEN_FIELDS
from .schema import Schema
from .tables import TEXT, pandas_column, text_dtype

if TYPE_CHECKING:  # pragma: no cover
    from ..client.client import Client

__all__ = ["caption_meta", "caption_partition", "extract_meta", "extract_partition"]


def caption_partition(
    partition: Any,
    column: Any = None,
    prompt: str = DEFAULT_PROMPT,
    *,
    client: Client | Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
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
    kwargs.setdefault("progress", False)
    return caption(partition, column, prompt, client=worker_client(client), **kwargs)


def extract_partition(
    partition: Any,
    column: Any,
    schema: Any,
    prompt: str | None = None,
    *,
    client: Client | Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    """`extract()` as a Dask `map_partitions` step, as `caption_partition` is for caption():

    ```python
    out = ddf.map_partitions(extract_partition, "image", Photo, cache="/shared/local/disk/x.sqlite",
                             meta=extract_meta(ddf, Photo)).compute()
    ```
    """
    kwargs.setdefault("progress", False)
    return extract(partition, column, schema, prompt, client=worker_client(client), **kwargs)


def worker_client(client: Client | Mapping[str, Any] | None) -> Client | None:
    """A Dask worker's client: None (built from its environment), a Client, or one built from a
    dict of `Client(...)` keyword arguments."""
    if isinstance(client, Mapping):
        from ..client.client import Client

        return Client(**client)
    return client


def caption_meta(
    frame: Any, out: str = "caption", *, tokens: bool = False, reasoning: str | None = None
) -> Any:
    """The empty pandas frame Dask needs as `meta=` for `caption_partition`'s output (give the
    same `out`, `tokens` and `reasoning` as the caption call)."""
    import pandas as pd

    meta = getattr(frame, "_meta", frame).iloc[:0].copy()
    for name in [out, f"{out}_error", *([reasoning] if reasoning else [])]:
        meta[name] = pd.array([], dtype=text_dtype())
    if tokens:
        for name in TOKEN_FIELDS:
            meta[f"{out}_{name}"] = pd.array([], dtype="Int64")
    return meta


def extract_meta(frame: Any, schema: Any, *, raw: bool = False) -> Any:
    """The empty pandas frame Dask needs as `meta=` for `extract_partition`'s output (give the
    same `schema` and `raw` as the extract call): each field with its column type."""
    wanted = Schema(schema)
    meta = getattr(frame, "_meta", frame).iloc[:0].copy()
    kinds = {**wanted.kinds, ERROR_COLUMN: TEXT, **({RAW_COLUMN: TEXT} if raw else {})}
    for name, kind in kinds.items():
        meta[name] = pandas_column([], kind)
    return meta
