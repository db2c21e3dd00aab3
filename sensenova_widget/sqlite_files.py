"""The SQLite files the project keeps on disk (the caption cache, the conversation store): one way
to open them so several threads and several kernels can share one file, and one way to create
them private without following a symbolic link or changing the mode of a file made by someone else."""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
import time
from pathlib import Path

__all__ = ["SIDE_SUFFIXES", "create_private", "enter_wal", "open_shared", "refuse_links"]

SIDE_SUFFIXES = ("-wal", "-shm", "-journal")  # the files SQLite makes beside a database


def refuse_links(path: Path) -> None:
    """OSError (ELOOP) when the database or one of its side files is a symbolic link: SQLite
    would follow it and write (or a chmod would change the mode of) whatever it points at."""
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in SIDE_SUFFIXES)):
        if candidate.is_symlink():
            raise OSError(
                errno.ELOOP,
                f"{candidate} is a symbolic link; not followed (remove it, or give the real path)",
            )


def create_private(path: Path) -> bool:
    """Create the database file 0600 (and its folder 0700) when missing; True when made here.
    An existing file keeps the mode its owner chose (SQLite gives its side files the same mode);
    a symbolic link in its place, or something not a regular file, is refused (OSError)."""
    refuse_links(path)
    folder = path.parent
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            raise OSError(errno.EINVAL, f"{path} is not a regular file") from None
        return False
    os.close(fd)
    return True


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
