"""`caption()`: one request per row of a DataFrame, concurrent, paced, resumable, nothing lost.

`df.apply` asks one row at a time and forgets everything when the kernel is interrupted at row
9,000. Here `concurrency` worker threads share the client's HTTP session; rows are handed out
lazily (at most the in-flight limit at a time), and each image is hashed, looked up in the cache
and encoded inside its worker just before its request, so memory follows the concurrency, not
the row count. Every finished caption is committed to the SQLite cache (`cache.py`) the moment
it arrives, so an interrupt, an exception or a crash keeps it, and the same call run again only
asks for the rows still missing. 429s lower the in-flight limit (AIMD, `pacing.py`), and `rpm=`
spaces request starts.

`extract()` is the same run asking another question of each row: typed columns from a schema
(`schema`: the fields, their prompt, validation and column types; `json_text`: the JSON found
in a reply and safely repaired; `extract`: the function, the ask-again-with-the-error task and
the `response_format` probe).

The modules, one job each: `api` (caption() and the part every call shares, `run_table`),
`rows` (a row's prompt, images and outcome), `tables` (pandas/polars adapters and column
types), `run` (the workers, their hand-out, and the `Task` a row is asked), `tally` (result
columns, progress, summary), `partitions` (Dask), `accessors` (pandas), `view`
(`show_captions`: a readable table, thumbnails beside captions).

Importing this package registers the pandas accessors `df.sensenova.caption(column, ...)`,
`df.sensenova.extract(column, schema, ...)` and their Series forms. `import sensenova_widget`
stays free of pandas, so the accessor appears once this package is imported: by
`import sensenova_widget.captions` or by the first use of `snw.caption` or `snw.extract`.

Dask: the same functions are `map_partitions` steps; see `caption_partition`, `extract_partition`.
"""

from __future__ import annotations

from .accessors import register as _register_accessors
from .api import DEFAULT_PROMPT, ON_ERROR, CaptionError, caption
from .extract import extract
from .partitions import caption_meta, caption_partition, extract_meta, extract_partition
from .view import show_captions

__all__ = [
    "DEFAULT_PROMPT",
    "ON_ERROR",
    "CaptionError",
    "caption",
    "caption_meta",
    "caption_partition",
    "extract",
    "extract_meta",
    "extract_partition",
    "show_captions",
]

_register_accessors()
