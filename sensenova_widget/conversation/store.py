"""Saved conversations: every turn written to a local SQLite file as it completes.

A notebook chat that forgets on every kernel restart is a toy, so a named conversation is kept
on disk in a folder the user can see and move: `.sensenova/` in the kernel's working directory
(beside the notebook), or `$SENSENOVA_HOME`, or a `store=` path. Each turn (`turns.Turn`) keeps
the person's text, the media parts that were sent (so a reloaded conversation resends the
original images) with thumbnails, and every answer asked for it (text, reasoning, how it ended,
usage, model, time), alternatives included.

`PRAGMA user_version` is the schema version: a store of an older version is brought up to date
by `MIGRATIONS` in one transaction when it is opened; a newer one is refused with what to do.

Media parts and thumbnails are stored once, keyed by the SHA-256 of their content (simonw/llm
identifies attachments the same way): a picture resent in every turn costs one row.

Several kernels may write one store at once (two notebooks in one folder): WAL mode, a busy
timeout and one short `BEGIN IMMEDIATE` transaction per write, so none loses a turn. A folder
made for it is 0700 and the files 0600: a conversation is private. A symbolic link in the
database's place (or its side files') is refused, and a file someone else made keeps its mode.
No credential is ever written:
a turn holds only what the person and the model said.
"""

from __future__ import annotations

import contextlib
import html
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import SenseNovaError
from ..sqlite_files import create_private, enter_wal, open_shared
from .store_schema import (
    MIGRATIONS,
    SCHEMA,
    SCHEMA_VERSION,
    collect_blobs,
    read_turns,
    run_script,
    write_turn,
)
from .turns import Turn, wire_messages

__all__ = [
    "SCHEMA_VERSION",
    "ConversationInfo",
    "ConversationList",
    "ConversationStore",
    "StoreError",
    "UnknownConversationError",
    "conversations",
    "default_store_path",
    "delete_conversation",
    "open_store",
    "rename_conversation",
]

DB_NAME = "conversations.sqlite"
HOME_ENV = "SENSENOVA_HOME"
BUSY_TIMEOUT_MS = 60_000


class StoreError(SenseNovaError):
    """A conversation store that cannot be opened or an operation it refuses."""


class UnknownConversationError(StoreError, KeyError):
    """No conversation of that name in the store."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return self.message


@dataclass(frozen=True)
class ConversationInfo:
    """What `list()` tells about one saved conversation: `turns` counts exchanges (a message and
    its answers), not messages; `last_message` is the last turn's shown answer, else its message."""

    name: str
    turns: int
    last_used: datetime
    created: datetime
    last_message: str = ""

    def row(self) -> dict[str, Any]:
        """The JSON-ready summary the panel's conversation list shows."""
        return {
            "name": self.name,
            "turns": self.turns,
            "last_used": self.last_used.isoformat(timespec="seconds"),
            "last_message": preview(self.last_message),
        }


