"""Incremental server-sent-events decoder over the raw bytes of a response.

Why not `requests`' `iter_lines()`: it can invent a blank line when a CRLF straddles two reads,
and a blank line ends an event. This decoder works on bytes as they arrive: it accepts LF, CR
and CRLF line ends (a CR ending one read and an LF starting the next are ONE line end), `data:`
with or without its one optional space, comment lines (`:`), and events or UTF-8 characters
split anywhere across reads. Only complete events are returned, as the bytes of their data, so
the caller can hand them straight to `json.loads` (which takes bytes) without decoding twice.

It is on the hot path of every stream, so the common case is kept cheap: a read without CR is
split on `\\n\\n` at once, and an event that is a single `data:` line is sliced, not parsed.
"""

from __future__ import annotations

__all__ = ["SSEDecoder", "DONE"]

DONE = b"[DONE]"
_BOM = b"\xef\xbb\xbf"


class SSEDecoder:
    """Feed raw chunks with `feed()`; get back the data payload (bytes) of each finished event.

    Events without any `data:` line (comments only, `event:`/`id:`/`retry:` alone) yield nothing,
    and those fields are skipped: the SenseNova stream is data-only.
    """

    __slots__ = ("_buffer", "_careful", "_skip_lf", "_started")

    def __init__(self) -> None:
        self._buffer = b""  # the start of an event whose blank line has not come yet (LF-only)
        self._careful = True  # the next read needs `_careful_join`: stream start or a CR pending
        self._skip_lf = False  # the previous read ended in CR: an LF opening this one is its pair
        self._started = False  # past a possible byte-order mark

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add one read; return the data of every event it completed, in order."""
        # (`13 in chunk` looks for CR with one memchr: several times cheaper than `b"\r" in chunk`)
        if self._careful or 13 in chunk:
            text = self._careful_join(chunk)
        elif self._buffer:
            text = self._buffer + chunk
        elif chunk.find(10) == len(chunk) - 2 and chunk[-1] == 10 and chunk.startswith(b"data:"):
            return [chunk[6:-2] if chunk[5] == 32 else chunk[5:-2]]  # the usual read: one one-line event
        else:
            text = chunk
        blocks = text.split(b"\n\n")
        self._buffer = blocks.pop()
        if not blocks:
            return blocks
        out = []
        for block in blocks:
            if block[:5] == b"data:" and 10 not in block:  # the usual event: one data line
                out.append(block[6:] if block[5:6] == b" " else block[5:])
            elif block:
                data = self._parse(block)
                if data is not None:
                    out.append(data)
        return out

    def _careful_join(self, chunk: bytes) -> bytes:
        """The buffer and this read with line ends made LF: the rare cases kept off the fast path."""
        if self._skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._skip_lf = False
        if b"\r" in chunk:
            self._skip_lf = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        text = self._buffer + chunk
        if not self._started and not (len(text) < 3 and _BOM.startswith(text)):
            self._started = True  # (a read shorter than the mark that may begin it waits in the buffer)
            if text.startswith(_BOM):
                text = text[3:]
        self._careful = self._skip_lf or not self._started
        return text

    def flush(self) -> list[bytes]:
        """At the end of the stream: the data of a last event whose blank line never came."""
        block, self._buffer = self._buffer.rstrip(b"\n"), b""
        if not block:
            return []
        data = self._parse(block)
        return [] if data is None else [data]

    def _parse(self, block: bytes) -> bytes | None:
        """The general case: several lines, comments, other fields, multi-line data."""
        data_lines = []
        for line in block.split(b"\n"):
            name, _, value = line.partition(b":")
            if (
                name == b"data"
            ):  # comments (":..."), "event", "id", "retry" and unknown fields carry nothing here
                data_lines.append(value[1:] if value[:1] == b" " else value)
        if not data_lines:
            return None
        return b"\n".join(data_lines)
