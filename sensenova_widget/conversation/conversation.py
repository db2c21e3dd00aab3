"""`Conversation`: a multi-turn chat on one `Client`, shared by the ChatPanel and `%%sensenova --chat`.

It holds the dialogue as `turns.Turn`s (the person's message with its media parts, encoded once
when the turn is asked, and every answer asked for it); the wire messages it sends are derived
from them (the client's `history_media` policy decides which old media still travel). A reply
that was stopped or failed midway keeps its partial text, as the person saw it. A message the
service refused (code 17, too long for the context; code 18, the content filter) stays as a
refused turn for the reader and is left out of what is sent next: edit it and ask again.

Recording rules: a turn is recorded once its request was sent (a request refused by the checks
before sending records nothing, and a refused `regenerate`/`edit` keeps the turns it would
replace). `regenerate` adds an answer to a turn (the earlier ones stay as alternatives, see
`choose`) and `edit` replaces a turn's message, both dropping the turns after it: the one cut,
`_cut`, in memory and in the store alike.

`stop()` during a turn stops it even when its stream has not opened yet (the panel's Stop pressed
while the request is being sent). `take()` says explicitly how a turn went (`Taken`), for the
panel's turn runner.

Saved conversations: `Conversation(name="review")` writes every turn to a local store (`store.py`:
`.sensenova/` in the working directory, `$SENSENOVA_HOME`, or `store=`) and, made again with the
same name in a new kernel, starts from the saved turns, original media included. Without `name=`
and `store=` nothing is written (library use); `store=` alone saves under a generated name.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Unpack

from ..client.client import Client, Delta, PreparedRequest, Reply, Stream
from ..client.messages import text_message
from ..params import Params, ParamsDict
from .store import ConversationStore, open_store
from .turnlog import TurnLog, part_thumbnails
from .turns import Turn, answer_of, wire_messages

__all__ = ["Conversation", "Taken"]


@dataclass(frozen=True)
class Taken:
    """How one `take()` went: `sent` is False when the checks refused the request before sending
    (nothing changed); otherwise `index` and `turn` are the turn as it ended, `reply` the reply
    (partial after a failure), `error` what broke it (None when it ended)."""

    sent: bool
    index: int | None = None
    turn: Turn | None = None
    reply: Reply | None = None
    error: BaseException | None = None


class Conversation:
    """A dialogue with the model: `ask`, `stream`, `regenerate`, `edit`, `choose`, `clear`, `stop`."""

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
        self._lock = threading.Lock()
        self._current_stream: Stream | None = None  # the stream in flight, for stop() from another thread
        self._turn_open = False  # a turn was begun and has not ended
        self._stop_requested = False  # stop() came during the open turn
        opened = open_store(store) if name is not None or store is not None else None
        if opened is not None and name is None:
            name = opened.new_name()
        self._log = TurnLog(opened, name)
        self._turns: list[Turn] = self._log.load()  # a saved conversation continues where it was

    @property
    def name(self) -> str | None:
        """The name the conversation is saved under (None: not saved)."""
        return self._log.name

    @property
    def store(self) -> ConversationStore | None:
        """Where the conversation is saved (None: it is not)."""
        return self._log.store

    @property
    def turns(self) -> list[Turn]:
        """Every turn (refused and failed ones included): what the panel shows, `export` writes and
        the store keeps."""
        with self._lock:
            return list(self._turns)

    def export(self, path_or_format: str | os.PathLike[str], **options: Any) -> Any:
        """Write the conversation to `trip.md`, `trip.html` or `trip.ipynb` (see `export.export`);
        given just "md", "html" or "ipynb", return the text instead."""
        from .export import export

        options.setdefault("title", self.name)
        return export(self.turns, path_or_format, **options)

    @property
    def messages(self) -> list[dict]:
        """The wire-shaped dialogue sent next, system first when set (refused turns left out)."""
        head = [text_message("system", self.system)] if self.system else []
        return head + wire_messages(self.turns)

    def __repr__(self) -> str:
        return f"Conversation({len(self._turns)} turns, model={self.client.resolve_model(self.model)!r})"

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
        return self._reply_of(
            self.take(
                "send",
                text,
                images=images,
                video=video,
                stream=stream,
                on_delta=on_delta,
                extra_headers=extra_headers,
                **params,
            )
        )

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
        index, turn, prepared = self._plan("send", text, None, images, video, params, extra_headers, True)
        live = self._open(index, turn, prepared)
        if isinstance(live, Taken):
            raise live.error  # type: ignore[misc]
        live.add_done_callback(lambda done: self._finish(index, turn, done.reply, done.error, None))
        return live

    def regenerate(
        self,
        *,
        turn: int = -1,
        stream: bool = True,
        on_delta: Callable[[Delta], Any] | None = None,
        extra_headers: dict | None = None,
        **params: Unpack[ParamsDict],
    ) -> Reply:
        """Ask turn `turn` (the last by default) again: the new answer joins the earlier ones (see
        `choose`), and the turns after it are dropped once the new request is sent."""
        return self._reply_of(
            self.take(
                "regenerate",
                turn=turn,
                stream=stream,
                on_delta=on_delta,
                extra_headers=extra_headers,
                **params,
            )
        )

    def edit(
        self,
        text: str,
        *,
        turn: int = -1,
        stream: bool = True,
        on_delta: Callable[[Delta], Any] | None = None,
        extra_headers: dict | None = None,
        **params: Unpack[ParamsDict],
    ) -> Reply:
        """Replace turn `turn`'s message (the last by default; its media stay) and ask again: the
        conversation forks there, what followed is dropped once the new request is sent."""
        return self._reply_of(
            self.take(
                "edit",
                text,
                turn=turn,
                stream=stream,
                on_delta=on_delta,
                extra_headers=extra_headers,
                **params,
            )
        )

    def choose(self, turn: int, answer: int) -> Turn:
        """Show answer `answer` (from 0) of turn `turn`, and continue the history from it."""
        with self._lock:
            index = self._index(turn)
            chosen = self._turns[index].choose(answer)
            self._turns[index] = chosen
        self._log.save(chosen)  # the turns after it stay: only which answer shows changed
        return chosen

    def clear(self) -> None:
        """Forget every turn (the system prompt stays)."""
        self.stop()
        self._cut(0)

    def take(
        self,
        action: str,
        text: str = "",
        *,
        turn: int = -1,
        key: str | None = None,
        labels: tuple[str, ...] = (),
        images: Any = (),
        video: Any = None,
        stream: bool = True,
        on_delta: Callable[[Delta], Any] | None = None,
        extra_headers: dict | None = None,
        **params: Any,
    ) -> Taken:
        """One turn, "send", "regenerate" or "edit", and how it went, without raising a failure:
        the panel's turn runner reads the outcome here. A refusal by the checks before sending
        (bad settings, media, a busy conversation) comes back as `Taken(sent=False, error=...)`.
        `key` names the new turn of a send or an edit (the panel shows it under that key), `labels`
        what the person calls a send's media (images first, then the video)."""
        try:
            index, planned, prepared = self._plan(
                action, text, turn, images, video, params, extra_headers, stream
            )
            if action == "send" and labels:
                planned = replace(planned, labels=tuple(labels))
            if key is not None and action != "regenerate":
                planned = replace(planned, key=key)
        except Exception as exc:
            return Taken(False, error=exc)
        opened = self._open(index, planned, prepared)
        if isinstance(opened, Taken):
            return opened
        if not stream:
            return self._finish(index, planned, opened, None, None)
        began, answered, reasoned = time.monotonic(), None, False
        error: BaseException | None = None
        try:
            with opened as live:
                for delta in live:
                    reasoned = reasoned or bool(delta.reasoning)
                    if delta.text and reasoned and answered is None:
                        answered = time.monotonic()  # the thinking ended: the answer began
                    if on_delta is not None:
                        on_delta(delta)
        except BaseException as exc:  # recorded below, then handed back (an interrupt too)
            error = exc
        seconds = round((answered or time.monotonic()) - began, 1) if reasoned else None
        return self._finish(index, planned, opened.reply, error or opened.error, seconds)

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
            current = self._current_stream
        if current is not None:
            current.close()

    # ----------------------------------------------------------------- inside
    @staticmethod
    def _reply_of(taken: Taken) -> Reply:
        if taken.error is not None:
            raise taken.error
        assert taken.reply is not None
        return taken.reply

    def _index(self, turn: int) -> int:
        """`turn` (negative counts from the end) as an index; IndexError when there is no such turn."""
        count = len(self._turns)
        if not count:
            raise IndexError("the conversation has no turn to ask again")
        if not -count <= turn < count:
            raise IndexError(f"turn {turn} of a conversation of {count} turn(s)")
        return turn % count

    def _plan(
        self,
        action: str,
        text: str,
        turn: int | None,
        images: Any,
        video: Any,
        params: dict,
        extra_headers: dict | None,
        stream: bool,
    ) -> tuple[int, Turn, PreparedRequest]:
        """Where the turn goes, the turn, and its checked request (nothing recorded, nothing sent)."""
        with self._lock:
            if not self._turn_open:  # else begin_turn() was called, and a stop may already be waiting
                self._turn_open, self._stop_requested = True, False
        try:
            with self._lock:
                if action == "send":
                    index = len(self._turns)
                else:
                    index = self._index(-1 if turn is None else turn)
                earlier = list(self._turns[:index])
                current = self._turns[index] if index < len(self._turns) else None
            if action == "send":
                parts = self.client.media_parts(images, video)
                planned = Turn(text=text, media=tuple(parts), thumbnails=tuple(part_thumbnails(parts)))
            elif action == "regenerate":
                assert current is not None
                planned = current
            elif action == "edit":
                assert current is not None
                planned = current.edited(text)
            else:
                raise ValueError(f"unknown action {action!r}: expected send, regenerate or edit")
            base = replace(self.params, model=self.model or self.params.model, system=self.system or None)
            messages = wire_messages(earlier) + [planned.user_message()]
            prepared = self.client.prepare(
                messages, Params.of(**params).over(base), stream=stream, extra_headers=extra_headers
            )
        except BaseException:
            self._end_turn()  # nothing was sent: nothing to record
            raise
        return index, planned, prepared

    def _cut(self, index: int, turn: Turn | None = None) -> None:
        """The one cut: the turns from `index` on go (here and in the store), and `turn`, when
        given, takes their place (a new turn, a regenerated one, an edit that forks there)."""
        with self._lock:
            gone = [t for t in self._turns[index:] if turn is None or t.key != turn.key]
            self._turns[index:] = [turn] if turn is not None else []
        self._log.drop(gone)
        if turn is not None:
            self._log.save(turn)

    def _open(self, index: int, turn: Turn, prepared: PreparedRequest) -> Any:
        """Record the turn and send: a Reply, a Stream, or, when sending failed, the `Taken`."""
        self._cut(index, turn)
        streamed = bool(prepared.body.get("stream"))
        try:
            sent = self.client.open_stream(prepared) if streamed else self.client.send(prepared)
        except BaseException as exc:
            return self._finish(index, turn, None, exc, None, model=prepared.model)
        if streamed:
            with self._lock:
                self._current_stream = sent
                stop = self._stop_requested
            if stop:  # a stop came while the request was being sent
                sent.close()
        return sent

    def _finish(
        self,
        index: int,
        turn: Turn,
        reply: Reply | None,
        error: BaseException | None,
        seconds: float | None,
        *,
        model: str | None = None,
    ) -> Taken:
        """Record the answer the turn got, end the turn, and say how it went."""
        answer = answer_of(reply, error, thought_seconds=seconds)
        if model and not answer.model:
            answer = replace(answer, model=model)
        ended = turn.answered(answer)
        with self._lock:
            placed = index < len(self._turns) and self._turns[index].key == turn.key
            if placed:
                self._turns[index] = ended
            # else it was cleared meanwhile: nothing to record
            if self._current_stream is not None and self._current_stream.closed:
                self._current_stream = None
        if placed:
            self._log.save(ended)
        self._end_turn()
        if reply is None:
            reply = Reply(text=getattr(error, "partial_text", "") or "", model=answer.model)
        return Taken(True, index, ended, reply, error)

    def _end_turn(self) -> None:
        with self._lock:
            self._turn_open = self._stop_requested = False
