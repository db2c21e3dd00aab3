"""The pandas accessors `df.sensenova.caption(column, ...)`, `df.sensenova.extract(column, schema, ...)`
and their Series forms.

Registered when `sensenova_widget.captions` is imported: `import sensenova_widget` stays free of
pandas, so the accessor appears with the first `import sensenova_widget.captions` or `snw.caption`.
"""

from __future__ import annotations

import warnings
from typing import Any

from .api import caption
from .extract import extract

__all__ = ["CaptionAccessor", "register"]


class CaptionAccessor:
    """`df.sensenova.caption("image", ...)` / `series.sensenova.caption(...)`: `caption()` (and
    `extract()`) on this object."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def caption(self, *args: Any, **kwargs: Any) -> Any:
        return caption(self._obj, *args, **kwargs)

    def extract(self, *args: Any, **kwargs: Any) -> Any:
        """`df.sensenova.extract("image", schema, ...)` / `series.sensenova.extract(schema, ...)`."""
        import pandas as pd

        if isinstance(self._obj, pd.Series):
            return extract(self._obj, None, *args, **kwargs)
        return extract(self._obj, *args, **kwargs)


def register() -> None:
    """Register the accessor on DataFrame and Series (again, silently, on a re-import)."""
    import pandas as pd

    with warnings.catch_warnings():  # re-importing (autoreload) re-registers the same name
        warnings.simplefilter("ignore")
        pd.api.extensions.register_dataframe_accessor("sensenova")(CaptionAccessor)
        pd.api.extensions.register_series_accessor("sensenova")(CaptionAccessor)
