"""`Conversation`: a multi-turn chat on one `Client`, shared by the ChatPanel and `%%sensenova --chat`.

It keeps the dialogue as wire-shaped messages: a turn's images or video are turned into parts
once, when the turn is asked, and are then resent as they are (the client's `history_media`
policy decides which old media still travel). A reply that was stopped or failed midway keeps its
partial text in the history, as the person saw it.

Recording rules: a turn is recorded once its request was sent (a request refused by the checks
before sending records nothing, and a refused `regenerate`/`edit_last` keeps the turn it would replace). The user's message is recorded first; the assistant's message
follows when the reply ends with some text or a normal finish. A turn that failed before any
text leaves the user's message last: `regenerate()` sends it again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .client import Client, Delta, Prepared, Reply, Stream

__all__ = ["Conversation"]


def _text_message(role: str, text: str) -> dict:
    return {"role": role, "content": [{"type": "text", "text": text}]}


class Conversation:
    """A dialogue with the model: `ask`, `stream`, `regenerate`, `edit_last`, `clear`, `stop`."""

    def __init__(self, client: Client | None = None, *, model: str | None = None, system: str | None = None,
                 **params: Any) -> None:
        self.client = client if client is not None else Client()
        self.model = model
        self.system = system
        self.params = params  # default sampling parameters (temperature=..., max_new_tokens=...)
        self._messages: list[dict] = []
        self._lock = threading.Lock()
        self.current_stream: Stream | None = None  # the stream in flight, for stop() from another thread
        self.last_reply: Reply | None = None
        self.last_error: BaseException | None = None

    @property
    def messages(self) -> list[dict]:
        """The wire-shaped dialogue, system first when set (a copy: change it through the methods)."""
        head = [_text_message("system", self.system)] if self.system else []
        return head + list(self._messages)

    def __repr__(self) -> str:
        return f"Conversation({len(self._messages)} messages, model={self.client.resolve_model(self.model)!r})"

    # ----------------------------------------------------------------- asking
    def ask(self, text: str, *, images: Any = (), video: Any = None, stream: bool = True,
            on_delta: Callable[[Delta], Any] | None = None, **params: Any) -> Reply:
        """Ask one turn and return the reply; with `stream=True` each `Delta` goes to `on_delta`."""
        return self._run(None, self._user_message(text, images, video), stream, on_delta, params)

    def stream(self, text: str, *, images: Any = (), video: Any = None, **params: Any) -> Stream:
        """Ask one turn as a `Stream`; the turn is recorded when the stream ends, is closed or fails."""
        return self._send(None, self._user_message(text, images, video), params, stream=True)

    def regenerate(self, *, stream: bool = True, on_delta: Callable[[Delta], Any] | None = None,
                   **params: Any) -> Reply:
        """Ask the last user turn again; its old reply is dropped once the new request is sent."""
        with self._lock:
            index = self._last_user_index()
            message = self._messages[index]
        return self._run(index, message, stream, on_delta, params)

    def edit_last(self, text: str, *, stream: bool = True, on_delta: Callable[[Delta], Any] | None = None,
                  **params: Any) -> Reply:
        """Replace the last user turn's text (its media stay) and ask again; what followed it is
        dropped once the new request is sent."""
        with self._lock:
            index = self._last_user_index()
            media = [part for part in self._messages[index]["content"] if part.get("type") != "text"]
        message = {"role": "user", "content": media + [{"type": "text", "text": text}]}
        return self._run(index, message, stream, on_delta, params)

    def clear(self) -> None:
        """Forget every turn (the system prompt stays)."""
        self.stop()
        with self._lock:
            self._messages.clear()
            self.last_reply = self.last_error = None

    def stop(self) -> None:
        """Close the stream in flight, if any (thread-safe: the panel's Stop button calls it)."""
        current = self.current_stream
        if current is not None:
            current.close()

    # ----------------------------------------------------------------- inside
    def _last_user_index(self) -> int:
        for index in range(len(self._messages) - 1, -1, -1):
            if self._messages[index]["role"] == "user":
                return index
        raise IndexError("the conversation has no user turn to ask again")

    def _user_message(self, text: str, images: Any, video: Any) -> dict:
        """The turn as wire parts, media encoded now and never again."""
        return {"role": "user", "content": self.client._media_parts(images, video) + [{"type": "text", "text": text}]}

    def _prepare(self, messages: list[dict], stream: bool, params: dict) -> Prepared:
        merged = {**self.params, **params}
        model = merged.pop("model", None) or self.model
        return self.client._prepare(messages, stream=stream, model=model, images=None, video=None,
                                    system=self.system or None, **merged)

    def _run(self, start: int | None, message: dict, stream: bool, on_delta: Callable[[Delta], Any] | None,
             params: dict) -> Reply:
        if not stream:
            return self._send(start, message, params, stream=False)
        with self._send(start, message, params, stream=True) as live:
            for delta in live:
                if on_delta is not None:
                    on_delta(delta)
        return live.reply

    def _send(self, start: int | None, message: dict, params: dict, *, stream: bool) -> Any:
        """Check, record the user's turn, send: a Reply, or a Stream whose end records the reply.

        `message` follows the recorded messages before `start` (all of them when None); those from
        `start` on are dropped only once the request passed the checks, so a refused one changes nothing.
        """
        extra_headers = params.pop("extra_headers", None)
        with self._lock:
            earlier = self._messages[:start]
        prepared = self._prepare(earlier + [message], stream, params)
        self._record_user(start, message)
        try:
            sent = (self.client._open_stream if stream else self.client._send_chat)(prepared, extra_headers)
        except BaseException as exc:
            self.last_error = exc
            raise
        if stream:
            self.current_stream = sent
            sent.add_done_callback(self._stream_done)
        else:
            self._record_reply(sent)
        return sent

    def _record_user(self, start: int | None, message: dict) -> None:
        with self._lock:
            if start is not None:
                del self._messages[start:]
            self._messages.append(message)
            self.last_error = None

    def _stream_done(self, live: Stream) -> None:
        if self.current_stream is live:
            self.current_stream = None
        self.last_error = live.error
        self._record_reply(live.reply)

    def _record_reply(self, reply: Reply) -> None:
        with self._lock:
            self.last_reply = reply
            if reply.text or reply.finish_reason not in (None, "stopped"):
                self._messages.append(_text_message("assistant", reply.text))
