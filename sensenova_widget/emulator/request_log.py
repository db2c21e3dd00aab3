"""`Emulator.requests`: the chat bodies received, bounded in count and in bytes.

The emulator runs inside the user's kernel under `connect()`, so what it remembers must not grow
with what it is sent: ten 27 MB image requests once kept 315 MB alive. The newest bodies stay
whole while their weights (their size as received, or more for a body of many tiny values: see
`weight_of`) fit in `keep_bytes`, so a test reads `requests[-1]` exactly
as sent; older ones (and one body larger than the budget on its own) are compacted in place:
every long string (base64 image data, say) becomes a short placeholder saying how long it was,
and what is left past COMPACT_BYTES (a body of a million short strings or numbers, which is no
chat request but is JSON all the same) or nested past COMPACT_DEPTH is dropped, saying how much.
Each entry also has a summary in `summaries` (path, model, counts, size) that is never compacted
and is small whatever the body held.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Mapping
from typing import Any

from .. import protocol

KEEP_REQUESTS = 2000
KEEP_BYTES = 32_000_000
LONG_CHARS = 1024  # strings at least this long are dropped from compacted bodies
COMPACT_BYTES = 16_384  # about what a compacted body keeps in memory at most (sys.getsizeof's bytes)
COMPACT_DEPTH = 32  # containers nested deeper are dropped from compacted bodies
MODEL_CHARS = 100  # a summary's model name is cut to this
VALUE_BYTES = 64  # what one parsed JSON value costs in memory, about (an int 28, a small dict 200+)


def placeholder(text: str) -> str:
    """What a dropped string becomes: a data URL keeps its media type, every string its length."""
    head = text[: text.index(",") + 1] if text.startswith("data:") and "," in text[:100] else ""
    return f"{head}<{len(text) - len(head)} chars dropped from the emulator's request log>"


def compact(value: Any) -> Any:
    """`value` with every long string replaced by its placeholder and what is past COMPACT_BYTES
    or COMPACT_DEPTH dropped (a dict or list comes back as a new one)."""
    return _compact(value, [COMPACT_BYTES], 0)


def _compact(value: Any, budget: list[int], depth: int) -> Any:
    if isinstance(value, str):
        kept = placeholder(value) if len(value) >= LONG_CHARS else value
        budget[0] -= sys.getsizeof(kept)
        return kept
    if not isinstance(value, (dict, list)):
        budget[0] -= sys.getsizeof(value)
        return value
    if depth >= COMPACT_DEPTH:
        return f"<a {type(value).__name__} nested too deeply, dropped from the emulator's request log>"
    budget[0] -= 64
    items = value.items() if isinstance(value, dict) else enumerate(value)
    kept_items: list[tuple[Any, Any]] = []
    for key, item in items:
        if budget[0] <= 0:
            note = f"<{len(value) - len(kept_items)} more entries dropped from the emulator's request log>"
            kept_items.append(("...", note))
            break
        budget[0] -= 16 + (sys.getsizeof(key) if isinstance(value, dict) else 0)
        kept_items.append((key, _compact(item, budget, depth + 1)))
    if isinstance(value, dict):
        return dict(kept_items)
    return [item for _, item in kept_items]


def summary(body: Any, size: int, path: str) -> dict[str, Any]:
    """The few facts about a request worth keeping forever: where, which model, what it carried."""
    messages = body.get("messages") if isinstance(body, Mapping) else None
    messages = messages if isinstance(messages, list) else []
    listed = [m for m in messages if isinstance(m, Mapping)]
    images, videos = protocol.count_media(listed)  # by part type: OpenAI's image_url parts count too
    return {
        "path": path,
        "model": _model_name(body),
        "messages": len(messages),
        "images": images,
        "videos": videos,
        "bytes": size,
        "stream": bool(body.get("stream")) if isinstance(body, Mapping) else False,
    }


def weight_of(body: Any) -> int:
    """About what a parsed body holds in memory beyond its text: VALUE_BYTES a value. A body of
    many tiny values (`[[],[],...]`) weighs far more as Python objects than as JSON."""
    count, pending = 0, [body]
    while pending:
        value = pending.pop()
        count += 1
        if isinstance(value, dict):
            count += len(value)  # the keys
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return count * VALUE_BYTES


def _model_name(body: Any) -> str | None:
    model = body.get("model") if isinstance(body, Mapping) else None
    return model[:MODEL_CHARS] if isinstance(model, str) else None


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
        weight = max(size, weight_of(body))
        self._whole.append(weight)
        self._whole_bytes += weight
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
        """What the bodies still kept whole weigh (at most `keep_bytes`): each its size as received,
        or more for a body of many small values (see `weight_of`)."""
        return self._whole_bytes

    def clear(self) -> None:
        super().clear()
        self.summaries.clear()
        self._whole.clear()
        self._whole_bytes = 0
