"""Where the notebook's variables live: IPython's `user_ns`, marimo's globals, or one given.

The panel's "From notebook" picker lists image-like variables and `ChatPanel.attach(photo)` labels
a value with its variable name. Jupyter keeps the variables in IPython's `user_ns`; marimo has no
IPython: its cells run in one globals dict, the running app's (`marimo` keeps it on its runtime
context, which is thread-local, so it is captured when the panel is made, in the cell's thread).
`ChatPanel(namespace=globals())` is the explicit way that works everywhere.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ipython_namespace", "marimo_namespace", "namespace_finder", "variable_name"]


def ipython_namespace() -> Mapping[str, Any] | None:
    """The running IPython's `user_ns` (a Jupyter kernel's), or None outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    return getattr(get_ipython(), "user_ns", None)


def marimo_namespace() -> Mapping[str, Any] | None:
    """The globals of the marimo app running in this thread, or None (marimo not running here).

    marimo has no public call for its globals (`mo.refs()`/`mo.defs()` give a cell's names, not
    their values); its runtime context holds the dict the cells run in. Read only when marimo is
    already imported, and any change of its internals just means None.
    """
    if "marimo" not in sys.modules:
        return None
    try:
        from marimo._runtime.context import get_context

        found = get_context().globals
    except Exception:  # not in a marimo kernel, or marimo moved it: no namespace from marimo
        return None
    return found if isinstance(found, Mapping) else None


def namespace_finder(explicit: Mapping[str, Any] | None, creator: Mapping[str, Any] | None) -> Callable:
    """A function returning the namespace to read now.

    `explicit` (given by the user) wins; else IPython's `user_ns`, looked up at each call (a kernel
    may start IPython after the panel was made); else marimo's globals captured now; else the
    globals of the code that made the panel (`creator`), so a plain script's variables are found.
    """
    if explicit is not None:
        return lambda: explicit
    captured = marimo_namespace() or creator or {}

    def find() -> Mapping[str, Any]:
        found = ipython_namespace()
        return found if found is not None else captured

    return find


def variable_name(value: Any, *namespaces: Mapping[str, Any] | None) -> str | None:
    """The first public name bound to this very object (by identity) in the namespaces, else None.

    Names starting with `_` (IPython's `_`, `_3`, `__`) are skipped, so are values that every name
    could hold (None, numbers, booleans), strings (a path says more than
    its name) and modules: only an object a name was given to is named.
    """
    if value is None or isinstance(value, (bool, int, float, str, types.ModuleType)):
        return None
    for namespace in namespaces:
        if not namespace:
            continue
        for name, bound in list(namespace.items()):
            if bound is value and not name.startswith("_") and name.isidentifier():
                return name
    return None
