"""The emulator's file service: uploads kept in memory, bounded, oldest evicted first.

A new file can stay VALIDATING for `file_validation_seconds` (the service checks uploads
before a chat request may use them); GET shows the status and a chat request naming a file
that is still validating is refused, as the service refuses it.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

VALIDATING = "VALIDATING"
VALID = "VALID"


@dataclass(frozen=True)
class StoredFile:
    id: str
    filename: str
    scheme: str
    description: str
    data: bytes
    created_at: float
    valid_at: float

    @property
    def status(self) -> str:
        return VALID if time.time() >= self.valid_at else VALIDATING

    def info(self) -> dict:
        """The file object as the file service's JSON shows it (without the bytes)."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": int(self.created_at),
            "filename": self.filename,
            "scheme": self.scheme,
            "description": self.description,
            "status": self.status,
        }


class FileStore:
    """Thread-safe, bounded by count and total bytes; evicts the oldest uploads to make room."""

    def __init__(self, max_files: int = 256, max_bytes: int = 512_000_000) -> None:
        self.max_files = max_files
        self.max_bytes = max_bytes
        self._files: OrderedDict[str, StoredFile] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def add(
        self,
        data: bytes,
        *,
        filename: str,
        scheme: str,
        description: str = "",
        validation_seconds: float = 0.0,
    ) -> StoredFile:
        now = time.time()
        stored = StoredFile(
            id="file-" + secrets.token_hex(8),
            filename=filename,
            scheme=scheme,
            description=description,
            data=data,
            created_at=now,
            valid_at=now + validation_seconds,
        )
        with self._lock:
            self._files[stored.id] = stored
            self._bytes += len(data)
            while self._files and (len(self._files) > self.max_files or self._bytes > self.max_bytes):
                _, oldest = self._files.popitem(last=False)
                self._bytes -= len(oldest.data)
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        with self._lock:
            return self._files.get(file_id)

    def delete(self, file_id: str) -> bool:
        with self._lock:
            stored = self._files.pop(file_id, None)
            if stored is not None:
                self._bytes -= len(stored.data)
        return stored is not None

    def list(self) -> list[StoredFile]:
        with self._lock:
            return list(self._files.values())

    def clear(self) -> None:
        with self._lock:
            self._files.clear()
            self._bytes = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._files)
