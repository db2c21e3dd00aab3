"""Running a ChatPanel's turns: `TurnRunner`.

One turn at a time: it is checked and recorded in the browser at once, then the reply streams
in a kernel thread (so the kernel stays usable) and reaches the browser as custom messages
coalesced to one every 50 ms; its final text is then set once on the synced `conversation`
trait, the `on_reply` callbacks run, and the turn's future is resolved. The thread's output
(callbacks, tracebacks) goes to the cell that asked, or for a turn started in the browser, to
the cell that made the panel.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from . import interrupts, panel_state
from .client import Reply
from .conversation import Conversation
from .errors import Interrupted, InvalidRequestError, PanelBusyError, SenseNovaError

__all__ = ["INTERRUPTED", "TurnRunner"]

_BUSY = "A reply is still streaming: stop it (panel.stop() or the Stop button) or wait for it."
INTERRUPTED = "the panel's reply was stopped; its text so far is kept."
TakeStaged = Callable[[str], "tuple[dict, list, list]"]


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

    `panel` is the widget the turns show in: the runner reads its `settings` and `client`,
    writes its `conversation`, `busy` and `staged` traits and sends it the reply's deltas
    (`send`, `hold_sync`), all public. `take_staged(text)` gives a new message's turn for the
    browser and its images and videos (and raises when there is nothing to send);
    `after_turn()` runs once each turn has ended (the panel refreshes its transcript).
    `running` is the kernel's own word on whether a turn runs; `busy` only reports it.
    """

    def __init__(
        self,
        panel: Any,
        chat: Conversation,
        *,
        take_staged: TakeStaged,
        after_turn: Callable[[], None],
    ) -> None:
        self.panel = panel
        self.chat = chat  # the Conversation the turns are asked of
        self.take_staged = take_staged
        self.after_turn = after_turn
        self.callbacks: list[Callable[[Any], None]] = []  # `on_reply`'s, called after every reply
        self.running = False
        self.worker: concurrent.futures.Future | None = None  # the last turn's
        self.home_parent = _cell_parent()  # turns started in the browser print into this cell
        self._lock = threading.Lock()

    def check_idle(self) -> None:
        """Refuse a new turn while one streams."""
        if self.running:
            raise PanelBusyError(_BUSY)

    def wait(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) for the last turn's thread to finish."""
        if self.worker is not None:
            concurrent.futures.wait([self.worker], timeout=timeout)

    def params(self) -> dict[str, Any]:
        """The request's parameters from the panel's settings (its model included)."""
        settings = self.panel.settings
        params = panel_state.request_params(settings)
        if settings.get("model"):
            params["model"] = settings["model"]
        return params

    def start(
        self, action: str, text: str = "", *, from_browser: bool = False, waited: bool = False
    ) -> concurrent.futures.Future:
        """Check, record the turn in the browser, and stream the reply in a kernel thread.

        `action` is "send", "regenerate" or "edit". The thread's output goes to the cell that
        called (captured now), or with `from_browser`, to the cell that made the panel. A kernel
        interrupt stops the reply (its text so far kept, marked stopped); unless a cell `waited`
        for it (and says so itself), the thread prints that as one line there.
        """
        if not isinstance(text, str):  # `None` is not the message "None"
            raise InvalidRequestError(
                f"the {action} request's text must be a string, not {type(text).__name__}", field="text"
            )
        panel = self.panel
        with self._lock:
            self.check_idle()
            turns = [panel_state.without_refusal(t) for t in panel.conversation]
            restore = None  # a refused new message stays on screen, marked unsent
            if action == "send":
                user, images, videos = self.take_staged(text)
                turns.append(user)
            else:
                restore = list(turns)  # a refused regenerate/edit changes nothing: these come back
                # the last message that reached the service (one refused before sending is skipped)
                last_user = max(
                    (i for i, t in enumerate(turns) if t["role"] == "user" and t.get("sent", True)),
                    default=None,
                )
                if last_user is None:
                    raise InvalidRequestError(
                        f"Nothing to {action}: the conversation has no message yet.", field="conversation"
                    )
                user = dict(turns[last_user])
                if action == "edit":
                    if not text.strip():
                        raise InvalidRequestError("The edited message is empty.", field="text")
                    user["text"] = text
                turns = turns[:last_user] + [user]
            model = panel.settings.get("model") or panel.client.resolve_model()
            reply_turn = panel_state.assistant_turn(model)
            turns.append(reply_turn)
            self.chat.begin_turn()  # a Stop from now on stops this turn
            self.chat.system = panel.settings.get("system") or None
            params = self.params()
            conv = self.chat
            if action == "send":
                video = videos[0] if videos else None

                def ask(on_delta: Callable) -> Any:
                    return conv.ask(text, images=images, video=video, on_delta=on_delta, **params)

                panel.staged = []
            elif action == "regenerate":

                def ask(on_delta: Callable) -> Any:
                    return conv.regenerate(on_delta=on_delta, **params)
            else:

                def ask(on_delta: Callable) -> Any:
                    return conv.edit_last(text, on_delta=on_delta, **params)

            with panel.hold_sync():
                panel.conversation = turns
                self.running = panel.busy = True
            future: concurrent.futures.Future = concurrent.futures.Future()
            self.worker = future
        parent = self.home_parent if from_browser else _cell_parent()
        threading.Thread(
            target=self._run,
            args=(ask, user, reply_turn, restore, parent, future, not waited),
            name="snw-reply",
            daemon=True,
        ).start()
        return future

    def _run(
        self,
        ask: Callable[[Callable], Any],
        user: dict,
        turn: dict,
        restore: list[dict] | None,
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
                    reply = self._stream_turn(ask, user, turn, restore)
            except BaseException as exc:
                with self.panel.hold_sync():
                    self.running = self.panel.busy = False
                future.set_exception(exc)
                return
            finally:
                if interrupted.is_set() and announce:
                    print(Interrupted(INTERRUPTED).line())
            for callback in list(self.callbacks):
                try:
                    callback(reply)
                except Exception:
                    traceback.print_exc(file=sys.stderr)
            future.set_result(reply)

    def _stream_turn(
        self, ask: Callable[[Callable], Any], user: dict, turn: dict, restore: list[dict] | None
    ) -> Any:
        """Stream the reply, deltas coalesced to the browser, then set the finished turn once.

        A request refused before sending left the Conversation as it was; so does the panel: a new
        message is marked unsent (nothing to retry as it is), a regenerate/edit puts back the turns
        it had replaced, the refusal shown on the last of them.
        """
        panel = self.panel
        coalescer = panel_state.Coalescer(
            lambda piece, offset: panel.send(
                {"type": "delta", "turn": turn["id"], "offset": offset, "text": piece}
            ),
            emit_reasoning=lambda piece, offset: panel.send(
                {"type": "delta", "turn": turn["id"], "offset": offset, "reasoning": piece}
            ),
        )
        began, thought = time.monotonic(), [None, False]  # [seconds until the answer, reasoned yet]

        def on_delta(delta: Any) -> None:
            thought[1] = thought[1] or bool(delta.reasoning)
            if delta.text and thought[1] and thought[0] is None:
                thought[0] = time.monotonic() - began
            coalescer.add(delta.text, delta.reasoning)

        reply, error, failure = None, None, None
        asked = len(self.chat.outcomes)  # an outcome is added only once the request was sent
        try:
            reply = ask(on_delta)
        except SenseNovaError as exc:
            failure, error = exc, exc.one_line()
        except Exception as exc:  # a bug rather than a service error: show it, print the traceback
            failure, error = exc, f"{type(exc).__name__}: {exc}"
            traceback.print_exc(file=sys.stderr)
        finally:
            coalescer.close()
        ended = self.chat.outcomes[-1] if len(self.chat.outcomes) > asked else None
        if failure is not None:
            reply = _partial_reply(failure, ended.reply if ended is not None else None)
        if ended is not None and ended.finish_reason:
            reply = dataclasses.replace(reply, finish_reason=ended.finish_reason)  # the conversation's word
        done = panel_state.finished_turn(turn, reply, error)
        if done["reasoning"]:
            seconds = thought[0] if thought[0] is not None else time.monotonic() - began
            done["thought_seconds"] = round(seconds, 1)
        replaced = {turn["id"]: done}
        turns = panel.conversation
        if failure is not None and ended is None:  # refused before sending
            if restore is None:
                replaced[user["id"]] = {**user, "sent": False}
                done["retry"] = False
            else:
                turns = panel_state.refused_turns(restore, error)
        with panel.hold_sync():
            panel.conversation = [replaced.get(t["id"], t) for t in turns]
            self.running = panel.busy = False
        self.after_turn()
        if failure is not None:
            raise failure
        return reply


def _partial_reply(exc: BaseException, last: Any) -> Any:
    """What a failed stream had delivered, so the partial text stays on screen."""
    partial = getattr(exc, "partial_text", "") or ""
    if last is not None and getattr(last, "text", "") and len(last.text) >= len(partial):
        return last
    return Reply(text=partial)
