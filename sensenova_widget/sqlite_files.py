"""The SQLite files the project keeps on disk (the caption cache, the conversation store): one way
to open them so several threads and several kernels can share one file."""

from __future__ import annotations

import os
import sqlite3
import time

__all__ = ["enter_wal", "open_shared"]


def open_shared(path: str | os.PathLike[str], *, busy_seconds: float) -> sqlite3.Connection:
    """An autocommit connection any thread may use (callers hold a lock around it), waiting up to
    `busy_seconds` for another kernel's write; durable across a crash once in WAL (`enter_wal`)."""
    db = sqlite3.connect(str(path), timeout=busy_seconds, isolation_level=None, check_same_thread=False)
    db.execute(f"PRAGMA busy_timeout = {int(busy_seconds * 1000)}")
    return db


def enter_wal(db: sqlite3.Connection, attempts: int = 50) -> None:
    """Switch to WAL (readers never wait for a writer), retrying: two kernels opening a new file at
    once can both hold a shared lock and want the exclusive one, and SQLite then answers "locked"
    at once instead of waiting (the busy timeout does not apply where waiting could deadlock)."""
    for attempt in range(attempts):
        try:
            db.execute("PRAGMA journal_mode = WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.02 * (1 + attempt % 5))
    db.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: a process crash loses nothing committed
