"""The on-disk result cache behind `caption()`: every finished caption is kept, nothing is paid twice.

One SQLite file (WAL mode, so readers never block the writer and several processes, e.g. Dask
workers on one machine, can share it). Each finished caption is committed at once, by the thread
that received it, so an interrupt, an exception or a crash loses nothing that finished. The key
is a SHA-256 over the endpoint, the images' content hashes, the encoding settings they were sent
with, the rendered prompt, the model and the parameters (LOTUS keys its cache the same way), so
the same question about the same pixels to the same service is asked once, and a caption the
local emulator made is never served as the real service's. The credentials are never part of it.

Captions of private images are private: the database and its -wal/-shm side files are created
0600, and a folder made for them 0700 (SQLite gives the side files the database's mode); a
symbolic link in their place is refused, and a file someone else made keeps its mode.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import sqlite3
import stat
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..sqlite_files import create_private, enter_wal, open_shared, refuse_links

__all__ = ["CachedReply", "ResultCache", "cache_key", "default_cache_path", "make_private", "open_cache"]

APP_NAME = "sensenova-widget"
KEY_VERSION = 2  # bump when the meaning of a key changes, so old entries are not reused wrongly

_SCHEMA = """
CREATE TABLE IF NOT EXISTS captions (
    key TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    total_tokens INTEGER,
    model TEXT,
    created REAL NOT NULL,
    reasoning TEXT
)
"""


@dataclass(frozen=True)
class CachedReply:
    """What the cache keeps of a reply: enough to fill the caption and token columns again."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    reasoning: str = ""  # a reasoning model's thinking, for caption(reasoning="column")


def default_cache_path() -> Path:
    """`<user cache dir>/sensenova-widget/captions.sqlite` (platformdirs decides the dir per OS)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "captions.sqlite"


def cache_key(
    image_hashes: Iterable[str],
    prompt: str,
    model: str,
    params: Mapping[str, Any],
    *,
    endpoint: str,
    encoding: Mapping[str, Any],
) -> str:
    """A stable SHA-256 over what decides a caption: the service, the pixels and how they were
    encoded (e.g. max_side, JPEG quality), the words, the model, the settings. Never a credential."""
    payload = {
        "v": KEY_VERSION,
        "endpoint": endpoint,
        "encoding": dict(encoding),
        "images": list(image_hashes),
        "prompt": prompt,
        "model": model,
        "params": {name: params[name] for name in sorted(params) if params[name] is not None},
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=repr)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResultCache:
    """A thread-safe SQLite key -> CachedReply store: one connection for writes, guarded by a
    lock, and a few for reads, each used by one thread at a time and then kept for the next.

    Reads have connections of their own because in WAL mode a reader never waits for a writer:
    a lookup before a request is not held up by another thread's commit (nor by the lock around
    it). There are only as many as lookups ever ran at once; `close` closes the idle ones, which
    is all of them once no lookup runs.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        create_private(self.path)  # 0600 (folder 0700) when made here; a link is refused
        self._lock = threading.Lock()
        # isolation_level=None: autocommit, so each put is durable the moment it returns.
        self._db = open_shared(self.path, busy_seconds=30.0)
        enter_wal(self._db)
        self._db.execute(_SCHEMA)
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()  # idle ones
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(captions)")}
        if "reasoning" not in columns:  # a cache file made before reasoning models were captioned
            try:
                self._db.execute("ALTER TABLE captions ADD COLUMN reasoning TEXT")
            except sqlite3.OperationalError as exc:  # another worker added it first
                if "duplicate column" not in str(exc):
                    raise

    def get(self, key: str) -> CachedReply | None:
        try:
            db = self._readers.get_nowait()
        except queue.Empty:
            db = open_shared(self.path, busy_seconds=30.0)
        try:
            row = db.execute(
                "SELECT text, finish_reason, prompt_tokens, completion_tokens, total_tokens, "
                "reasoning FROM captions WHERE key = ?",
                (key,),
            ).fetchone()
        finally:
            self._readers.put(db)
        return CachedReply(*row[:5], reasoning=row[5] or "") if row else None

    def put(self, key: str, reply: CachedReply, *, model: str | None = None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO captions (key, text, finish_reason, prompt_tokens, "
                "completion_tokens, total_tokens, model, created, reasoning) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    reply.text,
                    reply.finish_reason,
                    reply.prompt_tokens,
                    reply.completion_tokens,
                    reply.total_tokens,
                    model,
                    time.time(),
                    reply.reasoning,
                ),
            )

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM captions").fetchone()[0]

    def clear(self) -> None:
        """Forget every cached caption (the file stays)."""
        with self._lock:
            self._db.execute("DELETE FROM captions")

    def close(self) -> None:
        with self._lock:
            while not self._readers.empty():
                self._readers.get_nowait().close()
            self._db.close()

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResultCache({str(self.path)!r})"


def make_private(path: str | os.PathLike[str]) -> None:
    """0600 for the database and its side files, 0700 for its folder: the default cache, which
    an older version created readable by everyone. Only what this user owns, never through a
    symbolic link (refused: SQLite would follow it)."""
    path = Path(path)
    refuse_links(path)
    uid = os.getuid()
    if path.parent.is_symlink():
        return
    folder = path.parent.stat()
    if folder.st_uid == uid and stat.S_IMODE(folder.st_mode) != 0o700:
        path.parent.chmod(0o700)
    for name in (path.name, path.name + "-wal", path.name + "-shm"):
        side = path.with_name(name)
        found = side.lstat() if side.exists() else None
        if found is None or not stat.S_ISREG(found.st_mode) or found.st_uid != uid:
            continue
        if stat.S_IMODE(found.st_mode) != 0o600:
            side.chmod(0o600)


def open_cache(cache: bool | str | os.PathLike[str] | ResultCache | None) -> ResultCache | None:
    """`caption(cache=...)`: True -> the user cache file, a path -> that file, False/None -> no cache."""
    if cache is None or cache is False:
        return None
    if isinstance(cache, ResultCache):
        return cache
    if cache is True:
        path = default_cache_path()
        if path.exists():
            make_private(path)
        return ResultCache(path)
    if isinstance(cache, (str, os.PathLike)):
        return ResultCache(cache)
    raise TypeError(
        f"cache={cache!r} is not allowed: expected True (the user cache directory), "
        "False (no cache), a file path, or a ResultCache."
    )
