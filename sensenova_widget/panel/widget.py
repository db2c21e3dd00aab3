"""`ChatPanel`: SenseNova's chat as an anywidget in the notebook.

The kernel side holds the `Conversation` (and so the client, its credentials and the
full-resolution media); the browser gets only text, settings and thumbnails of at most 256 px.
A reply streams in a kernel thread, so the kernel stays usable, and reaches the browser as
custom messages coalesced to one every 50 ms; its final text is then set once on the synced
`conversation` trait (the panel's `turn_runner.TurnRunner`). Browser requests (send, stop,
attach, ...) arrive as custom messages with an id and are answered in kind, file bytes as
binary buffers (the quak / lonboard pattern).
`ChatPanel.ask` is the turn from code; `send` is ipywidgets' own `Widget.send(content, buffers)`,
the custom message every widget has, not overridden here.
Every turn is saved under the panel's name; its static transcript, export and dock: `keeping`.
"""

from __future__ import annotations

import functools
import io
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import anywidget
import traitlets

from .. import media, protocol
from ..client.client import Client
from ..client.messages import as_list
from ..client.reasoning import reasons
from ..conversation.conversation import Conversation
from ..conversation.store import ConversationList, ConversationStore
from ..conversation.turns import Turn, with_context
from ..errors import Interrupted, InvalidRequestError, MediaError, SenseNovaError, UsageError
from ..media.sources import open_bytes
from ..params import Params
from . import chat_list, interrupts, keeping, namespaces, notebook_context, panel_state, staging
from .panel_state import panel_settings
from .turn_runner import INTERRUPTED, TurnRunner, TurnSurface

_STATIC = Path(__file__).parent.parent / "static"
# The traits only the kernel writes: the page reads them, and a write from the page (a script, a
# second view, a forged comm message) is refused and answered with the kernel's value. `settings`
# is the page's own (the settings form); it is checked when a turn is sent. The conversation's
# name decides what is saved and overwritten: the kernel's alone (`ChatPanel(name=...)`).
KERNEL_OWNED = frozenset(
    {
        "conversation",
        "staged",
        "models",
        "models_error",
        "parameters",
        "limits",
        "busy",
        "thinks",
        "conversation_name",
        "superseded",
    }
)


def _kind_of(value: Any) -> str:
    return "video" if media.is_video_like(value) else "image"


def _arrived_image(data: bytes, name: str, max_side: int) -> tuple[Any, tuple[int, int]]:
    """(a page file as a PIL image at most `max_side` on a side, its own size): decoded once by the
    media layer (a decompression bomb refused, a JPEG decoded at a reduced size), the size read
    from the header, and the full-resolution pixels not kept."""
    from PIL import Image

    value = open_bytes(data, name, max_side)
    with Image.open(io.BytesIO(data)) as header:
        size = header.size
    value.thumbnail((max_side, max_side))
    return value, size


def development_build() -> tuple[str, str]:
    """The development build's script and stylesheet, read now (so `npm run dev`'s rebuild shows
    in the next panel made); a clear error where it was not built, as in an installed wheel."""
    try:
        script = (_STATIC / "widget.dev.js").read_text(encoding="utf-8")
        return script, (_STATIC / "widget.dev.css").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RuntimeError(
            "ChatPanel.development_bundle is set but static/widget.dev.js is missing: it exists only "
            "in a checkout, built by `cd js && npm run build` (the wheel ships without it)."
        ) from None


