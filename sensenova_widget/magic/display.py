"""Stream text into one notebook output updated in place, then show it as safe rendered Markdown.

Any surface that writes a reply into a cell's output can use `LiveDisplay`: it shows the text
as it arrives in ONE display (an IPython `display_id`), coalescing updates to at most one per
`interval` seconds, because jupyter_server drops IOPub messages above 1000/s and a per-token
update would also re-send the whole text every time (what chatlas does too).

Model output is untrusted text: a notebook's own outputs are *trusted* by JupyterLab, which then
neither sanitizes Markdown nor blocks `<script>` in it. So `render.output_html` renders Markdown in
the kernel (`render`: raw HTML escaped, only safe links, remote images as links), and the
final output is that HTML plus a text/plain twin; nothing from the model reaches the page as
markup.
"""

from __future__ import annotations

import html
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from IPython.display import display

__all__ = [
    "LiveDisplay",
    "footer_html",
    "reasoning_html",
    "reasoning_plain",
    "thought_label",
]

_CURSOR = " \u258c"  # a block cursor while text is still arriving


def footer_html(lines: list[str]) -> str:
    """A quiet grey footer (token counts, endings, omitted media): escaped text, one line each."""
    if not lines:
        return ""
    body = "<br>".join(html.escape(line) for line in lines)
    style = "color: #888; font-size: 0.85em; margin-top: 0.4em"
    return f'<div class="sensenova-footer" style="{style}">{body}</div>'


def thought_label(seconds: float | None) -> str:
    """ "Thinking..." while the reasoning arrives, "Thought for N s" once the answer began."""
    return "Thinking\u2026" if seconds is None else f"Thought for {max(1, round(seconds))} s"


def reasoning_html(reasoning: str, seconds: float | None, *, live: bool = False) -> str:
    """A reasoning model's thinking as a collapsible section above the answer: open while it
    arrives, closed after. Untrusted text: escaped while live, rendered by `render`'s safe rules after."""
    if not reasoning:
        return ""
    if live:
        body = f'<div style="white-space: pre-wrap">{html.escape(reasoning)}</div>'
    else:
        from ..render import markdown_html as safe_markdown

        body = safe_markdown(reasoning)
    state = " open" if seconds is None else ""
    style = "color: #666; border-left: 3px solid #ddd; padding-left: 0.6em; margin-bottom: 0.5em"
    return (
        f'<details class="sensenova-reasoning"{state} style="{style}">'
        f"<summary>{thought_label(seconds)}</summary>{body}</details>"
    )


def reasoning_plain(reasoning: str, seconds: float | None) -> str:
    """The text/plain twin of `reasoning_html`: a labelled block before the answer ('' when none)."""
    return f"[{thought_label(seconds)}]\n{reasoning.strip()}\n[answer]\n" if reasoning else ""


