"""What ChatPanel puts in front of the browser: coalesced deltas, turns, thumbnails, pickers.

Kept apart from the widget class so it can be read (and tested) without a kernel: these are
plain functions and one small class, none of which touches a comm.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import media, protocol
from ..client.models import merged
from ..client.reasoning import reasons
from ..conversation.turns import Turn
from ..errors import SenseNovaError

THUMBNAIL_SIDE = 256  # the longest side of any image that reaches the browser in a trait
PREVIEW_SIDE = 1024  # the panel's larger view of a staged image, sent once on request (never synced)
DELTA_INTERVAL = 0.05  # at most one delta message every 50 ms (jupyter_server drops IOPub floods)
MAX_PICKER_ITEMS = 60


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def utf16_len(text: str) -> int:
    """Length as the browser counts it (JavaScript strings are UTF-16), for delta offsets."""
    return len(text.encode("utf-16-le")) // 2


class Coalescer:
    """Collect streamed text and hand it on at most once per `interval` seconds.

    A reply of thousands of deltas becomes ~20 messages a second, whatever the server's pace:
    a background thread wakes every `interval` and emits what piled up, as `(text, offset)`,
    where `offset` is how much was emitted before (in UTF-16 units, as the browser counts).
    `close()` emits the rest, so the pieces always add up to the whole text.
    """

    def __init__(
        self,
        emit: Callable[[str, int], None],
        interval: float = DELTA_INTERVAL,
        *,
        emit_reasoning: Callable[[str, int], None] | None = None,
    ) -> None:
        self.emit = emit
        self.emit_reasoning = emit_reasoning  # reasoning travels apart, coalesced the same way
        self.interval = interval
        self._pending: list[str] = []
        self._offset = 0
        self._thought: list[str] = []
        self._thought_offset = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="snw-coalescer", daemon=True)
        self._thread.start()

    def add(self, text: str, reasoning: str = "") -> None:
        if text or reasoning:
            with self._lock:
                if text:
                    self._pending.append(text)
                if reasoning:
                    self._thought.append(reasoning)

    def _flush(self) -> None:
        with self._lock:
            text, thought = "".join(self._pending), "".join(self._thought)
            self._pending.clear()
            self._thought.clear()
            offset, thought_offset = self._offset, self._thought_offset
            self._offset += utf16_len(text)
            self._thought_offset += utf16_len(thought)
        if thought and self.emit_reasoning is not None:
            self.emit_reasoning(thought, thought_offset)  # before the text: reasoning comes first
        if text:
            self.emit(text, offset)

    def _loop(self) -> None:
        while not self._closed.wait(self.interval):
            self._flush()

    def close(self) -> None:
        self._closed.set()
        self._thread.join()
        self._flush()


def thumbnail_url(value: Any, max_side: int = THUMBNAIL_SIDE) -> str | None:
    """A data: URL of `value` at most `max_side` px on a side, or None when it cannot be shown here
    (a URL, a file id): the browser then shows a placeholder."""
    try:
        return media.data_url(media.thumbnail(value, max_side=max_side))
    except (SenseNovaError, ValueError, OSError):
        return None


def staged_kind(value: Any) -> str:
    """'video' or 'image': how the panel stages a notebook value (not a wire part's kind)."""
    return "video" if media.is_video_like(value) else "image"


def staged_item(value: Any, label: str | None = None) -> dict:
    """The browser's view of a staged value: id, kind, label and a thumbnail (never the value)."""
    return {
        "id": new_id(),
        "kind": staged_kind(value),
        "label": label or media.describe(value),
        "thumb": thumbnail_url(value),
    }


# Set on the conversation by the turn runner itself, not passed with each request.
CONVERSATION_SETTINGS = ("model", "system")


def parameter_specs(api: str = "native", max_output: int | None = None) -> dict[str, dict]:
    """The settings form's fields as the browser builds them, from `protocol.PARAMETERS`: each
    parameter with a panel field that the client's dialect `api` takes, in the table's order.
    `max_output`: the chosen model's own output limit (`protocol.output_limit`), the bound of a
    `per_model_high` field (max_new_tokens) as the client checks it on send."""
    specs: dict[str, dict] = {}
    for name, declared in protocol.PARAMETERS.items():
        spec = declared.up_to(max_output)
        shown = spec.panel
        if shown is None or not spec.knows(api):
            continue
        entry: dict[str, Any] = {"label": shown.label, "kind": shown.kind, "allowed": spec.allowed}
        if shown.kind == "number":
            entry.update(
                min=spec.low,
                max=spec.high,
                min_inclusive=spec.low_inclusive,
                max_inclusive=spec.high_inclusive,
                integer=spec.type is int,
                step=shown.step,
                default=spec.default,
            )
        else:
            entry.update(hint=shown.hint, title=spec.description, shown_if=shown.shown_if)
        specs[name] = entry
    return specs


def model_form(client: Any, model: Any, listed: Sequence[protocol.ModelInfo]) -> dict[str, dict]:
    """The settings form of a panel on `client` for `model`: max_new_tokens up to the model's own
    output limit, from the endpoint's `listed` models (never fetched here), else the documented
    table; the client checks the same limit again when the turn is sent."""
    info = merged(model, list(listed)) if isinstance(model, str) and model else None
    return parameter_specs(getattr(client, "api", "native"), protocol.output_limit(info))


def offered_models(listed: Sequence[protocol.ModelInfo], current: Any) -> list[str]:
    """The picker's models: the endpoint's, less the ones it lists as reading text only (a panel
    is for images), the configured model first when it is not among them."""
    seeing = [m.id for m in listed if m.takes_images is not False]
    return list(dict.fromkeys(([current] if current and current not in seeing else []) + seeing))


def panel_settings(params: Any) -> dict[str, Any]:
    """The `settings` trait for a panel made with `params` (a `Params`): every parameter, as plain
    JSON values (NumPy's numbers too)."""
    return {
        name: None if value is None else protocol.PARAMETERS[name].for_any_model.plain(value)
        for name, value in params.items()
    }


def request_params(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters set in the panel (unset ones are left to the service; the model and the
    system prompt are the conversation's), a field the panel hides left out (`thinking` for a
    model that does not reason). Values are checked when the turn is asked."""
    thinks = reasons(settings.get("model"))
    params = {}
    for name, spec in protocol.PARAMETERS.items():
        value = settings.get(name)
        hidden = spec.panel is not None and spec.panel.shown_if == "thinks" and not thinks
        if value is not None and name not in CONVERSATION_SETTINGS and not hidden:
            params[name] = value
    return params


def check_staged(items: list[Mapping[str, Any]]) -> None:
    """The request limits on what is staged: at most 6 images or 1 video, never both."""
    images = sum(item["kind"] == "image" for item in items)
    videos = sum(item["kind"] == "video" for item in items)
    protocol.check_media_counts(images, videos)


def pending_user_view(key: str, text: str, attachments: list[Mapping[str, Any]]) -> dict:
    """A message being asked (turn `key`), as the browser shows it until the turn is recorded."""
    items = [{"kind": a["kind"], "label": a["label"], "thumb": a.get("thumb")} for a in attachments]
    return {"id": f"{key}-u", "role": "user", "turn": None, "text": text, "attachments": items}


def streaming_view(key: str, model: str) -> dict:
    """The reply of turn `key` being streamed: its deltas go to this id (the turn's answer's, so
    the browser keeps the node), its final text comes with the turn."""
    return {
        "id": f"{key}-a",
        "role": "assistant",
        "turn": None,
        "text": "",
        "status": "streaming",
        "model": model,
        "reasoning": "",
    }


def refusal_view(model: str, error: str) -> dict:
    """Where a request refused before sending (nothing recorded) shows why."""
    return {**streaming_view(new_id(), model), "status": "error", "error": error, "retry": False}


def turn_views(turns: Sequence[Turn], start: int = 0) -> list[dict]:
    """The conversation as the browser shows it: per turn, the message, then the answer chosen
    (with how many there are, for `< 2/3 >`); ids from the turn's key, `turn` its index."""
    views: list[dict] = []
    for index, turn in enumerate(turns, start):
        attachments = []
        for i, part in enumerate(turn.media):
            medium = protocol.media_kind(part) or "image"
            thumb = turn.thumbnails[i] if i < len(turn.thumbnails) else b""
            label = turn.labels[i] if i < len(turn.labels) and turn.labels[i] else f"{medium} {i + 1}"
            attachments.append(
                {"kind": medium, "label": label, "thumb": media.data_url(thumb) if thumb else None}
            )
        views.append(
            {
                "id": f"{turn.key}-u",
                "role": "user",
                "turn": index,
                "text": turn.text,
                "attachments": attachments,
                "refused": turn.refused,
            }
        )
        answer = turn.answer
        if answer is not None:
            views.append(
                {
                    "id": f"{turn.key}-a",
                    "role": "assistant",
                    "turn": index,
                    "text": answer.text,
                    "status": answer.status,
                    "model": answer.model or "",
                    "finish_reason": answer.finish_reason,
                    "notice": answer.notice,
                    "omitted": list(answer.omitted),
                    "usage": dict(answer.usage) if answer.usage else None,
                    "reasoning": answer.reasoning,
                    "thought_seconds": answer.thought_seconds,
                    "error": answer.error,
                    "answers": len(turn.answers),
                    "chosen": turn.chosen_index,
                }
            )
    return views


def notebook_images(namespace: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The namespace's image-like and video-like values, `_`-names and modules skipped."""
    found = []
    for name, value in list(namespace.items()):
        if name.startswith("_") or callable(value) or type(value).__name__ == "module":
            continue
        try:
            if media.is_image_like(value) or media.is_video_like(value):
                found.append((name, value))
        except Exception:  # a value whose attributes raise is simply not offered
            continue
        if len(found) >= MAX_PICKER_ITEMS:
            break
    return found


def picker_entry(name: str, value: Any) -> dict:
    return {
        "name": name,
        "kind": staged_kind(value),
        "description": media.describe(value),
        "thumb": thumbnail_url(value),
    }


def plain_text(turns: Sequence[Turn]) -> str:
    """The conversation as plain text for the clipboard: who spoke, then what was said."""
    blocks = []
    for turn in turns:
        media = f" [{len(turn.media)} attachment{'s' if len(turn.media) != 1 else ''}]" if turn.media else ""
        blocks.append(f"You:{media}\n{turn.text}")
        if turn.answer is not None:
            refused = " (refused)" if turn.refused else ""
            blocks.append(f"Assistant{refused}:\n{turn.answer.text or turn.answer.error or ''}")
    return "\n\n".join(blocks) + "\n"
