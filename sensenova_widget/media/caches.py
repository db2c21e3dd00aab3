"""The media layer's memory: the encode LRU, the upload dedupe, and the content hash they key on.

A conversation resends every picture on every turn and a video on every turn after the one that
brought it: the encode cache makes the second time a hash and a lookup, and the upload cache
makes it no upload at all. Both are keyed by content (`digest`), never by object identity, so
an equal copy of a picture hits too.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from ..errors import MediaError

CACHE_MAX_ENTRIES = 256
CACHE_MAX_BYTES = 200_000_000  # of base64 text held by the encode cache


class Uploader(Protocol):
    """What the media layer needs of a client to send a video: `Client` keeps to it."""

    def upload(self, path_or_bytes: Any, *, scheme: str = ..., filename: str | None = ...) -> str: ...

    def wait_for_file(self, file_id: str) -> Any: ...


def digest(buffer: Any) -> str:
    """A content hash over every byte. XXH3-128 (the `media` extra) runs at memory speed, ten
    times SHA-256: a 4000x3000 photo hashes in ~4 ms instead of ~40 ms, so a cache hit is nearly
    free. 128 bits make an accidental collision between two pictures practically impossible;
    SHA-256 stands in when xxhash is not installed."""
    try:
        import xxhash
    except ImportError:
        return "sha256:" + hashlib.sha256(buffer).hexdigest()
    return xxhash.xxh3_128_hexdigest(buffer)


class LRU:
    """A thread-safe LRU of base64 strings, bounded in entries and in characters held.

    `max_entries` and `max_bytes` may be changed on a live cache; they apply from the next store.
    """

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, str] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.encodes = 0

    def get_or_make(self, key: tuple, make: Callable[[], str]) -> str:
        """The string cached under `key`, made (outside the lock) and stored when missing."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        value = make()  # outside the lock: encodes run in parallel across threads
        with self._lock:
            self.encodes += 1
            if key not in self._items:
                self._items[key] = value
                self._bytes += len(value)
            while self._items and (len(self._items) > self.max_entries or self._bytes > self.max_bytes):
                _, old = self._items.popitem(last=False)
                self._bytes -= len(old)
        return value

    def info(self) -> dict[str, int]:
        """Counters: hits, misses, encodes, entries and bytes held."""
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "encodes": self.encodes,
                "entries": len(self._items),
                "bytes": self._bytes,
            }

    def clear(self) -> None:
        """Forget every entry and reset the counters."""
        with self._lock:
            self._items.clear()
            self._bytes = 0
            self.hits = self.misses = self.encodes = 0


ENCODE_CACHE = LRU(CACHE_MAX_ENTRIES, CACHE_MAX_BYTES)  # base64 of every image part and thumbnail


def cache_info() -> dict[str, int]:
    """Counters of the encode cache: hits, misses, encodes, entries and bytes held."""
    return ENCODE_CACHE.info()


def clear_cache() -> None:
    """Forget every cached encoding (and reset the counters)."""
    ENCODE_CACHE.clear()


class UploadCache:
    """File ids of uploaded videos, per uploader, so a conversation uploads a video once.

    Held weakly by uploader: a client that goes away takes its file ids with it.
    """

    def __init__(self) -> None:
        self._ids: weakref.WeakKeyDictionary[Any, dict[tuple, str]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def file_id(
        self, uploader: Uploader | None, key: tuple, make: Callable[[], Any], filename: str, what: str
    ) -> str:
        """The id of the file with content `key`, uploading `make()` and waiting for it first if
        this uploader has not had it yet; `what` names the value in the error without uploader."""
        if uploader is None:
            raise MediaError(
                f"{what} must be uploaded to the file service before it can be sent: pass client=... "
                "to to_part (Client.chat and Conversation do this for you), or send an http(s) URL."
            )
        with self._lock:
            try:
                ids = self._ids.setdefault(uploader, {})
            except TypeError:  # an uploader that cannot be weakly referenced: no upload cache
                ids = {}
            found = ids.get(key)
        if found is None:
            found = uploader.upload(make(), scheme="MULTIMODAL_2", filename=filename)
            uploader.wait_for_file(found)
            with self._lock:
                ids[key] = found
        return found


UPLOADS = UploadCache()
