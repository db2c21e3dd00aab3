"""A conversation's turns: one model that the `Conversation` holds, the store saves, the panel
shows and the exports read.

A `Turn` is one exchange: the person's message (text and the media parts sent, with a thumbnail
for each) and every `Answer` asked for it (regenerate adds one; the turn shows `chosen`, and the
history continues from it). The wire messages are derived from the turns (`wire_messages`), so
the dialogue is kept once; a turn the service refused (code 17, context length; code 18, content
filter) is kept for the reader and left out of what is sent next. Notebook context the person
attached (the panel's context chips) is part of the message's text as sent (`with_context`), so
the history, the store and every export show exactly what the model read.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .. import protocol
from ..client.messages import text_message
from ..errors import ContentFilterError, ContextLengthError

__all__ = [
    "Answer",
    "Turn",
    "REFUSALS",
    "answer_of",
    "split_message",
    "turns_from_messages",
    "wire_messages",
    "with_context",
]

# The service's refusals of the message itself: sending it again as it is would be refused again.
REFUSALS: tuple[type[BaseException], ...] = (ContextLengthError, ContentFilterError)


@dataclass(frozen=True)
class Answer:
    """One reply to a turn's message, as it ended.

    `finish_reason` is the service's (`stop`, `length`, `sensitive`, `context`) or `stopped`;
    `error` the one-line text of a failure; `refused` says the service refused the message
    itself (then the turn is not sent again); `omitted` the notes of media the history left out.
    """

    text: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    error: str | None = None
    refused: bool = False
    usage: Mapping[str, Any] | None = None
    model: str | None = None
    request_id: str | None = None
    thought_seconds: float | None = None
    omitted: tuple[str, ...] = ()
    created: float = field(default_factory=time.time)

    @property
    def status(self) -> str:
        """`refused`, `error`, `stopped` or `done`: how the panel and the transcript mark it."""
        if self.refused:
            return "refused"
        if self.error:
            return "error"
        return "stopped" if self.finish_reason == "stopped" else "done"

    @property
    def notice(self) -> str | None:
        """What the ending means to a reader (None for a plain stop)."""
        return protocol.FINISH_NOTICES.get(self.finish_reason or "")

    @property
    def in_history(self) -> bool:
        """Whether it is resent as the assistant's message: it has text, or ended normally."""
        return not self.refused and bool(self.text or self.finish_reason not in (None, "stopped"))


def answer_of(reply: Any, error: BaseException | None = None, **more: Any) -> Answer:
    """The answer a client `Reply` (None when no reply came) and the error that broke it make."""
    text = ""
    if error is not None:
        one_line = getattr(error, "one_line", None)
        text = one_line() if callable(one_line) else f"{type(error).__name__}: {error}"
    finish = getattr(reply, "finish_reason", None)
    if isinstance(error, KeyboardInterrupt):  # an interrupt is a stop, not a failure
        text, finish = "", finish or "stopped"
    return Answer(
        text=getattr(reply, "text", "") or "",
        reasoning=getattr(reply, "reasoning", "") or "",
        finish_reason=finish,
        error=text or None,
        refused=isinstance(error, REFUSALS),
        usage=dict(reply.usage) if getattr(reply, "usage", None) else None,
        model=getattr(reply, "model", None),
        request_id=getattr(reply, "request_id", None) or getattr(error, "request_id", None),
        omitted=tuple(getattr(reply, "omitted", ()) or ()),
        **more,
    )


