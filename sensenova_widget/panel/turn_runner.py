"""Running a ChatPanel's turns: `TurnRunner`.

One turn at a time: it is checked and shown in the browser at once, then the reply streams
in a kernel thread (so the kernel stays usable) and reaches the browser as custom messages
coalesced to one every 50 ms; the conversation's turns are then shown again as they ended
(`Conversation.take` says how the turn went: never guessed here), the `on_reply` callbacks run,
and the turn's future is resolved. The thread's output (callbacks, tracebacks) goes to the cell
that asked, or for a turn started in the browser, to the cell that made the panel.
"""

from __future__ import annotations

import concurrent.futures
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..conversation.conversation import Conversation, Taken
from ..errors import Interrupted, InvalidRequestError, PanelBusyError, SenseNovaError
from . import interrupts, panel_state

__all__ = ["INTERRUPTED", "TurnRunner", "TurnSurface"]

_BUSY = "A reply is still streaming: stop it (panel.stop() or the Stop button) or wait for it."
INTERRUPTED = "the panel's reply was stopped; its text so far is kept."
ACTIONS = ("send", "regenerate", "edit")


@dataclass(frozen=True)
class TurnSurface:
    """What a turn runner may do to the panel it serves, and nothing more.

    `settings()` the panel's settings now; `show(views, busy)` the turns the browser shows and
    whether a reply streams, set together; `piece(message)` a streamed piece to the browser;
    `take_staged(text)` a new message's text as sent (with the staged notebook context), its
    attachments (browser views), images and videos (it raises when there is nothing to send);
    `after_turn()` once each turn has ended.
    """

    settings: Callable[[], Mapping[str, Any]]
    show: Callable[[list[dict], bool], None]
    piece: Callable[[dict], None]
    take_staged: Callable[[str], tuple[str, list[dict], list, list]]
    after_turn: Callable[[], None]


def _one_line(exc: BaseException) -> str:
    return exc.one_line() if isinstance(exc, SenseNovaError) else f"{type(exc).__name__}: {exc}"


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    return get_ipython()


def _cell_parent() -> Any:
    """The parent header of the request running now, so a thread's output lands in its cell."""
    shell = _shell()
    get_parent = getattr(shell, "get_parent", None)
    return get_parent() if get_parent else None


class _InCell:
    """Route this thread's output to the cell whose parent header was captured (ipykernel 7)."""

    def __init__(self, parent: Any) -> None:
        self.parent = parent
        self.tokens = None

    def __enter__(self) -> None:
        shell = _shell()
        if self.parent and hasattr(shell, "set_thread_parent"):
            self.tokens = shell.set_thread_parent(self.parent)

    def __exit__(self, *exc: Any) -> None:
        if self.tokens is not None:
            _shell().reset_thread_parent(self.tokens)


