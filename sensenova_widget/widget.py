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
from typing import Any

import anywidget
import traitlets

from . import interrupts, keeping, media, namespaces, panel_state, protocol
from .client import Client
from .conversation import Conversation
from .errors import Interrupted, InvalidRequestError, MediaError, SenseNovaError
from .messages import as_list
from .panel_state import panel_settings
from .params import Params
from .reasoning import reasons
from .store import ConversationStore
from .turn_runner import INTERRUPTED, TurnRunner

_STATIC = Path(__file__).parent / "static"
# The development build (benchmark and test hooks, `npm run build:dev`) only when the kernel was
# started with SENSENOVA_WIDGET_DEV=1; users get the shipped bundle, which has none.
_BUILD = ".dev" if os.environ.get("SENSENOVA_WIDGET_DEV") == "1" else ""
# The traits only the kernel writes: the page reads them, and a write from the page (a script, a
# second view, a forged comm message) is refused and answered with the kernel's value. `settings`
# is the page's own (the settings form); it is checked when a turn is sent.
KERNEL_OWNED = frozenset(
    {"conversation", "staged", "models", "models_error", "parameters", "limits", "busy", "thinks"}
)
STAGED_KINDS = ("image", "video")


class ChatPanel(keeping.KeptOutput, anywidget.AnyWidget):
    """A chat panel: `panel = ChatPanel()`, show it, type or call `panel.ask(...)`.

    `client=None` makes a `Client()` from the environment (SENSENOVA_API_KEY, or an access key
    pair); `model`, `system` and the other request parameters (`protocol.PARAMETERS`:
    temperature=, top_p=, user=, thinking=, ...) are the panel's initial settings.
    `namespace` is where the "From notebook" picker and `attach` look for variables: by default
    IPython's (Jupyter), marimo's globals, else the globals of the code that made the panel;
    `ChatPanel(namespace=globals())` says it explicitly.
    """

    _esm = _STATIC / f"widget{_BUILD}.js"
    _css = _STATIC / f"widget{_BUILD}.css"

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
        given = Params.of(model=model, system=system, **params)  # every parameter, checked now
        self._client = client if client is not None else Client()
        given.check_dialect(getattr(self._client, "api", "native"))
        opened, name = keeping.panel_store(store, name)
        # the settings trait is the one source of each turn's parameters (`TurnRunner.params`)
        self._conversation = Conversation(self._client, model=model, system=system, name=name, store=opened)
        model_id = self._client.resolve_model(model)
        super().__init__(
            settings=panel_settings(replace(given, model=model_id)),
            thinks=reasons(model_id),
            models=[model_id],
            parameters=panel_state.parameter_specs(getattr(self._client, "api", "native")),
            limits={"max_images": protocol.MAX_IMAGES, "max_videos": protocol.MAX_VIDEOS},
            conversation=[panel_state.saved_turn(turn) for turn in self._conversation.turns],
            conversation_name=self._conversation.name or "",
        )
        self._staged_values: dict[str, Any] = {}  # staged id -> the full-resolution value
        self._namespace = namespaces.namespace_finder(namespace, sys._getframe(1).f_globals)
        # made here, so turns started in the browser print (callbacks, tracebacks) into this cell
        self._turns = TurnRunner(
            self, self._conversation, take_staged=self._take_staged, after_turn=self._refresh_transcript
        )
        self.on_msg(self._on_browser_message)
        interrupts.install()  # a kernel interrupt stops a reply streaming in the panel's thread
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
    def outcomes(self) -> list[Any]:
        """How each reply ended, the last one last (`conversation.Outcome`: its finish reason, a stop,
        or the error)."""
        return list(self._conversation.outcomes)

    def attach(self, value: Any, *, label: str | None = None) -> str:
        """Stage a notebook value (image, figure, array, frames, video) for the next turn; returns its id.

        Without `label`, a value bound to a variable (in the caller's code or the notebook) is
        labelled with that name, as the picker labels what it attaches.
        """
        if label is None:
            label = self._name_of(value, sys._getframe(1))
        return self._stage(value, label)

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

    def _stage(self, value: Any, label: str | None) -> str:
        self._check_attachable(value)
        item = panel_state.staged_item(value, label)
        self._staged_values[item["id"]] = value
        self.staged = [*self.staged, item]
        return item["id"]

    def _take_staged(self, text: str) -> tuple[dict, list, list]:
        """The user's turn from `text` and what is staged: (turn for the browser, images, videos)."""
        staged = self._checked_staged()
        panel_state.check_staged(staged)
        if not text.strip() and not staged:
            raise InvalidRequestError("Nothing to send: type a message or attach an image.", field="text")
        values = [self._staged_values.pop(item["id"]) for item in staged]
        images = [v for v, item in zip(values, staged) if item["kind"] == "image"]
        videos = [v for v, item in zip(values, staged) if item["kind"] == "video"]
        return panel_state.user_turn(text, staged), images, videos

    def _checked_staged(self) -> list[dict]:
        """The staged list, each item one this kernel staged (a known id and kind); otherwise the
        list is repaired (unknown items dropped) and the send refused, naming them."""
        staged = list(self.staged)
        known = [
            item
            for item in staged
            if isinstance(item, dict)
            and isinstance(item.get("id"), str)
            and item["id"] in self._staged_values
            and item.get("kind") in STAGED_KINDS
        ]
        if len(known) != len(staged):
            unknown = [
                item.get("id") if isinstance(item, dict) else item for item in staged if item not in known
            ]
            self.staged = known
            raise InvalidRequestError(
                f"staged item(s) {', '.join(repr(i)[:40] for i in unknown)} were not staged by this kernel: "
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

    def regenerate(self, *, wait: bool = True) -> Any:
        """Ask for the last reply again."""
        future = self._turns.start("regenerate")
        return future.result() if wait else future

    def edit_last(self, text: str, *, wait: bool = True) -> Any:
        """Replace the last user message with `text` and ask again (as `Conversation.edit_last`)."""
        future = self._turns.start("edit", text=text)
        return future.result() if wait else future

    def clear(self) -> None:
        """Forget the conversation (and stop a reply in progress); staged attachments stay."""
        self.stop()
        self._turns.wait(timeout=5)
        self._conversation.clear()
        self.conversation = []
        self._refresh_transcript()

    def on_reply(self, callback: Callable[[Any], None]) -> None:
        """Call `callback(reply)` in the kernel after every reply (stopped ones included)."""
        self._turns.callbacks.append(callback)

    @traitlets.observe("settings")
    def _model_changed(self, change: Any) -> None:
        self.thinks = reasons((change["new"] or {}).get("model"))

    def _load_models(self) -> None:
        """Offer the service's model list (the configured model stays first if it is not listed);
        a model its endpoint lists as reading text only is not offered: a panel is for images."""
        try:
            listed = [m.id for m in self._client.model_list() if m.takes_images is not False]
            current = self.settings.get("model")
            self.models = list(
                dict.fromkeys(([current] if current and current not in listed else []) + listed)
            )
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
            if params is not None and not isinstance(params, dict):
                raise InvalidRequestError(f"the {method} request's params must be an object", field="params")
            result = handler(self, params or {}, buffers or [])
            answer = {"type": "response", "id": content.get("id"), "ok": True, "result": result}
        except Exception as exc:
            message = exc.one_line() if isinstance(exc, SenseNovaError) else f"{type(exc).__name__}: {exc}"
            answer = {"type": "response", "id": content.get("id"), "ok": False, "error": message}
        self.send(answer)

    def _request_turn(self, params: dict, _buffers: list, *, action: str) -> dict:
        """send / regenerate / edit from the browser (regenerate has no text)."""
        self._turns.start(action, text=params.get("text", ""), from_browser=True)
        return {"started": True}

    def _request_stop(self, _params: dict, _buffers: list) -> dict:
        self.stop()
        return {"stopped": True}

    def _request_clear(self, _params: dict, _buffers: list) -> dict:
        self.clear()
        return {"cleared": True}

    def _request_unstage(self, params: dict, _buffers: list) -> dict:
        item_id = params.get("id")
        self._staged_values.pop(item_id, None)
        self.staged = [item for item in self.staged if item["id"] != item_id]
        return {"removed": item_id}

    def _request_preview(self, params: dict, _buffers: list) -> dict:
        """A larger view of a staged image for the panel's lightbox (a JPEG/PNG data: URL of at most
        PREVIEW_SIDE px, sent once and never kept in a trait), or null when it has none."""
        value = self._staged_values.get(params.get("id"))
        if value is None:
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
        ids = [self._stage(namespace[name], name) for name in names]
        return {"ids": ids} if many else {"id": ids[0]}

    def _request_attach_file(self, params: dict, buffers: list) -> dict:
        if not buffers:
            raise InvalidRequestError("attach_file needs the file's bytes as a buffer.", field="buffers")
        data = bytes(buffers[0])
        name = str(params.get("name") or "file")
        if params.get("kind", "image") not in STAGED_KINDS:
            raise InvalidRequestError(
                f"attach_file kind {str(params.get('kind'))[:20]!r} is not allowed: expected image or video.",
                field="kind",
            )
        if params.get("kind") == "video":
            file_id = self._client.upload(data, scheme="MULTIMODAL_2", filename=name)
            self._client.wait_for_file(file_id)
            return {"id": self.attach(media.file_id(file_id, kind="video"), label=name)}
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                value = opened.copy()
        except (UnidentifiedImageError, OSError) as exc:
            raise MediaError(
                f"{name} is not an image this kernel can read (PNG, JPEG, GIF, WebP, ...): {exc}"
            ) from None
        return {"id": self.attach(value, label=f"{name} ({value.width}x{value.height})")}

    def _request_attach_video_url(self, params: dict, _buffers: list) -> dict:
        url = params.get("url", "")
        url = url.strip() if isinstance(url, str) else ""
        if not url.lower().startswith(("http://", "https://")):
            raise InvalidRequestError(
                f"video URL {url[:60]!r} is not allowed: expected an http(s) URL.", field="url"
            )
        return {"id": self.attach({"type": "video_url", "video_url": url}, label=url)}

    _HANDLERS: dict[str, Callable[..., dict]] = {
        "send": functools.partial(_request_turn, action="send"),
        "regenerate": functools.partial(_request_turn, action="regenerate"),
        "edit": functools.partial(_request_turn, action="edit"),
        "stop": _request_stop,
        "clear": _request_clear,
        "unstage": _request_unstage,
        "export": keeping.export_request,
        "preview": _request_preview,
        "list_variables": _request_list_variables,
        "attach_variable": _request_attach_variable,
        "attach_file": _request_attach_file,
        "attach_video_url": _request_attach_video_url,
    }
