"""`Conversation`: a multi-turn chat on one `Client`, shared by the ChatPanel and `%%sensenova --chat`.

It keeps the dialogue as wire-shaped messages: a turn's images or video are turned into parts
once, when the turn is asked, and are then resent as they are (the client's `history_media`
policy decides which old media still travel). A reply that was stopped or failed midway keeps its
partial text in the history, as the person saw it.

Recording rules: a turn is recorded once its request was sent (a request refused by the checks
before sending records nothing, and a refused `regenerate`/`edit_last` keeps the turn it would
replace). The user's message is recorded first; the assistant's message
follows when the reply ends with some text or a normal finish. A turn that failed before any
text leaves the user's message last: `regenerate()` sends it again.

How each reply ended is kept too (`outcomes`, one for every reply asked, the last one last), a stop
included: `stop()` during a turn stops it even when its stream has not opened yet (the panel's
Stop pressed while the request is being sent), so the panel, the magic and a transcript read
the ending here rather than keeping their own flags.

Saved conversations: `Conversation(name="review")` writes every turn to a local store as it
completes (`store.py`: `.sensenova/` in the working directory, `$SENSENOVA_HOME`, or `store=`)
and, made again with the same name in a new kernel, starts from the saved turns, original
media included. Without `name=` and `store=` nothing is written (library use); `store=` alone
saves under a generated name.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Unpack

from . import protocol
from .client import Client, Delta, PreparedRequest, Reply, Stream
from .messages import text_message
from .params import Params, ParamsDict
from .store import ConversationStore, StoredTurn, open_store
from .turnlog import TurnLog, stored_assistant_turn, stored_user_turn

__all__ = ["Conversation", "Outcome"]


@dataclass(frozen=True)
class Outcome:
    """How one reply ended: its finish reason (stop, length, sensitive, context, or `stopped`
    when it was stopped early) and the error that broke it, if any (then the reason may be None)."""

    finish_reason: str | None
    error: BaseException | None = None
    chars: int = 0  # how much text the reply had when it ended
    reasoning: str = ""  # a reasoning model's thinking: shown and stored, never sent back in the history
    reply: Reply | None = None  # the reply as it ended (partial when broken); None: none came

    @classmethod
    def of(cls, live: Stream) -> Outcome:
        """The ending a stream has reached (final once it is closed, ended or failed)."""
        return cls(live.finish_reason, live.error, len(live.text), live.reasoning, live.reply)

    @property
    def stopped(self) -> bool:
        return self.finish_reason == "stopped"

    @property
    def notice(self) -> str | None:
        """What the ending means to a reader: a finish notice or the error (None for a plain stop)."""
        if self.error is not None and not isinstance(self.error, KeyboardInterrupt):
            one_line = getattr(self.error, "one_line", None)
            return one_line() if one_line else f"{type(self.error).__name__}: {self.error}"
        return protocol.FINISH_NOTICES.get(self.finish_reason or "")


class Conversation:
    """A dialogue with the model: `ask`, `stream`, `regenerate`, `edit_last`, `clear`, `stop`."""

    def __init__(
        self,
        client: Client | None = None,
        *,
        model: str | None = None,
        system: str | None = None,
        name: str | None = None,
        store: str | os.PathLike[str] | ConversationStore | None = None,
        **params: Unpack[ParamsDict],
    ) -> None:
        self.client = client if client is not None else Client()
        self.model = model
        self.system = system
        self.params = Params.of(**params)  # default settings of every turn (temperature=..., ...)
        self.params.check_dialect(self.client.api)
        self._messages: list[dict] = []
        self._lock = threading.Lock()
        self.current_stream: Stream | None = None  # the stream in flight, for stop() from another thread
        self.outcomes: list[Outcome] = []  # how each reply asked ended, in order
        self._turn_open = False  # a turn was begun and has not ended
        self._stop_requested = False  # stop() came during the open turn
        opened = open_store(store) if name is not None or store is not None else None
        if opened is not None and name is None:
            name = opened.new_name()
        self._log = TurnLog(opened, name)
        self._messages = self._log.load()  # a saved conversation continues where it was

    @property
    def name(self) -> str | None:
        """The name the conversation is saved under (None: not saved)."""
        return self._log.name

    @property
    def store(self) -> ConversationStore | None:
        """Where the conversation is saved (None: it is not)."""
        return self._log.store

    @property
    def turns(self) -> list[StoredTurn]:
        """Every turn as it ended (failed replies included): what `export` writes and the store keeps."""
        return list(self._log.turns)

    def export(self, path_or_format: str | os.PathLike[str], **options: Any) -> Any:
        """Write the conversation to `trip.md`, `trip.html` or `trip.ipynb` (see `export.export`);
        given just "md", "html" or "ipynb", return the text instead."""
        from .export import export

        options.setdefault("title", self.name)
        return export(self.turns, path_or_format, **options)

    @property
    def messages(self) -> list[dict]:
        """The wire-shaped dialogue, system first when set (a copy: change it through the methods)."""
        head = [text_message("system", self.system)] if self.system else []
        return head + list(self._messages)

    def __repr__(self) -> str:
        return (
            f"Conversation({len(self._messages)} messages, model={self.client.resolve_model(self.model)!r})"
        )

    # ----------------------------------------------------------------- asking
    def ask(
        self,
        text: str,
        *,
        images: Any = (),
        video: Any = None,
        stream: bool = True,
        on_delta: Callable[[Delta], Any] | None = None,
        extra_headers: dict | None = None,
        **params: Unpack[ParamsDict],
    ) -> Reply:
        """Ask one turn and return the reply; with `stream=True` each `Delta` goes to `on_delta`."""

        def compose() -> tuple[None, dict]:
            return None, self._user_message(text, images, video)

        return self._run(compose, stream, on_delta, params, extra_headers)

    def stream(
        self,
        text: str,
        *,
        images: Any = (),
        video: Any = None,
        extra_headers: dict | None = None,
        **params: Unpack[ParamsDict],
    ) -> Stream:
        """Ask one turn as a `Stream`; the turn is recorded when the stream ends, is closed or fails."""

        def compose() -> tuple[None, dict]:
            return None, self._user_message(text, images, video)

        return self._send(compose, params, extra_headers, stream=True)

    def regenerate(
        self,
        *,
        stream: bool = True,
        on_delta: Callable[[Delta], Any] | None = None,
        extra_headers: dict | None = None,
        **params: Unpack[ParamsDict],
    ) -> Reply:
        """Ask the last user turn again; its old reply is dropped once the new request is sent."""

        def compose() -> tuple[int, dict]:
            with self._lock:
                index = self._last_user_index()
                return index, self._messages[index]

        return self._run(compose, stream, on_delta, params, extra_headers)

    def edit_last(
        self,
        text: str,
        *,
        stream: bool = True,
        on_delta: Callable[[Delta], Any] | None = None,
        extra_headers: dict | None = None,
        **params: Unpack[ParamsDict],
    ) -> Reply:
        """Replace the last user turn's text (its media stay) and ask again; what followed it is
        dropped once the new request is sent."""

        def compose() -> tuple[int, dict]:
            with self._lock:
                index = self._last_user_index()
                media = [part for part in self._messages[index]["content"] if part.get("type") != "text"]
            return index, {"role": "user", "content": media + [{"type": "text", "text": text}]}

        return self._run(compose, stream, on_delta, params, extra_headers)

    def clear(self) -> None:
        """Forget every turn (the system prompt stays)."""
        self.stop()
        with self._lock:
            self._messages.clear()
            self.outcomes.clear()
        self._log.cut(0)

    # ----------------------------------------------------------------- stopping
    def begin_turn(self) -> None:
        """Say a turn is about to be asked (from another thread, say): a `stop()` from now on
        stops it, even one that comes before its stream opens. `ask` and friends call it
        themselves when it was not called."""
        with self._lock:
            self._turn_open = True
            self._stop_requested = False

    def stop(self) -> None:
        """Stop the turn in progress: close its stream (thread-safe: the panel's Stop button calls
        it), or, while its request is still being sent, close the stream as soon as it opens."""
        with self._lock:
            if self._turn_open:
                self._stop_requested = True
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
        return {
            "role": "user",
            "content": self.client.media_parts(images, video) + [{"type": "text", "text": text}],
        }

    def _prepare(
        self, messages: list[dict], stream: bool, params: dict, extra_headers: dict | None
    ) -> PreparedRequest:
        base = replace(self.params, model=self.model or self.params.model, system=self.system or None)
        return self.client.prepare(
            messages, Params.of(**params).over(base), stream=stream, extra_headers=extra_headers
        )

    def _run(
        self,
        compose: Callable[[], tuple[int | None, dict]],
        stream: bool,
        on_delta: Callable[[Delta], Any] | None,
        params: dict,
        extra_headers: dict | None,
    ) -> Reply:
        if not stream:
            return self._send(compose, params, extra_headers, stream=False)
        with self._send(compose, params, extra_headers, stream=True) as live:
            for delta in live:
                if on_delta is not None:
                    on_delta(delta)
        return live.reply

    def _send(
        self,
        compose: Callable[[], tuple[int | None, dict]],
        params: dict,
        extra_headers: dict | None,
        *,
        stream: bool,
    ) -> Any:
        """Check, record the user's turn, send: a Reply, or a Stream whose end records the reply.

        `compose()` gives (start, message): `message` follows the recorded messages before `start`
        (all of them when None); those from `start` on are dropped only once the request passed
        the checks, so a refused one changes nothing.
        """
        with self._lock:
            if not self._turn_open:  # else begin_turn() was called, and a stop may already be waiting
                self._turn_open, self._stop_requested = True, False
        try:
            start, message = compose()
            with self._lock:
                earlier = self._messages[:start]
            prepared = self._prepare(earlier + [message], stream, params, extra_headers)
        except BaseException:
            self._end_turn(None)  # nothing was sent: nothing to record
            raise
        self._record_user(start, message)
        try:
            sent = self.client.open_stream(prepared) if stream else self.client.send(prepared)
        except BaseException as exc:
            self._log.add(stored_assistant_turn(None, error=exc, model=prepared.model), is_message=False)
            self._end_turn(Outcome(None, exc))
            raise
        if not stream:
            self._record_reply(sent, Outcome(sent.finish_reason, None, len(sent.text), sent.reasoning, sent))
            return sent
        sent.add_done_callback(self._stream_done)
        with self._lock:
            self.current_stream = sent
            stop = self._stop_requested
        if stop:  # a stop came while the request was being sent
            sent.close()
        return sent

    def _record_user(self, start: int | None, message: dict) -> None:
        with self._lock:
            if start is not None:
                del self._messages[start:]
            self._messages.append(message)
        if start is not None:
            self._log.cut(start)
        self._log.add(stored_user_turn(message), is_message=True)

    def _stream_done(self, live: Stream) -> None:
        if self.current_stream is live:
            self.current_stream = None
        self._record_reply(live.reply, Outcome.of(live))

    def _record_reply(self, reply: Reply, outcome: Outcome) -> None:
        kept = bool(reply.text or reply.finish_reason not in (None, "stopped"))
        with self._lock:
            if kept:
                self._messages.append(text_message("assistant", reply.text))
        turn = stored_assistant_turn(reply, error=outcome.error, finish_reason=outcome.finish_reason)
        self._log.add(turn, is_message=kept)
        self._end_turn(outcome)

    def _end_turn(self, outcome: Outcome | None) -> None:
        with self._lock:
            self._turn_open = self._stop_requested = False
            if outcome is not None:
                self.outcomes.append(outcome)
