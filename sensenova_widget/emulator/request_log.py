"""`Emulator.requests`: the chat bodies received, bounded in count and in bytes.

The emulator runs inside the user's kernel under `connect()`, so what it remembers must not grow
with what it is sent: ten 27 MB image requests once kept 315 MB alive. The newest bodies stay
whole while their sizes (as received) fit in `keep_bytes`, so a test reads `requests[-1]` exactly
as sent; older ones (and one body larger than the budget on its own) are compacted in place:
every long string (base64 image data, say) becomes a short placeholder saying how long it was.
Each entry also has a summary in `summaries` (path, model, counts, size) that is never compacted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from .. import protocol

KEEP_REQUESTS = 2000
KEEP_BYTES = 32_000_000
LONG_CHARS = 1024  # strings at least this long are dropped from compacted bodies


def placeholder(text: str) -> str:
    """What a dropped string becomes: a data URL keeps its media type, every string its length."""
    head = text[: text.index(",") + 1] if text.startswith("data:") and "," in text[:100] else ""
    return f"{head}<{len(text) - len(head)} chars dropped from the emulator's request log>"


def compact(value: Any) -> Any:
    """`value` with every long string replaced by its placeholder (dicts and lists changed in place)."""
    if isinstance(value, str):
        return placeholder(value) if len(value) >= LONG_CHARS else value
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = compact(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = compact(item)
    return value


def summary(body: Any, size: int, path: str) -> dict[str, Any]:
    """The few facts about a request worth keeping forever: where, which model, what it carried."""
    messages = body.get("messages") if isinstance(body, Mapping) else None
    messages = messages if isinstance(messages, list) else []
    listed = [m for m in messages if isinstance(m, Mapping)]
    images, videos = protocol.count_media(listed)  # by part type: OpenAI's image_url parts count too
    return {
        "path": path,
        "model": body.get("model") if isinstance(body, Mapping) else None,
        "messages": len(messages),
        "images": images,
        "videos": videos,
        "bytes": size,
        "stream": bool(body.get("stream")) if isinstance(body, Mapping) else False,
    }


class RequestLog(list):
    """A list of the request bodies, oldest first; `record` keeps it within its bounds."""

    def __init__(self, keep: int = KEEP_REQUESTS, keep_bytes: int = KEEP_BYTES) -> None:
        super().__init__()
        self.keep = keep
        self.keep_bytes = keep_bytes
        self.summaries: list[dict[str, Any]] = []
        self._whole: deque[int] = deque()  # sizes of the newest entries still whole, oldest first
        self._whole_bytes = 0

    def record(self, body: Any, size: int, path: str) -> None:
        """Append a body received as `size` bytes at `path`, then trim and compact to the bounds."""
        self.append(body)
        self.summaries.append(summary(body, size, path))
        self._whole.append(size)
        self._whole_bytes += size
        if len(self) > self.keep:
            del self[: len(self) - self.keep]
            del self.summaries[: len(self.summaries) - self.keep]
        while len(self._whole) > len(self):  # the whole entries are always the newest ones
            self._whole_bytes -= self._whole.popleft()
        while self._whole and self._whole_bytes > self.keep_bytes:
            index = len(self) - len(self._whole)
            self[index] = compact(self[index])
            self._whole_bytes -= self._whole.popleft()

    @property
    def whole_bytes(self) -> int:
        """The received size of the bodies still kept whole (at most `keep_bytes`)."""
        return self._whole_bytes

    def clear(self) -> None:
        super().clear()
        self.summaries.clear()
        self._whole.clear()
        self._whole_bytes = 0