class TurnRunner:
    """The turns of one panel, one at a time; made with the panel, in the cell that made it.

    It asks `chat` (the panel's `Conversation`) and touches the panel only through `surface`.
    """

    def __init__(self, chat: Conversation, surface: TurnSurface) -> None:
        self.chat = chat  # the Conversation the turns are asked of
        self.surface = surface
        self._callbacks: list[Callable[[Any], None]] = []  # `on_reply`'s, called after every reply
        self._running = False
        self._worker: concurrent.futures.Future | None = None  # the last turn's
        self._home_parent = _cell_parent()  # turns started in the browser print into this cell
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether a turn runs now: the kernel's own word (the panel's `busy` only reports it)."""
        return self._running

    def on_reply(self, callback: Callable[[Any], None]) -> None:
        """Call `callback(reply)` after every reply that ended (stopped ones included)."""
        self._callbacks.append(callback)

    def check_idle(self) -> None:
        """Refuse a new turn while one streams."""
        if self._running:
            raise PanelBusyError(_BUSY)

    def wait(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) for the last turn's thread to finish."""
        if self._worker is not None:
            concurrent.futures.wait([self._worker], timeout=timeout)

    def start(
        self, action: str, text: str = "", *, turn: int = -1, from_browser: bool = False, waited: bool = False
    ) -> concurrent.futures.Future:
        """Check, show the turn in the browser, and stream the reply in a kernel thread.

        `action` is "send", "regenerate" or "edit" (of turn `turn`, the last by default). The
        thread's output goes to the cell that called (captured now), or with `from_browser`, to
        the cell that made the panel. A kernel interrupt stops the reply (its text so far kept,
        marked stopped); unless a cell `waited` for it (and says so itself), the thread prints
        that as one line there.
        """
        if action not in ACTIONS:
            raise InvalidRequestError(f"unknown turn action {str(action)[:20]!r}", field="action")
        if not isinstance(text, str):  # `None` is not the message "None"
            raise InvalidRequestError(
                f"the {action} request's text must be a string, not {type(text).__name__}", field="text"
            )
        if isinstance(turn, bool) or not isinstance(turn, int):
            raise InvalidRequestError(f"the {action} request's turn must be an integer", field="turn")
        surface, chat = self.surface, self.chat
        with self._lock:
            self.check_idle()
            turns = chat.turns
            settings = surface.settings()
            images: list = []
            videos: list = []
            labels: tuple[str, ...] = ()
            key = panel_state.new_id()  # the new turn's (a send's, an edit's)
            if action == "send":
                text, attachments, images, videos = surface.take_staged(text)
                # labels in the order the parts are sent: the images, then the video
                labels = tuple(a["label"] for a in sorted(attachments, key=lambda a: a["kind"] != "image"))
                earlier, user = turns, panel_state.pending_user_view(key, text, attachments)
            else:
                if not turns:
                    raise InvalidRequestError(
                        f"Nothing to {action}: the conversation has no message yet.", field="conversation"
                    )
                if not -len(turns) <= turn < len(turns):
                    raise InvalidRequestError(
                        f"There is no turn {turn} to {action}: the conversation has {len(turns)}.",
                        field="turn",
                    )
                if action == "edit" and not text.strip():
                    raise InvalidRequestError("The edited message is empty.", field="text")
                turn %= len(turns)
                earlier = turns[:turn]
                user = panel_state.turn_views(turns[turn : turn + 1], start=turn)[0]
                if action == "edit":
                    user = {**user, "id": f"{key}-u", "text": text, "refused": False}
                else:
                    key = turns[turn].key
            model = settings.get("model") or chat.client.resolve_model()
            streaming = panel_state.streaming_view(key, model)
            chat.begin_turn()  # a Stop from now on stops this turn
            chat.system = settings.get("system") or None
            params = panel_state.request_params(settings)
            if settings.get("model"):
                params["model"] = settings["model"]
            call = {
                "turn": turn,
                "key": key,
                "labels": labels,
                "images": images,
                "video": videos[0] if videos else None,
                **params,
            }
            surface.show([*panel_state.turn_views(earlier), user, streaming], True)
            self._running = True
            future: concurrent.futures.Future = concurrent.futures.Future()
            self._worker = future
        parent = self._home_parent if from_browser else _cell_parent()
        threading.Thread(
            target=self._run,
            args=(action, text, call, user, streaming, parent, future, not waited),
            name="snw-reply",
            daemon=True,
        ).start()
        return future

    def _run(
        self,
        action: str,
        text: str,
        call: dict,
        user: dict,
        streaming: dict,
        parent: Any,
        future: concurrent.futures.Future,
        announce: bool,
    ) -> None:
        """The worker thread: whatever happens, the panel leaves `busy` and the future is resolved."""
        interrupted = threading.Event()

        def interrupt() -> None:  # from the main thread, on a kernel interrupt
            interrupted.set()
            self.chat.stop()

        with _InCell(parent):
            try:
                with interrupts.watch(interrupt):
                    taken = self._stream_turn(action, text, call, user, streaming)
            except BaseException as exc:  # a bug in showing the turn: never leave the panel busy
                self._running = False
                self.surface.show(panel_state.turn_views(self.chat.turns), False)
                future.set_exception(exc)
                return
            finally:
                if interrupted.is_set() and announce:
                    print(Interrupted(INTERRUPTED).line())
            if taken.error is not None:
                future.set_exception(taken.error)
                return
            for callback in list(self._callbacks):
                try:
                    callback(taken.reply)
                except Exception:
                    traceback.print_exc(file=sys.stderr)
            future.set_result(taken.reply)

    def _stream_turn(self, action: str, text: str, call: dict, user: dict, streaming: dict) -> Taken:
        """Stream the reply, deltas coalesced to the browser, then show the turns as they ended.

        A request refused by the checks before sending left the conversation as it was: the panel
        shows the turns as they are, with the new message marked unsent (nothing to retry as it
        is) and why, or, for a regenerate/edit, why on the last reply (the note goes with the
        next turn: the views are made from the conversation each time).
        """
        piece = self.surface.piece
        coalescer = panel_state.Coalescer(
            lambda part, offset: piece(
                {"type": "delta", "turn": streaming["id"], "offset": offset, "text": part}
            ),
            emit_reasoning=lambda part, offset: piece(
                {"type": "delta", "turn": streaming["id"], "offset": offset, "reasoning": part}
            ),
        )
        try:
            taken = self.chat.take(
                action, text, on_delta=lambda d: coalescer.add(d.text, d.reasoning), **call
            )
        finally:
            coalescer.close()
        views = panel_state.turn_views(self.chat.turns)
        if not taken.sent:
            assert taken.error is not None
            refusal = panel_state.refusal_view(streaming["model"], _one_line(taken.error))
            if action == "send":
                views += [{**user, "sent": False}, refusal]
            elif (
                views and views[-1]["role"] == "assistant"
            ):  # the note goes on the reply; its Retry asks again
                views[-1] = {**views[-1], "error": refusal["error"]}
            else:
                views.append(refusal)
        if taken.error is not None and not isinstance(taken.error, (SenseNovaError, KeyboardInterrupt)):
            traceback.print_exception(taken.error, file=sys.stderr)  # a bug rather than a service error
        self._running = False
        self.surface.show(views, False)
        self.surface.after_turn()
        return taken
