"""Notebook context on request, from the panel's Context menu: the last error's traceback, a
variable's summary (a DataFrame's shape, dtypes and head, an array's shape and range), or the
last matplotlib figure.

Nothing is sent on its own, nor unseen: a traceback or a summary is staged as a context chip
(`ChatPanel.attach_context`: a label such as "Traceback: KeyError" the person can expand to read
the exact text, or remove), the figure as an image chip. At Send the kernel adds the staged
context to the message's text (`conversation.turns.with_context`). Every request is checked here.
"""

from __future__ import annotations

import re
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import InvalidRequestError
from .panel_state import new_id

__all__ = [
    "HANDLERS",
    "MAX_CHARS",
    "MAX_ITEMS",
    "cut",
    "label_of",
    "latest_traceback",
    "last_figure",
    "staged_item",
    "summary",
]

MAX_CHARS = 4000  # a context block's text is cut to this, with a note
MAX_ITEMS = 4  # context chips staged for one message at most
MAX_LABEL = 80
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def cut(text: str) -> str:
    """`text` without terminal colours, cut to MAX_CHARS with a note saying so."""
    text = _ANSI.sub("", text).strip()
    return (
        text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 40].rstrip() + "\n... (cut to 4000 characters)"
    )


def staged_item(text: str, label: str) -> dict:
    """The browser's view of staged context: id, kind "context", a one-line label and the text as
    it will be sent (cut to MAX_CHARS); bad input refused."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequestError(
            "attach_context takes the context's text (a non-empty string).", field="text"
        )
    if not isinstance(label, str) or not label.strip():
        raise InvalidRequestError("attach_context takes a label (a non-empty string).", field="label")
    label = " ".join(label.split())[:MAX_LABEL]
    return {"id": new_id(), "kind": "context", "label": label, "text": cut(text)}


def latest_traceback() -> tuple[str, str] | None:
    """(a label, the traceback) of the last error a cell raised (IPython keeps it in
    `sys.last_value`), or None."""
    error = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    if error is None:
        return None
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    return f"Traceback: {type(error).__name__}", cut("".join(lines[-30:]))


def label_of(name: str, value: Any) -> str:
    """A chip's label for variable `name`: its type, and a table's rows×columns or an array's shape."""
    kind = type(value).__name__
    shape = getattr(value, "shape", None)
    try:
        sizes = "×".join(str(int(n)) for n in shape) if isinstance(shape, tuple) and shape else ""
    except (TypeError, ValueError):  # a shape of unknown sizes
        sizes = ""
    return f"{name}: {kind} {sizes}".rstrip()[:MAX_LABEL]


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
    return cut(text)


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


def request_context(panel: Any, params: dict, _buffers: list) -> dict:
    """`{"what": "error" | "plot" | "variable", "name": ...}`: the traceback or the summary staged
    as a context chip, or the figure as an image chip; answers the chip's `{"id"}`."""
    what = params.get("what")
    if what == "error":
        found = latest_traceback()
        if found is None:
            raise InvalidRequestError("No cell has raised an error yet in this kernel.", field="what")
        label, text = found
        return {"id": panel.attach_context(text, label=label)}
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
        value = namespace[name]
        return {"id": panel.attach_context(summary(name, value), label=label_of(name, value))}
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
