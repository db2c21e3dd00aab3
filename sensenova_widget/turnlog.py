"""The turns of one conversation as they will be exported and saved: `TurnLog`.

A `Conversation` keeps two views of its dialogue: the wire messages it resends, and the turns
as they ended (text, reasoning, ending, usage, thumbnails, the media parts sent). This module
keeps the second, in memory always and, for a named conversation, in its store as each turn
completes, so a restarted kernel can bring it back. A failed write warns and the chat goes
on: losing the copy on disk must not lose the conversation in front of the person.
"""

from __future__ import annotations

import sqlite3
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from . import media
from .errors import SenseNovaError
from .store import ConversationStore, StoredTurn, turn_from_message, turn_from_reply

__all__ = ["TurnLog", "part_thumbnails", "stored_user_turn", "stored_assistant_turn"]


def part_thumbnails(parts: list[Mapping[str, Any]]) -> list[bytes]:
    """One small picture per media part (b"" for one the kernel cannot show: a URL, a file id):
    `thumbnails[i]` stands for `media[i]`, so the positions must match."""
    pictures = []
    for part in parts:
        try:
            pictures.append(media.thumbnail(part))
        except (SenseNovaError, ValueError, OSError):
            pictures.append(b"")
    return pictures


def stored_user_turn(message: Mapping[str, Any], model: str | None = None) -> StoredTurn:
    """The saved form of a user's wire message, with a thumbnail for each picture it carries."""
    parts = [p for p in message.get("content") or () if isinstance(p, Mapping) and p.get("type") != "text"]
    return turn_from_message(message, thumbnails=part_thumbnails(parts), model=model)


def stored_assistant_turn(
    reply: Any,
    *,
    error: BaseException | None = None,
    finish_reason: str | None = None,
    model: str | None = None,
) -> StoredTurn:
    """The saved form of a reply (None when no reply came: a failure before the stream opened)."""
    turn = turn_from_reply(reply if reply is not None else _NoReply(), error=error)
    changes: dict[str, Any] = {}
    if finish_reason and finish_reason != turn.finish_reason:
        changes["finish_reason"] = finish_reason
    if model and not turn.model:
        changes["model"] = model
    return replace(turn, **changes) if changes else turn


class _NoReply:
    text = ""
    finish_reason = None
    usage = None
    model = None


class TurnLog:
    """The turns of a conversation, and where each wire message sits among them.

    `positions[i]` is the index in `turns` of wire message `i` (a failed reply with no text is
    a turn but not a message), so dropping messages from `i` on (regenerate, edit, clear) drops
    the same turns, here and in the store.
    """

    def __init__(self, store: ConversationStore | None = None, name: str | None = None) -> None:
        self.store = store
        self.name = name
        self.turns: list[StoredTurn] = []
        self.positions: list[int] = []
        self._lock = threading.Lock()
        self._warned = False

    def load(self) -> list[dict]:
        """Read the saved turns back (none for a new name); returns their wire messages."""
        if self.store is None or self.name is None:
            return []
        turns = self.store.load(self.name, missing_ok=True)
        messages = []
        with self._lock:
            self.turns, self.positions = list(turns), []
            for index, turn in enumerate(turns):
                message = turn.message()
                if message is not None:
                    messages.append(message)
                    self.positions.append(index)
        return messages

    def add(self, turn: StoredTurn, *, is_message: bool) -> None:
        """Keep one completed turn (and save it); `is_message`: it joined the wire messages."""
        with self._lock:
            if is_message:
                self.positions.append(len(self.turns))
            self.turns.append(turn)
            self._write(lambda store, name: store.append(name, turn))

    def cut(self, message: int) -> None:
        """Drop wire message `message` and everything after it (turns included)."""
        with self._lock:
            keep = self.positions[message] if message < len(self.positions) else len(self.turns)
            del self.turns[keep:]
            del self.positions[message:]
            self._write(lambda store, name: store.truncate(name, keep) if name in store else None)

    def _write(self, action: Callable[[ConversationStore, str], Any]) -> None:
        if self.store is None or self.name is None:
            return
        try:
            action(self.store, self.name)
        except (SenseNovaError, sqlite3.Error, OSError) as exc:
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"The conversation {self.name!r} could not be saved in {self.store.path} ({exc}); "
                    "it goes on in memory only.",
                    RuntimeWarning,
                    stacklevel=3,
                )
