"""The panel's conversation list (its Chats button): the conversations saved in the panel's
store, searched, opened, renamed, deleted, or a new one started; and which panel shows each
(`claim`: a newer panel on the same conversation supersedes the older, so two never fork it).

The browser asks through the panel's request table (`HANDLERS`); every request is checked here
(names are non-empty strings of at most `MAX_NAME` characters, a search is a string) before the
store is touched, and the current conversation is renamed or deleted only while no reply streams.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from ..conversation.conversation import Conversation
from ..conversation.store import ConversationStore, UnknownConversationError
from ..errors import InvalidRequestError, PanelBusyError, UsageError

__all__ = ["HANDLERS", "MAX_NAME", "SUPERSEDED", "claim", "opened", "store_of"]

MAX_NAME = 200
SUPERSEDED = "A newer panel shows this conversation: use that one (this one no longer sends)."
_showing: weakref.WeakValueDictionary[tuple[str, str], Any] = weakref.WeakValueDictionary()
_showing_lock = threading.Lock()


def claim(panel: Any) -> None:
    """`panel` now shows its saved conversation: an older panel showing it is `superseded`."""
    store = panel.store
    if store is None or not panel.name:
        return
    key = (str(store.path), panel.name)
    with _showing_lock:
        older = _showing.get(key)
        _showing[key] = panel
    if older is not None and older is not panel:
        older.superseded = True


def store_of(panel: Any) -> ConversationStore:
    """The store the panel saves in; a panel whose store could not be opened has no list."""
    store = panel.store
    if store is None:
        raise UsageError("This panel's conversations are not saved (its store could not be opened).")
    return store


def opened(panel: Any, name: str | None) -> Conversation:
    """The saved conversation `name` (None: a new one with a generated name), ready to continue
    with the panel's client and settings."""
    store = store_of(panel)
    if name is not None and name not in store:
        raise UnknownConversationError(f"No conversation named {name!r} in {store.path}.")
    return Conversation(
        panel.client,
        model=panel.settings.get("model") or None,
        system=panel.settings.get("system") or None,
        name=name if name is not None else store.new_name(),
        store=store,
    )


def _name(params: Mapping[str, Any], key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise InvalidRequestError(
            f"{key} must be a conversation name (a non-empty string of at most {MAX_NAME} characters).",
            field=key,
        )
    return value


def _idle_if_current(panel: Any, name: str) -> bool:
    """Whether `name` is the panel's conversation (then no reply may be streaming)."""
    if name != panel.name:
        return False
    if panel.busy:
        raise PanelBusyError("A reply is still streaming in this conversation: stop it or wait for it first.")
    return True


def request_list(panel: Any, params: dict, _buffers: list) -> dict:
    """`{"search": "text"}` (optional): the rows, most recent first, and which one the panel shows."""
    search = params.get("search") or None
    if search is not None and not isinstance(search, str):
        raise InvalidRequestError("conversations: search must be a string.", field="search")
    rows = [info.row() for info in panel.conversations(search[:MAX_NAME] if search else None)]
    return {"items": rows, "current": panel.name}


def request_open(panel: Any, params: dict, _buffers: list) -> dict:
    """`{"name": ...}` opens a saved conversation; `{"name": null}` starts a new one."""
    name = params.get("name")
    panel.open_conversation(None if name is None else _name(params, "name"))
    return {"name": panel.name}


def request_rename(panel: Any, params: dict, _buffers: list) -> dict:
    old, new = _name(params, "old"), _name(params, "new").strip()
    current = _idle_if_current(panel, old)
    store_of(panel).rename(old, new)
    if current:  # the panel goes on under the new name
        panel.open_conversation(new)
    return {"name": new}


def request_delete(panel: Any, params: dict, _buffers: list) -> dict:
    name = _name(params, "name")
    current = _idle_if_current(panel, name)
    store_of(panel).delete(name)
    if current:  # the panel goes on with a new, empty one
        panel.open_conversation(None)
    return {"deleted": name, "current": panel.name}


HANDLERS: dict[str, Callable[..., dict]] = {
    "conversations": request_list,
    "open_conversation": request_open,
    "rename_conversation": request_rename,
    "delete_conversation": request_delete,
}
