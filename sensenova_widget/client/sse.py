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

__all__ = ["SSEDecoder", "DONE", "MAX_EVENT_BYTES", "EventTooLong"]

DONE = b"[DONE]"
MAX_EVENT_BYTES = 16 * 1024 * 1024  # an event (so a line) still open: a real one is a few KB
_BOM = b"\xef\xbb\xbf"


class EventTooLong(ValueError):
    """An event (an endless `data:` line, say) grew past MAX_EVENT_BYTES without ending."""


class SSEDecoder:
    """Feed raw chunks with `feed()`; get back the data payload (bytes) of each finished event.

    Events without any `data:` line (comments only, `event:`/`id:`/`retry:` alone) yield nothing,
    and those fields are skipped: the SenseNova stream is data-only. Linear time whatever the
    reads: an unfinished event is kept as a list of reads, joined once when its blank line comes,
    and refused (`EventTooLong`) past `max_event` bytes.
    """

    __slots__ = ("_parts", "_size", "_ends_lf", "_careful", "_skip_lf", "_started", "max_event")

    def __init__(self, max_event: int = MAX_EVENT_BYTES) -> None:
        self._parts: list[bytes] = []  # the start of an event whose blank line has not come (LF-only)
        self._size = 0  # bytes in `_parts`
        self._ends_lf = False  # `_parts` ends with LF: an LF opening the next read ends the event
        self._careful = True  # the next read needs `_normalize`: stream start or a CR pending
        self._skip_lf = False  # the previous read ended in CR: an LF opening this one is its pair
        self._started = False  # past a possible byte-order mark
        self.max_event = max_event

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add one read; return the data of every event it completed, in order."""
        # (`13 in chunk` looks for CR with one memchr: several times cheaper than `b"\r" in chunk`)
        if self._careful or 13 in chunk:
            chunk = self._normalize(chunk)
        if self._parts:
            if b"\n\n" not in chunk and not (self._ends_lf and chunk[:1] == b"\n"):
                self._hold(chunk)  # the event goes on: nothing to split, nothing copied
                return []
            text = b"".join(self._parts) + chunk
            self._parts, self._size = [], 0
        elif chunk.find(10) == len(chunk) - 2 and chunk[-1] == 10 and chunk.startswith(b"data:"):
            return [chunk[6:-2] if chunk[5] == 32 else chunk[5:-2]]  # the usual read: one one-line event
        else:
            text = chunk
        blocks = text.split(b"\n\n")
        rest = blocks.pop()
        if rest:
            self._hold(rest)
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

    def _hold(self, piece: bytes) -> None:
        """Keep the unfinished part of an event; refuse it once it is too long."""
        if not piece:
            return
        self._size += len(piece)
        if self._size > self.max_event:
            self._parts, self._size = [], 0
            raise EventTooLong(
                f"an event of the stream grew past {self.max_event} bytes without ending "
                "(a line without its newline?); not read further"
            )
        self._parts.append(piece)
        self._ends_lf = piece[-1] == 10

    def _normalize(self, chunk: bytes) -> bytes:
        """This read with line ends made LF (and a byte-order mark dropped): the rare cases kept
        off the fast path."""
        if self._skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._skip_lf = False
        if b"\r" in chunk:
            self._skip_lf = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if not self._started:
            head = b"".join(self._parts) + chunk  # (only a mark's first bytes can be waiting)
            self._parts, self._size = [], 0
            if len(head) < 3 and _BOM.startswith(head):
                self._parts, self._size = ([head], len(head)) if head else ([], 0)
                self._ends_lf = False
                self._careful = True
                return b""
            self._started = True
            chunk = head[3:] if head.startswith(_BOM) else head
        self._careful = self._skip_lf
        return chunk

    def flush(self) -> list[bytes]:
        """At the end of the stream: the data of a last event whose blank line never came."""
        block = b"".join(self._parts).rstrip(b"\n")
        self._parts, self._size = [], 0
        if not block:
            return []
        data = self._parse(block)
        return [] if data is None else [data]

    def _parse(self, block: bytes) -> bytes | None:
        """The general case: several lines, comments, other fields, multi-line data."""
        data_lines = []
        for line in block.split(b"\n"):  # comments (":..."), event, id, retry: nothing here
            name, _, value = line.partition(b":")
            if name == b"data":
                data_lines.append(value[1:] if value[:1] == b" " else value)
        if not data_lines:
            return None
        return b"\n".join(data_lines)