class ChatPanel(anywidget.AnyWidget):
    """A chat panel: `panel = ChatPanel()`, show it, type or call `panel.ask(...)`.

    `client=None` makes a `Client()` from the environment (SENSENOVA_API_KEY, or an access key
    pair); `model`, `system` and the other request parameters (`protocol.PARAMETERS`:
    temperature=, top_p=, user=, thinking=, ...) are the panel's initial settings.
    `namespace` is where the "From notebook" picker and `attach` look for variables: by default
    IPython's (Jupyter), marimo's globals, else the globals of the code that made the panel;
    `ChatPanel(namespace=globals())` says it explicitly.
    """

    _esm = _STATIC / "widget.js"
    _css = _STATIC / "widget.css"
    # True: panels made from then on load the development build instead (static/widget.dev.js,
    # with the hooks the browser tests and benchmarks read). An explicit opt-in, decided when a
    # panel is made; the build exists in a checkout (`npm run build`), never in the wheel.
    development_bundle: ClassVar[bool] = False

    conversation = traitlets.List(traitlets.Dict()).tag(sync=True)
    staged = traitlets.List(traitlets.Dict()).tag(sync=True)
    settings = traitlets.Dict().tag(sync=True)
    models = traitlets.List(traitlets.Unicode()).tag(sync=True)
    models_error = traitlets.Unicode("").tag(sync=True)  # why the model list did not load, shown
    parameters = traitlets.Dict().tag(sync=True)
    limits = traitlets.Dict().tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    thinks = traitlets.Bool(False).tag(sync=True)  # the chosen model reasons: Settings shows its toggle
    conversation_name = traitlets.Unicode("").tag(sync=True)  # shown in the header; "" = not saved
    # a newer panel shows this panel's conversation: this one refuses requests, its view greys out
    superseded = traitlets.Bool(False).tag(sync=True)

    def __init__(
        self,
        client: Any = None,
        model: str | None = None,
        system: str | None = None,
        *,
        name: str | None = None,
        store: str | os.PathLike[str] | ConversationStore | None = None,
        namespace: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> None:
        if self.development_bundle:  # read by AnyWidget.__init__ below, for this panel only
            self._esm, self._css = development_build()
        given = Params.of(model=model, system=system, **params)  # every parameter, checked now
        self._client = client if client is not None else Client()
        given.check_dialect(getattr(self._client, "api", "native"))
        opened, name = keeping.panel_store(store, name)
        # the settings trait is the one source of each turn's parameters (`TurnRunner.params`)
        self._conversation = Conversation(self._client, model=model, system=system, name=name, store=opened)
        model_id = self._client.resolve_model(model)
        self._listed: list[protocol.ModelInfo] = []  # the endpoint's models, once _load_models read them
        super().__init__(
            settings=panel_settings(replace(given, model=model_id)),
            thinks=reasons(model_id),
            models=[model_id],
            parameters=panel_state.model_form(self._client, model_id, self._listed),
            limits={"max_images": protocol.MAX_IMAGES, "max_videos": protocol.MAX_VIDEOS},
            conversation=panel_state.turn_views(self._conversation.turns),
            conversation_name=self._conversation.name or "",
        )
        self._view_host = ""  # where the last view said it is shown (keeping.VIEW_HOSTS)
        self._staging = staging.Staging()  # what each staged chip stands for
        self._namespace = namespaces.namespace_finder(namespace, sys._getframe(1).f_globals)
        self._transcript = keeping.Transcript(self._conversation)  # the static copy under the live view
        # made here, so turns started in the browser print (callbacks, tracebacks) into this cell
        self._turns = TurnRunner(
            self._conversation,
            TurnSurface(
                settings=lambda: self.settings,
                show=self._show_turns,
                piece=self.send,
                take_staged=self._take_staged,
                after_turn=self._transcript.refresh,
            ),
        )
        self.on_msg(self._on_browser_message)
        interrupts.install()  # a kernel interrupt stops a reply streaming in the panel's thread
        chat_list.claim(self)
        self.models_loaded = threading.Event()  # set once the model list was asked for (failed or not)
        threading.Thread(target=self._load_models, name="snw-models", daemon=True).start()

    # ------------------------------------------------------------------ public API
    @property
    def client(self) -> Any:
        return self._client

    @property
    def messages(self) -> list[dict]:
        """The conversation as wire-shaped dicts, system first when set."""
        return self._conversation.messages

    @property
    def name(self) -> str | None:
        """The name this panel's conversation is saved under (None when it could not be saved)."""
        return self._conversation.name

    @property
    def namespace(self) -> Mapping[str, Any]:
        """The variables the picker and the Context menu read (see `namespace=`)."""
        return self._namespace()

    @property
    def store(self) -> ConversationStore | None:
        """Where this panel saves (None when its store could not be opened); `conversations()` lists it."""
        return self._conversation.store

    @property
    def turns(self) -> list[Turn]:
        """Every turn (`turns.Turn`: the message, its media, its answers), as the store keeps it."""
        return self._conversation.turns

    def export(self, path_or_format: str | os.PathLike[str], **options: Any) -> Any:
        """Write the conversation to `trip.md`, `trip.html` or `trip.ipynb` (see `export.export`);
        given just "md", "html" or "ipynb", return the text instead."""
        return self._conversation.export(path_or_format, **options)

    def dock(self, *, title: str | None = None, anchor: str = "split-right") -> Any:
        """Open this same live panel in JupyterLab's side area (jupyterlab-sidecar); returns the Sidecar."""
        return keeping.dock(self._view_bundle(), self.name, label=title, anchor=anchor, host=self._view_host)

    def transcript_html(self) -> str:
        """The conversation as static, sanitized HTML (what a notebook without its kernel shows)."""
        return self._transcript.bundle()["text/html"]

    def _ipython_display_(self) -> None:
        """The live panel, then its static transcript (a second output: see `keeping`)."""
        from IPython.display import display

        display(self._view_bundle(), raw=True)
        self._transcript.show()

    def _view_bundle(self) -> dict:
        """The live view's mime bundle (anywidget returns it with its metadata), without its
        text/plain repr: where the view cannot render (nbconvert, GitHub) the transcript speaks."""
        bundle = self._repr_mimebundle_()
        return {
            k: v for k, v in (bundle[0] if isinstance(bundle, tuple) else bundle).items() if k != "text/plain"
        }

    def attach(self, value: Any, *, label: str | None = None) -> str:
        """Stage a notebook value (image, figure, array, frames, video) for the next turn; returns its id.

        Without `label`, a value bound to a variable (in the caller's code or the notebook) is
        labelled with that name, as the picker labels what it attaches.
        """
        if label is None:
            label = self._name_of(value, sys._getframe(1))
        return self._stage(value, label)

    def attach_context(self, text: str, *, label: str) -> str:
        """Stage notebook context (a traceback, a variable's summary) for the next turn; returns its
        id. The panel shows a chip named `label` that opens to `text` exactly as it is sent (cut to
        `notebook_context.MAX_CHARS`) and can be removed; at Send it follows the message's text as a
        fenced block headed by its label (`turns.with_context`)."""
        item = notebook_context.staged_item(text, label)
        self._staging.check_room(self.staged, "context")
        return self._put(item, (item["label"], item["text"]))

    def _name_of(self, value: Any, frame: Any) -> str | None:
        """The variable name the caller (its locals, then its globals) or the notebook gives `value`."""
        return namespaces.variable_name(value, frame.f_locals, frame.f_globals, self._namespace())

    @staticmethod
    def _check_attachable(value: Any) -> None:
        if not (media.is_image_like(value) or media.is_video_like(value)):
            raise MediaError(
                f"{media.describe(value)} cannot be attached: expected an image (PIL image, array, "
                "figure, image bytes) or a video (frames, video(...), a video file id)."
            )

    def _stage(self, value: Any, label: str | None, *, arrived: int = 0) -> str:
        self._check_attachable(value)
        self._staging.check_room(self.staged, _kind_of(value))
        return self._put(panel_state.staged_item(value, label), value, arrived)

    def _put(self, item: dict, value: Any, arrived: int = 0) -> str:
        """Stage `item` (the browser's view) for `value` (what is sent); its id."""
        self._staging.keep(item, value, arrived)
        self.staged = [*self.staged, item]
        return item["id"]

    def _show_turns(self, views: list[dict], busy: bool) -> None:
        """What the turn runner shows: the turns and whether a reply streams, in one state message."""
        with self.hold_sync():
            self.conversation = views
            self.busy = busy

    def _take_staged(self, text: str) -> tuple[str, list[dict], list, list]:
        """What is staged for a message of `text`: (the text as sent, the staged context after it;
        the media items for the browser, images, videos)."""
        staged = self._checked_staged()
        panel_state.check_staged(staged)
        if not text.strip() and not staged:
            raise InvalidRequestError("Nothing to send: type a message or attach an image.", field="text")
        taken = self._staging.take(staged)
        self.staged = []
        shown = [item for item in staged if item["kind"] != "context"]
        sent = with_context(text, taken["context"]) if taken["context"] else text
        return sent, shown, taken["image"], taken["video"]

    def _checked_staged(self) -> list[dict]:
        """The staged list, each item one this kernel staged (a known id and kind); otherwise the
        list is repaired (unknown items dropped) and the send refused, naming them."""
        staged = list(self.staged)
        unknown = self._staging.unknown(staged)
        if unknown:
            self.staged = [item for item in staged if item not in unknown]
            names = [item.get("id") if isinstance(item, dict) else item for item in unknown]
            raise InvalidRequestError(
                f"staged item(s) {', '.join(repr(i)[:40] for i in names)} were not staged by this kernel: "
                "they were removed; send again.",
                field="staged",
            )
        return staged

    def ask(self, text: str, *, images: Any = None, video: Any = None, wait: bool = True) -> Any:
        """Ask a turn (with what is staged, plus `images` / `video`); it streams into the panel.

        Returns the `Reply` (or, with `wait=False`, a `concurrent.futures.Future` of it). A
        failure raises here, after the partial text was kept in the panel.
        """
        self._turns.check_idle()
        caller = sys._getframe(1)
        for value in as_list(images):
            marked = media.image(value) if not media.is_image_like(value) else value
            self._stage(marked, self._name_of(value, caller))
        if video is not None:
            marked = video if media.is_video_like(video) else media.video(video)
            self._stage(marked, self._name_of(video, caller))
        future = self._turns.start("send", text=text, waited=wait)
        if not wait:
            return future
        try:
            return future.result()
        except KeyboardInterrupt:  # the kernel's interrupt reached this cell: stop, keep the text
            self.stop()
            self._turns.wait(timeout=30)
            raise Interrupted(INTERRUPTED) from None

    def stop(self) -> None:
        """Stop the reply now streaming: the HTTP stream is closed at once, its partial text stays
        (a stop while the request is still being sent closes the stream as soon as it opens)."""
        self._conversation.stop()

    def regenerate(self, *, turn: int = -1, wait: bool = True) -> Any:
        """Ask turn `turn` (the last by default) again; its earlier answers stay as alternatives."""
        future = self._turns.start("regenerate", turn=turn)
        return future.result() if wait else future

    def edit(self, text: str, *, turn: int = -1, wait: bool = True) -> Any:
        """Replace turn `turn`'s message (the last by default) with `text` and ask again: the
        conversation forks there (the turns after it go)."""
        future = self._turns.start("edit", text=text, turn=turn)
        return future.result() if wait else future

    def choose(self, turn: int, answer: int) -> None:
        """Show answer `answer` (from 0) of turn `turn` and continue the conversation from it."""
        self._turns.check_idle()
        self._conversation.choose(turn, answer)
        self.conversation = panel_state.turn_views(self._conversation.turns)
        self._transcript.refresh()

    def clear(self) -> None:
        """Forget the conversation (and stop a reply in progress); staged attachments stay."""
        self.stop()
        self._turns.wait(timeout=5)
        self._conversation.clear()
        self.conversation = []
        self._transcript.refresh()

    def conversations(self, search: str | None = None) -> ConversationList:
        """The conversations saved where this panel saves (its store), most recent first;
        `search=` keeps those whose name or text contains it."""
        return chat_list.store_of(self).list(search=search)

    def open_conversation(self, name: str | None = None) -> None:
        """Show saved conversation `name` in this panel and continue it from there; `None` starts a
        new one (a fresh generated name). The one shown until now stays saved."""
        self._turns.check_idle()
        chat = chat_list.opened(self, name)
        self._conversation = self._turns.chat = self._transcript.conversation = chat
        with self.hold_sync():
            self.conversation = panel_state.turn_views(chat.turns)
            self.conversation_name = chat.name or ""
        chat_list.claim(self)
        self._transcript.refresh()

    def on_reply(self, callback: Callable[[Any], None]) -> None:
        """Call `callback(reply)` in the kernel after every reply (stopped ones included)."""
        self._turns.on_reply(callback)

    @traitlets.observe("settings")
    def _model_changed(self, change: Any) -> None:
        model = (change["new"] or {}).get("model")
        self.thinks = reasons(model)
        self.parameters = panel_state.model_form(self._client, model, self._listed)  # unchanged: not sent

    def _load_models(self) -> None:
        """Offer the endpoint's models (`panel_state.offered_models`) and read their limits, once."""
        try:
            self._listed = self._client.model_list()
            current = self.settings.get("model")
            self.parameters = panel_state.model_form(self._client, current, self._listed)
            self.models = panel_state.offered_models(self._listed, current)
        except Exception as exc:  # the configured model is still usable; the list is a convenience
            why = exc.one_line() if isinstance(exc, SenseNovaError) else type(exc).__name__
            self.models_error = f"The model list did not load ({why}); the configured model still works."
        finally:
            self.models_loaded.set()

    # ------------------------------------------------------------------ browser requests
    def set_state(self, sync_data: dict) -> None:
        """A state update from the page: only `settings` is the page's to write. A write to a
        kernel-owned trait (`KERNEL_OWNED`) is dropped and the kernel's value sent back, so the page
        (a script, a second view) cannot clear `busy`, rewrite the conversation or forge `staged`."""
        refused = [name for name in sync_data if name in KERNEL_OWNED]
        allowed = {name: value for name, value in sync_data.items() if name not in KERNEL_OWNED}
        if allowed:
            super().set_state(allowed)
        if refused:
            self.send_state(refused)

    def _on_browser_message(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        if not isinstance(content, dict) or content.get("type") != "request":
            return
        method, params = content.get("method"), content.get("params")
        try:
            handler = self._HANDLERS.get(method) if isinstance(method, str) else None
            if handler is None:
                raise InvalidRequestError(f"unknown request {str(method)[:40]!r}", field="method")
            if self.superseded and method != "export":
                raise UsageError(chat_list.SUPERSEDED)
            if params is not None and not isinstance(params, dict):
                raise InvalidRequestError(f"the {method} request's params must be an object", field="params")
            result = handler(self, params or {}, buffers or [])
            answer = {"type": "response", "id": content.get("id"), "ok": True, "result": result}
        except Exception as exc:
            message = exc.one_line() if isinstance(exc, SenseNovaError) else f"{type(exc).__name__}: {exc}"
            answer = {"type": "response", "id": content.get("id"), "ok": False, "error": message}
        self.send(answer)

    def _request_turn(self, params: dict, _buffers: list, *, action: str) -> dict:
        """send / regenerate / edit from the browser (regenerate has no text; `turn`: which one)."""
        self._turns.start(action, text=params.get("text", ""), turn=params.get("turn", -1), from_browser=True)
        return {"started": True}

    def _request_choose(self, params: dict, _buffers: list) -> dict:
        """`< 2/3 >` on a reply: show another of its turn's answers."""
        turn, answer = params.get("turn"), params.get("answer")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (turn, answer)):
            raise InvalidRequestError("choose takes a turn and an answer index (integers).", field="answer")
        try:
            self.choose(turn, answer)
        except IndexError as exc:
            raise InvalidRequestError(f"choose: {exc}", field="answer") from None
        return {"chosen": answer}

    def _request_stop(self, _params: dict, _buffers: list) -> dict:
        self.stop()
        return {"stopped": True}

    def _request_clear(self, _params: dict, _buffers: list) -> dict:
        self.clear()
        return {"cleared": True}

    def _request_unstage(self, params: dict, _buffers: list) -> dict:
        item_id = params.get("id")
        self._staging.forget(item_id)
        self.staged = [item for item in self.staged if item["id"] != item_id]
        return {"removed": item_id}

    def _request_preview(self, params: dict, _buffers: list) -> dict:
        """A larger view of a staged image for the panel's lightbox (a JPEG/PNG data: URL of at most
        PREVIEW_SIDE px, sent once and never kept in a trait), or null when it has none."""
        value = self._staging.values.get(params.get("id"))
        if value is None or isinstance(value, tuple):  # a context chip has no picture
            return {"src": None}
        return {"src": panel_state.thumbnail_url(value, max_side=panel_state.PREVIEW_SIDE)}

    def _request_list_variables(self, _params: dict, _buffers: list) -> dict:
        return {
            "items": [
                panel_state.picker_entry(name, value)
                for name, value in panel_state.notebook_images(self._namespace())
            ]
        }

    def _request_attach_variable(self, params: dict, _buffers: list) -> dict:
        """`{"name": "photo"}` stages one variable (answer `{"id"}`); `{"names": [...]}` stages
        several at once (answer `{"ids"}` in that order), all or none: a missing name stages nothing."""
        many = "names" in params
        names = params.get("names") if many else [params.get("name", "")]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise InvalidRequestError(
                "attach_variable takes a variable name (a string) or a non-empty list of them.", field="names"
            )
        namespace = self._namespace()
        missing = [name for name in names if name not in namespace]
        if missing:
            listed = ", ".join(repr(name) for name in missing[:6])
            raise InvalidRequestError(
                f"the notebook has no variable {listed} any more: reopen the list.", field="name"
            )
        for name in names:
            self._check_attachable(namespace[name])
        self._staging.check_room(self.staged, *(_kind_of(namespace[name]) for name in names))  # all or none
        ids = [self._stage(namespace[name], name) for name in names]
        return {"ids": ids} if many else {"id": ids[0]}

    def _request_attach_file(self, params: dict, buffers: list) -> dict:
        """A file the page sends: refused before decoding when it would not fit the next request
        (`staging.Staging.check_room`); an image is decoded once, guarded against decompression
        bombs, and kept downscaled to the client's `max_side` (the full-size bytes are not kept)."""
        if not buffers:
            raise InvalidRequestError("attach_file needs the file's bytes as a buffer.", field="buffers")
        name = str(params.get("name") or "file")[:200]
        kind = params.get("kind", "image")
        if kind not in ("image", "video"):
            raise InvalidRequestError(
                f"attach_file kind {str(kind)[:20]!r} is not allowed: expected image or video.",
                field="kind",
            )
        size = sum(memoryview(buffer).nbytes for buffer in buffers[:1])
        self._staging.check_room(self.staged, kind, arriving=size)
        data = bytes(buffers[0])
        if kind == "video":
            file_id = self._client.upload(data, scheme="MULTIMODAL_2", filename=name)
            self._client.wait_for_file(file_id)
            return {"id": self._stage(media.file_id(file_id, kind="video"), name, arrived=size)}
        value, (width, height) = _arrived_image(data, name, self._client.media.max_side)
        return {"id": self._stage(value, f"{name} ({width}x{height})", arrived=size)}

    def _request_attach_video_url(self, params: dict, _buffers: list) -> dict:
        url = params.get("url", "")
        url = url.strip() if isinstance(url, str) else ""
        if not url.lower().startswith(("http://", "https://")):
            raise InvalidRequestError(
                f"video URL {url[:60]!r} is not allowed: expected an http(s) URL.", field="url"
            )
        return {"id": self.attach({"type": "video_url", "video_url": url}, label=url)}

    def _request_view_host(self, params: dict, _buffers: list) -> dict:
        """The view says where it is shown (JupyterLab, Notebook 7, marimo, other): dock() asks."""
        host = params.get("host")
        if host not in keeping.VIEW_HOSTS:
            raise InvalidRequestError(
                f"view_host: expected one of {', '.join(keeping.VIEW_HOSTS)}.", field="host"
            )
        self._view_host = host
        return {"host": host}

    _HANDLERS: dict[str, Callable[..., dict]] = {
        "send": functools.partial(_request_turn, action="send"),
        "regenerate": functools.partial(_request_turn, action="regenerate"),
        "edit": functools.partial(_request_turn, action="edit"),
        "choose": _request_choose,
        "stop": _request_stop,
        "clear": _request_clear,
        "unstage": _request_unstage,
        "export": keeping.export_request,
        "preview": _request_preview,
        "list_variables": _request_list_variables,
        "attach_variable": _request_attach_variable,
        "attach_file": _request_attach_file,
        "attach_video_url": _request_attach_video_url,
        "view_host": _request_view_host,
        **chat_list.HANDLERS,
        **notebook_context.HANDLERS,
    }