class LiveDisplay:
    """One output that grows while a reply streams and is replaced by the final rendering.

    `write()` appends and repaints at most every `interval` seconds; `finish()` repaints once
    with the final bundle. In a terminal (IPython's plain display publisher, which can only
    print anew), text is printed as it comes and `finish()` prints what the bundle adds.
    """

    def __init__(self, *, interval: float = 0.08, placeholder: str = "\u2026") -> None:
        self.interval = interval
        self.text = ""
        self.reasoning = ""  # a reasoning model's thinking, shown above the text in a <details>
        self.thought_seconds: float | None = None  # set when the answer begins after reasoning
        self._began = time.monotonic()
        self._placeholder = placeholder
        self._handle: Any = None
        self._last = 0.0
        self._dirty = False
        self._terminal = _in_terminal()

    def start(self) -> LiveDisplay:
        if not self._terminal:
            self._handle = display({"text/plain": self._placeholder}, raw=True, display_id=True)
        self._last = self._began = time.monotonic()
        return self

    def write(self, text: str, reasoning: str = "") -> None:
        """Append streamed text (and reasoning); repaint when the last repaint is `interval` old."""
        if not text and not reasoning:
            return
        if reasoning:
            if self._terminal and not self.reasoning:
                sys.stdout.write("[Thinking\u2026]\n")
            self.reasoning += reasoning
        if text and self.reasoning and self.thought_seconds is None:
            self.thought_seconds = time.monotonic() - self._began
            if self._terminal:
                sys.stdout.write("\n[answer]\n")
        self.text += text
        if self._terminal:
            sys.stdout.write(reasoning + text)
            sys.stdout.flush()
            return
        self._dirty = True
        if time.monotonic() - self._last >= self.interval:
            self.flush()

    def thought_for(self) -> float:
        """Seconds the reasoning took: until the answer began, else until now."""
        if self.thought_seconds is not None:
            return self.thought_seconds
        return time.monotonic() - self._began

    def flush(self) -> None:
        """Repaint now with the text so far (plain text and a cursor)."""
        if self._dirty:
            if self.reasoning:  # the thinking in its open section, the answer below it
                seconds = self.thought_seconds
                answer = f'<div style="white-space: pre-wrap">{html.escape(self.text + _CURSOR)}</div>'
                self._show(
                    {
                        "text/html": reasoning_html(self.reasoning, seconds, live=True) + answer,
                        "text/plain": reasoning_plain(self.reasoning, seconds) + self.text + _CURSOR,
                    }
                )
            else:
                self._show({"text/plain": self.text + _CURSOR})
            self._dirty = False

    def follow(self, texts: Iterable[str | tuple[str, str]], *, stop: Callable[[], None]) -> None:
        """Show the pieces of `texts` (text, or (text, reasoning)) as they come, repainting every
        `interval` even while none come.

        `texts` is read in a worker thread so that this (the cell's) thread stays free: it
        repaints text that arrived just before a stall, and a kernel interrupt, which lands in
        this thread, is handled at once: `stop()` (which must end the iteration, e.g.
        `Stream.close`) is called and the KeyboardInterrupt re-raised. An error raised while
        reading is re-raised here. All display calls stay in this thread, so they carry the
        cell's parent header (ipykernel 7 routes a thread's output by it).
        """
        pieces: queue.SimpleQueue = queue.SimpleQueue()

        def read() -> None:
            try:
                for text in texts:
                    pieces.put(text)
            except BaseException as exc:  # handed to the cell's thread
                pieces.put(_Failed(exc))
            pieces.put(_END)

        worker = threading.Thread(target=read, name="sensenova-live-display", daemon=True)
        worker.start()
        try:
            while True:
                try:
                    piece = pieces.get(timeout=self.interval)
                except queue.Empty:
                    self.flush()
                    continue
                if piece is _END:
                    return
                if isinstance(piece, _Failed):
                    raise piece.error
                if isinstance(piece, tuple):
                    self.write(*piece)
                else:
                    self.write(piece)
        except KeyboardInterrupt:
            stop()
            worker.join(timeout=5)
            raise

    def finish(self, bundle: dict[str, str]) -> None:
        """Replace the output with its final form, a mimebundle such as
        `{"text/html": ..., "text/plain": ...}`."""
        self._dirty = False
        if self._terminal:
            plain = bundle.get("text/plain", "")
            plain = plain.split("[answer]\n", 1)[-1] if self.reasoning else plain  # printed already
            if self.text and plain.startswith(self.text):
                print(plain[len(self.text) :])  # the rest: the footer
            else:
                print(("\n" if self.text else "") + plain)
            return
        self._show(bundle)

    def _show(self, bundle: dict[str, str]) -> None:
        if self._handle is None:
            self.start()
        self._handle.update(bundle, raw=True)
        self._last = time.monotonic()


def _in_terminal() -> bool:
    """True outside a kernel: no IPython, or its plain publisher that can only print anew."""
    from IPython import get_ipython
    from IPython.core.displaypub import DisplayPublisher

    shell = get_ipython()
    return shell is None or type(shell.display_pub) is DisplayPublisher


_END = object()


class _Failed:
    """An exception raised while reading, carried from the worker to the cell's thread."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
