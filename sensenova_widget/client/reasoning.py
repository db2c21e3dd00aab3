"""Reasoning that arrives inline: a leading `<think>...</think>` block in a reply's text.

Some deployments put a reasoning model's thinking at the start of the text instead of in
`reasoning_content` (service-today.md, "Reasoning"). `split_think` splits a whole text;
`ThinkSplitter` does the same to a stream, piece by piece, holding back only what might still
be the start of a tag, so reasoning shows live and the answer never holds any of it.
"""

from __future__ import annotations

__all__ = ["OPEN", "CLOSE", "split_think", "ThinkSplitter", "reasons"]

OPEN = "<think>"
CLOSE = "</think>"


def split_think(text: str) -> tuple[str, str]:
    """(reasoning, answer) of a whole text: a leading `<think>` block is the reasoning."""
    splitter = ThinkSplitter()
    reasoning, answer = splitter.feed(text)
    more_reasoning, more_answer = splitter.flush()
    return reasoning + more_reasoning, answer + more_answer


def _tag_prefix(text: str, tag: str) -> int:
    """How many characters at the end of `text` could begin `tag` (0 when none)."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkSplitter:
    """Feed streamed text pieces; get back (reasoning, answer) for each, as soon as it is certain."""

    __slots__ = ("state", "held")

    def __init__(self) -> None:
        self.state = "start"  # start -> (inside -> after ->) answer
        self.held = ""  # text that may still be part of a tag (or the blank start of the reply)

    def feed(self, text: str) -> tuple[str, str]:
        if self.state == "answer":
            return "", text
        text, self.held = self.held + text, ""
        if self.state == "start":
            stripped = text.lstrip()
            if len(stripped) < len(OPEN) and OPEN.startswith(stripped):  # blank, or "<th" so far
                self.held = text
                return "", ""
            if not stripped.startswith(OPEN):
                self.state = "answer"
                return "", text
            self.state, text = "inside", stripped[len(OPEN) :]
        if self.state == "inside":
            end = text.find(CLOSE)
            if end < 0:
                keep = _tag_prefix(text, CLOSE)
                self.held = text[len(text) - keep :]
                return text[: len(text) - keep], ""
            reasoning, text = text[:end], text[end + len(CLOSE) :]
            self.state = "after"
            return reasoning, self._after(text)
        return "", self._after(text)

    def _after(self, text: str) -> str:
        """The blank lines between `</think>` and the answer are not part of the answer."""
        text = text.lstrip()
        if text:
            self.state = "answer"
        return text

    def flush(self) -> tuple[str, str]:
        """At the end of the reply: what was held back (an unclosed block is all reasoning)."""
        held, self.held = self.held, ""
        return (held, "") if self.state == "inside" else ("", held)


def reasons(model: str | None) -> bool:
    """Whether `model` can reason (so a surface offers its thinking toggle): the spec's table,
    else a name rule for ids it does not list ("reason", "v6-5", "v6.5", any case)."""
    from .. import protocol

    if not model:
        return False
    known = (
        *protocol.THINKING_MODELS,
        *protocol.ALWAYS_REASONING_MODELS,
        *protocol.REASONING_BY_DEFAULT_MODELS,
    )
    if model in known:
        return True
    lower = model.lower()
    return any(mark in lower for mark in ("reason", "v6-5", "v6.5", "thinking", "-r1"))
