"""`caption()`: one request per row of a DataFrame, concurrent, paced, resumable, nothing lost.

`df.apply` asks one row at a time and forgets everything when the kernel is interrupted at row
9,000. Here `concurrency` worker threads share the client's HTTP session; rows are handed out
lazily (at most the in-flight limit at a time), and each image is hashed, looked up in the cache
and encoded inside its worker just before its request, so memory follows the concurrency, not
the row count. Every finished caption is committed to the SQLite cache (`cache.py`) the moment
it arrives, so an interrupt, an exception or a crash keeps it, and the same call run again only
asks for the rows still missing. 429s lower the in-flight limit (AIMD, `pacing.py`), and `rpm=`
spaces request starts.

The modules, one job each: `api` (the function and its checks), `rows` (a row's prompt, images
and outcome), `tables` (pandas/polars adapters), `run` (the workers and their hand-out),
`tally` (result columns, progress, summary), `partitions` (Dask), `accessors` (pandas),
`view` (`show_captions`: a readable table, thumbnails beside captions).

Importing this package registers the pandas accessors `df.sensenova.caption(column, ...)` and
`series.sensenova.caption(...)`. `import sensenova_widget` stays free of pandas, so the accessor
appears once this package is imported: by `import sensenova_widget.captions` or by the first use
of `snw.caption`.

Dask: the same function is a `map_partitions` step; see `caption_partition`.
"""

from __future__ import annotations

from .accessors import register as _register_accessors
from .api import DEFAULT_PROMPT, ON_ERROR, CaptionError, caption
from .partitions import caption_meta, caption_partition
from .view import show_captions

__all__ = [
    "DEFAULT_PROMPT",
    "ON_ERROR",
    "CaptionError",
    "caption",
    "caption_meta",
    "caption_partition",
    "show_captions",
]

_register_accessors()
