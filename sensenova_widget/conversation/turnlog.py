"""Where a conversation's turns are saved as they change: `TurnLog`.

A named `Conversation` writes each turn to its store when it is asked and again when its answer
ends, so a restarted kernel can bring the conversation back. A failed write warns once and the
chat goes on: losing the copy on disk must not lose the conversation in front of the person.
"""

from __future__ import annotations

import sqlite3
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .. import media
from ..errors import SenseNovaError
from .store import ConversationStore
from .turns import Turn

__all__ = ["TurnLog", "part_thumbnails"]


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


class TurnLog:
    """The store and name a conversation is saved under (both None: it is not saved)."""

    def __init__(self, store: ConversationStore | None = None, name: str | None = None) -> None:
        self.store = store
        self.name = name
        self._lock = threading.Lock()
        self._warned = False

    def load(self) -> list[Turn]:
        """The saved turns (none for a new name, or when not saved)."""
        if self.store is None or self.name is None:
            return []
        return self.store.load(self.name, missing_ok=True)

    def save(self, turn: Turn) -> None:
        """Save `turn` (a new one last, a known one in its place)."""
        self._write(lambda store, name: store.save(name, turn))

    def drop(self, turns: Iterable[Turn]) -> None:
        """Forget these saved turns (a fork, `clear`)."""
        keys = [turn.key for turn in turns]
        if keys:
            self._write(lambda store, name: store.drop(name, keys))

    def _write(self, action: Callable[[ConversationStore, str], Any]) -> None:
        if self.store is None or self.name is None:
            return
        with self._lock:
            try:
                action(self.store, self.name)
            except (SenseNovaError, sqlite3.Error, OSError) as exc:
                if not self._warned:
                    self._warned = True
                    warnings.warn(
                        f"The conversation {self.name!r} could not be saved in {self.store.path} ({exc}); "
                        "it goes on in memory only.",
                        RuntimeWarning,
                        stacklevel=4,
                    )