def preview(text: str, limit: int = 80) -> str:
    """One line of at most `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"


class ConversationList(list):
    """`snw.conversations()`: a list of `ConversationInfo` that shows as one compact table."""

    COLUMNS = ("name", "turns", "last used", "last message")

    def _rows(self) -> list[tuple[str, str, str, str]]:
        return [
            (
                info.name,
                str(info.turns),
                info.last_used.strftime("%Y-%m-%d %H:%M"),
                preview(info.last_message, 60),
            )
            for info in self
        ]

    def __repr__(self) -> str:
        if not self:
            return "No saved conversations."
        rows = [self.COLUMNS, *self._rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(self.COLUMNS))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if not self:
            return "<p>No saved conversations.</p>"
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in self.COLUMNS)
        body = "".join(
            "<tr>"
            + "".join(f"<td style='text-align:left'>{html.escape(cell)}</td>" for cell in row)
            + "</tr>"
            for row in self._rows()
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def default_store_path() -> Path:
    """`$SENSENOVA_HOME`, else `.sensenova/` in the working directory (the notebook's folder)."""
    home = os.environ.get(HOME_ENV)
    return Path(home).expanduser() if home else Path.cwd() / ".sensenova"


def open_store(path: str | os.PathLike[str] | ConversationStore | None = None) -> ConversationStore:
    """The store at `path`: a folder (the database goes inside), or a `.sqlite`/`.db` file.

    None means `default_store_path()`; a `ConversationStore` is returned as it is, so callers
    can take either.
    """
    if isinstance(path, ConversationStore):
        return path
    return ConversationStore(default_store_path() if path is None else path)


def conversations(
    store: str | os.PathLike[str] | ConversationStore | None = None, *, search: str | None = None
) -> ConversationList:
    """What is saved (name, turns, last used, last message), most recent first, as a compact
    table: `snw.conversations()`; `search=` keeps those whose name or text contains it.

    Listing a place where nothing was ever saved creates nothing there.
    """
    if not isinstance(store, ConversationStore):
        store = default_store_path() if store is None else store
        if not _locate(store)[1].exists():
            return ConversationList()
    with _opened(store) as opened:
        return opened.list(search=search)


def delete_conversation(name: str, store: str | os.PathLike[str] | ConversationStore | None = None) -> None:
    """Forget the saved conversation `name` (`snw.delete_conversation("review")`)."""
    with _opened(store) as opened:
        opened.delete(name)


def rename_conversation(
    old: str, new: str, store: str | os.PathLike[str] | ConversationStore | None = None
) -> None:
    """Save conversation `old` under the name `new`: `ChatPanel(name=new)` then brings it back."""
    with _opened(store) as opened:
        opened.rename(old, new)


@contextlib.contextmanager
def _opened(store: str | os.PathLike[str] | ConversationStore | None) -> Iterator[ConversationStore]:
    """The store to act on, closed afterwards when it was opened here."""
    opened = open_store(store)
    try:
        yield opened
    finally:
        if opened is not store:
            opened.close()


def _locate(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """(folder, database file) for a `store=` path: a folder, or a `.sqlite`/`.db` file."""
    path = Path(path).expanduser()
    if path.suffix in (".sqlite", ".db", ".sqlite3"):
        return path.parent, path
    return path, path / DB_NAME


class ConversationStore:
    """Named conversations in one SQLite file; thread-safe (one connection behind a lock).

    Every write is one short transaction, committed before the call returns, so a crash or a
    restart loses at most the turn being written, and another process writing at the same
    time waits (busy timeout) instead of failing.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        folder, self.path = _locate(path)
        self.folder = folder
        try:
            create_private(self.path)  # 0600 in a 0700 folder when made here; never through a link
        except OSError as exc:
            raise StoreError(
                f"Cannot keep conversations in {folder} ({exc.strerror or exc}): set {HOME_ENV} or pass "
                "store= to put them in a folder you can write."
            ) from exc
        self._lock = threading.RLock()
        self._handed_out: set[str] = set()
        self._db = open_shared(self.path, busy_seconds=BUSY_TIMEOUT_MS / 1000)
        try:
            self._setup()
        except BaseException:
            self._db.close()
            raise

    # ----------------------------------------------------------------- setup
    def _setup(self) -> None:
        db = self._db
        self._check_version(db.execute("PRAGMA user_version").fetchone()[0])
        enter_wal(db)
        db.execute("PRAGMA foreign_keys = ON")
        with self._write() as tx:
            version = tx.execute("PRAGMA user_version").fetchone()[0]
            self._check_version(version)
            if version == 0:
                run_script(tx.execute, SCHEMA)
            else:
                self._migrate(tx, version)
            if version != SCHEMA_VERSION:
                tx.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _migrate(self, tx: _Transaction, version: int) -> None:
        """Bring the tables from `version` to `SCHEMA_VERSION` inside `tx`: all the steps, or none
        (a failure rolls back and leaves the file as it was)."""
        try:
            for step in range(version, SCHEMA_VERSION):
                MIGRATIONS[step](tx.execute)
        except (sqlite3.Error, ValueError, KeyError) as exc:
            raise StoreError(
                f"The conversation store {self.path} (schema version {version}) could not be brought up "
                f"to version {SCHEMA_VERSION} ({exc}); it was left as it was. Pass store= (or set "
                "SENSENOVA_HOME) to use another folder, and keep this file to report the problem."
            ) from exc

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"The conversation store {self.path} has schema version {version}, newer than this "
                f"sensenova-widget reads ({SCHEMA_VERSION}): upgrade sensenova-widget, or pass store= "
                "(or set SENSENOVA_HOME) to use another folder."
            )

    def _write(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    # ----------------------------------------------------------------- reading
    def list(self, *, search: str | None = None) -> ConversationList:
        """Every saved conversation, the most recently used first; with `search`, those whose name,
        messages or answers contain it (case-insensitive)."""
        where, args = "", []
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where = (
                "WHERE c.name LIKE ?1 ESCAPE '\\' OR EXISTS (SELECT 1 FROM turns t LEFT JOIN answers a "
                "ON a.turn = t.id WHERE t.conversation = c.id AND (t.text LIKE ?1 ESCAPE '\\' "
                "OR a.text LIKE ?1 ESCAPE '\\'))"
            )
            args = [pattern]
        with self._lock:
            rows = self._db.execute(  # turns: exchanges, not messages
                "SELECT c.name, (SELECT COUNT(*) FROM turns t WHERE t.conversation = c.id), c.last_used, "
                "c.created, (SELECT COALESCE(NULLIF(a.text, ''), t.text) FROM turns t "
                "LEFT JOIN answers a ON a.turn = t.id WHERE t.conversation = c.id "
                "ORDER BY t.id DESC, a.position = t.chosen DESC, a.position DESC LIMIT 1) "
                f"FROM conversations c {where} ORDER BY c.last_used DESC, c.id DESC",
                args,
            ).fetchall()
        return ConversationList(
            ConversationInfo(
                name,
                count,
                datetime.fromtimestamp(used).astimezone(),
                datetime.fromtimestamp(made).astimezone(),
                last or "",
            )
            for name, count, used, made, last in rows
        )

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return (
                self._db.execute("SELECT 1 FROM conversations WHERE name = ?", (name,)).fetchone() is not None
            )

    def load(self, name: str, *, missing_ok: bool = False) -> list[Turn]:
        """The turns of `name` in order (`[]` for an unknown name if `missing_ok`)."""
        with self._lock:
            found = self._db.execute("SELECT id FROM conversations WHERE name = ?", (name,)).fetchone()
            if found is None:
                if missing_ok:
                    return []
                raise self._unknown(name)
            return read_turns(self._db.execute, found[0])

    def messages(self, name: str) -> list[dict]:
        """The wire messages of `name`, original media included, ready to continue the chat."""
        return wire_messages(self.load(name))

    # ----------------------------------------------------------------- writing
    def save(self, name: str, turn: Turn) -> None:
        """Save `turn` in `name` (created on its first turn): a new turn goes last, a turn saved
        before (same `key`: a new answer, another one chosen) is rewritten in its place."""
        if not name or not isinstance(name, str):
            raise StoreError(f"A conversation name is a non-empty string, not {name!r}.")
        with self._write() as tx:
            conversation = self._ensure(tx, name, time.time())
            write_turn(tx.execute, conversation, turn)
            self._collect(tx)

    def drop(self, name: str, keys: Iterable[str]) -> None:
        """Forget the turns of `name` with these keys (a fork, `clear`); unknown keys are skipped."""
        keys = list(keys)
        if not keys or name not in self:
            return
        with self._write() as tx:
            conversation = self._id(tx, name)
            tx.executemany(
                "DELETE FROM turns WHERE conversation = ? AND key = ?", [(conversation, key) for key in keys]
            )
            tx.execute("UPDATE conversations SET last_used = ? WHERE id = ?", (time.time(), conversation))
            self._collect(tx)

    def delete(self, name: str) -> None:
        """Forget `name` and its turns (media no other turn uses go too)."""
        with self._write() as tx:
            tx.execute("DELETE FROM conversations WHERE id = ?", (self._id(tx, name),))
            self._collect(tx)

    def rename(self, old: str, new: str) -> None:
        """Give conversation `old` the name `new` (which must be free)."""
        if not new or not isinstance(new, str):
            raise StoreError(f"A conversation name is a non-empty string, not {new!r}.")
        with self._write() as tx:
            conversation = self._id(tx, old)
            if tx.execute("SELECT 1 FROM conversations WHERE name = ?", (new,)).fetchone() is not None:
                raise StoreError(
                    f"A conversation named {new!r} already exists in {self.path}: "
                    "delete it or choose another name."
                )
            tx.execute("UPDATE conversations SET name = ? WHERE id = ?", (new, conversation))

    def new_name(self, prefix: str = "chat") -> str:
        """A readable name no saved conversation (nor an earlier call here) has: `chat-2026-12-03-1412`."""
        base = f"{prefix}-{datetime.now().strftime('%Y-%m-%d-%H%M')}"
        with self._lock:
            for n in range(1, 10_000):
                name = base if n == 1 else f"{base}-{n}"
                if name not in self._handed_out and name not in self:
                    self._handed_out.add(name)
                    return name
        raise StoreError(f"No free name left after {base}-9999.")  # pragma: no cover - 10k chats a minute

    # ----------------------------------------------------------------- inside
    def _ensure(self, tx: _Transaction, name: str, now: float) -> int:
        tx.execute(
            "INSERT INTO conversations (name, created, last_used) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET last_used = excluded.last_used",
            (name, now, now),
        )
        return tx.execute("SELECT id FROM conversations WHERE name = ?", (name,)).fetchone()[0]

    def _id(self, tx: _Transaction, name: str) -> int:
        found = tx.execute("SELECT id FROM conversations WHERE name = ?", (name,)).fetchone()
        if found is None:
            raise self._unknown(name)
        return found[0]

    def _unknown(self, name: str) -> UnknownConversationError:
        with self._lock:
            names = [
                row[0]
                for row in self._db.execute("SELECT name FROM conversations ORDER BY last_used DESC LIMIT 5")
            ]
        known = f" Saved ones include: {', '.join(names)}." if names else " The store is empty."
        return UnknownConversationError(f"No conversation named {name!r} in {self.path}.{known}")

    @staticmethod
    def _collect(tx: _Transaction) -> None:
        collect_blobs(tx.execute)

    def blob_count(self) -> int:
        """How many distinct media parts and thumbnails the store holds (each kept once)."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM blobs").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ConversationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[ConversationInfo]:
        return iter(self.list())

    def __repr__(self) -> str:
        return f"ConversationStore({str(self.path)!r})"


class _Transaction:
    """`with store._write() as tx:` one short BEGIN IMMEDIATE ... COMMIT under the store's lock.

    IMMEDIATE takes the write lock at the start, so two processes never both read then both
    write (which would end in SQLITE_BUSY mid-transaction); the other one waits up to the
    busy timeout.
    """

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> _Transaction:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        return self._db.executemany(sql, rows)

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        try:
            self._db.execute("ROLLBACK" if kind is not None else "COMMIT")
        finally:
            self._lock.release()
