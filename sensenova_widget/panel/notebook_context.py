"""Notebook context on request, from the panel's Context menu: the last error's traceback, a
variable's summary (a DataFrame's shape, dtypes and head, an array's shape and range), or the
last matplotlib figure.

Nothing is sent on its own: a traceback or a summary comes back as text the panel puts in the
message box, where the person sees it and can edit or delete it before Send; the figure is staged
as an attachment chip, removable like any other. Every request is checked here first.
"""

from __future__ import annotations

import re
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import InvalidRequestError

__all__ = ["HANDLERS", "MAX_CHARS", "latest_traceback", "last_figure", "summary"]

MAX_CHARS = 4000  # a context block's text is cut to this, with a note
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _cut(text: str) -> str:
    text = _ANSI.sub("", text).strip()
    return (
        text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 40].rstrip() + "\n... (cut to 4000 characters)"
    )


def latest_traceback() -> str | None:
    """The traceback of the last error a cell raised (IPython keeps it in `sys.last_value`), or None."""
    error = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    if error is None:
        return None
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    return _cut("".join(lines[-30:]))


def summary(name: str, value: Any) -> str:
    """What a model needs to know of `value`: a table's shape, column types and first rows, an
    array's shape, type and range, else its type and (short) repr."""
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    if hasattr(value, "dtypes") and hasattr(value, "head") and hasattr(value, "shape"):  # pandas, polars
        dtypes = value.dtypes
        types = dtypes.to_string() if hasattr(dtypes, "to_string") else str(dtypes)
        head = value.head(5)
        rows = head.to_string() if hasattr(head, "to_string") else str(head)
        text = f"{name}: {kind}, shape {tuple(value.shape)}\n\ncolumn types:\n{types}\n\nfirst rows:\n{rows}"
    elif hasattr(value, "shape") and hasattr(value, "dtype"):  # NumPy, torch, ...
        text = f"{name}: {kind}, shape {tuple(value.shape)}, dtype {value.dtype}"
        try:
            text += f", min {value.min()}, max {value.max()}"
        except Exception:  # an empty or non-numeric array has no range
            pass
    else:
        text = f"{name}: {kind}\n{repr(value)[:1500]}"
    return _cut(text)


def last_figure(namespace: Mapping[str, Any]) -> Any:
    """The most recent matplotlib figure still open, else the last one a variable holds (a Figure,
    or an Axes' figure: the inline backend closes a cell's figures once shown), or None.
    matplotlib is never imported here."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    numbers = pyplot.get_fignums() if pyplot is not None else []
    if numbers:
        return pyplot.figure(numbers[-1])
    figure_type = getattr(sys.modules.get("matplotlib.figure"), "Figure", None)
    if figure_type is None:
        return None
    held = [
        getattr(v, "figure", v)
        for v in namespace.values()
        if isinstance(getattr(v, "figure", v), figure_type)
    ]
    return held[-1] if held else None


def block(title: str, text: str) -> str:
    """A context block as the message box shows it: a title line, then the text fenced."""
    fence = "~~~" if "```" in text else "```"
    return f"{title}:\n{fence}text\n{text}\n{fence}\n"


def request_context(panel: Any, params: dict, _buffers: list) -> dict:
    """`{"what": "error" | "plot" | "variable", "name": ...}`: text for the message box (`{"text"}`)
    or the figure staged (`{"id"}`)."""
    what = params.get("what")
    if what == "error":
        found = latest_traceback()
        if found is None:
            raise InvalidRequestError("No cell has raised an error yet in this kernel.", field="what")
        return {"text": block("The last error", found)}
    if what == "plot":
        figure = last_figure(panel.namespace)
        if figure is None:
            raise InvalidRequestError(
                "No matplotlib figure is open or held in a variable (the inline backend closes a "
                "cell's figures once shown: keep one with fig = plt.figure()).",
                field="what",
            )
        return {"id": panel.attach(figure, label="last plot")}
    if what == "variable":
        name = params.get("name")
        namespace = panel.namespace
        if not isinstance(name, str) or not name.isidentifier() or name not in namespace:
            raise InvalidRequestError(
                f"the notebook has no variable {str(name)[:60]!r}: type the name of one.", field="name"
            )
        return {"text": block(f"The variable {name}", summary(name, namespace[name]))}
    raise InvalidRequestError("context: what must be error, plot or variable.", field="what")


def request_names(panel: Any, _params: dict, _buffers: list) -> dict:
    """The notebook's variable names (no modules, functions or private names), for the menu."""
    names = [
        name
        for name, value in panel.namespace.items()
        if not name.startswith("_")
        and name.isidentifier()
        and not callable(value)
        and type(value).__name__ != "module"
    ]
    return {"names": sorted(names)[:500]}


HANDLERS: dict[str, Callable[..., dict]] = {"context": request_context, "context_names": request_names}