@dataclass(frozen=True)
class Turn:
    """One exchange: the person's message and the answers asked for it (alternatives).

    `media[i]` is a wire part as sent (an image's base64, a URL, a file id) and `thumbnails[i]`
    small PNG/JPEG bytes that show it (b"" when the kernel could not make one). `chosen` is the
    index of the answer shown and continued from (-1: the last one). `key` names the turn for
    the store and the panel (a new answer keeps it, an edit makes a new turn).
    """

    text: str
    media: tuple[Mapping[str, Any], ...] = ()
    thumbnails: tuple[bytes, ...] = ()
    labels: tuple[str, ...] = ()  # what the person called each medium (a variable, a file name)
    answers: tuple[Answer, ...] = ()
    chosen: int = -1
    created: float = field(default_factory=time.time)
    key: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    @property
    def chosen_index(self) -> int:
        """`chosen` as a position from 0 (the last answer when it points nowhere; 0 with none)."""
        count = len(self.answers)
        return self.chosen % count if count and -count <= self.chosen < count else max(count - 1, 0)

    @property
    def answer(self) -> Answer | None:
        """The answer shown (None while the first one is awaited)."""
        return self.answers[self.chosen_index] if self.answers else None

    @property
    def refused(self) -> bool:
        """The service refused this message: shown, kept, never sent again as it is."""
        return self.answer is not None and self.answer.refused

    def user_message(self) -> dict:
        """The person's wire message: media parts first, then the text."""
        return {
            "role": "user",
            "content": [dict(p) for p in self.media] + [{"type": "text", "text": self.text}],
        }

    def messages(self) -> list[dict]:
        """What this turn adds to the history sent next: nothing when refused, else the message,
        then the answer when it has text or ended normally (a failed one leaves the message last)."""
        if self.refused:
            return []
        answer = self.answer
        tail = [text_message("assistant", answer.text)] if answer is not None and answer.in_history else []
        return [self.user_message(), *tail]

    def answered(self, answer: Answer) -> Turn:
        """This turn with `answer` added and chosen (the earlier ones stay as alternatives)."""
        return replace(self, answers=(*self.answers, answer), chosen=len(self.answers))

    def choose(self, index: int) -> Turn:
        """This turn showing answer `index` (from 0)."""
        if not 0 <= index < len(self.answers):
            raise IndexError(f"answer {index} of a turn with {len(self.answers)} answer(s)")
        return replace(self, chosen=index)

    def edited(self, text: str) -> Turn:
        """A new turn with the text replaced, the media kept, no answer yet."""
        return Turn(text=text, media=self.media, thumbnails=self.thumbnails, labels=self.labels)


def with_context(text: str, contexts: Sequence[tuple[str, str]]) -> str:
    """The person's text as sent with notebook context: the text, then per `(label, body)` a blank
    line, the label and a colon on a line, and the body fenced as text (~~~ when it holds ```).
    One plain form, so a reader of the history or an export sees what the model read."""
    blocks = [text.rstrip()] if text.strip() else []
    for label, body in contexts:
        fence = "~~~" if "```" in body else "```"
        blocks.append(f"{label}:\n{fence}text\n{body}\n{fence}")
    return "\n\n".join(blocks)


def wire_messages(turns: Iterable[Turn]) -> list[dict]:
    """The wire messages of `turns`: what a conversation sends next (refused turns left out)."""
    return [message for turn in turns for message in turn.messages()]


def turns_from_messages(messages: Sequence[Mapping[str, Any]], thumbnails: Any = None) -> list[Turn]:
    """Turns from wire messages (`conv.messages`, a list built by hand): each user message opens
    a turn, the assistant message after it is its answer; a system message is left out.
    `thumbnails(parts)`, when given, makes the pictures of a message's media."""
    turns: list[Turn] = []
    for message in messages:
        role = message.get("role")
        text, media = split_message(message)
        if role == "user":
            pictures = tuple(thumbnails(media)) if thumbnails is not None and media else ()
            turns.append(Turn(text=text, media=tuple(media), thumbnails=pictures))
        elif role == "assistant":
            if not turns or turns[-1].answers:
                turns.append(Turn(text=""))
            turns[-1] = turns[-1].answered(Answer(text=text, finish_reason="stop"))
    return turns


def split_message(message: Mapping[str, Any]) -> tuple[str, list[dict]]:
    """A wire message's text (its text parts joined) and its media parts."""
    text: list[str] = []
    media: list[dict] = []
    content = message.get("content") or ()
    if isinstance(content, str):
        return content, []
    for part in content:
        if isinstance(part, str):
            text.append(part)
        elif part.get("type") == "text":
            text.append(part.get("text", ""))
        else:
            media.append(dict(part))
    return "".join(text), media
