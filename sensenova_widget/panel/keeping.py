"""What keeps a panel's conversation beyond its live view: the static transcript output, the
browser's Export menu, and docking the panel beside the notebook.

Nothing is lost by default: a panel saves every turn in the conversation store under its name
(`name=`, or a generated one shown in its header), and the same cell run again in a new kernel
brings the conversation back. Displaying a panel also shows a static transcript (a second
output, sanitized HTML, updated as turns complete; the panel's stylesheet hides it while the
panel is live) so GitHub, nbviewer, nbconvert and a notebook without its kernel show the
conversation. The two outputs are separate because updating a display that holds a widget view
makes JupyterLab's widget renderer (jupyterlab-manager's renderModel) add a second view.
"""

from __future__ import annotations

import sys
import traceback
import uuid
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from ..conversation import transcript
from ..conversation.conversation import Conversation
from ..conversation.store import ConversationStore, StoreError, open_store
from ..conversation.turns import Turn
from ..errors import InvalidRequestError, UsageError
from . import panel_state

__all__ = [
    "RERUN_NOTE",
    "NO_SIDECAR",
    "NO_SIDE_AREA",
    "VIEW_HOSTS",
    "Transcript",
    "dock",
    "export_for_browser",
    "export_request",
    "panel_store",
    "transcript_bundle",
]

RERUN_NOTE = "Run the cell again to continue this conversation."
NO_SIDECAR = (
    "panel.dock() needs jupyterlab-sidecar: pip install 'sensenova-widget[dock]' and reload JupyterLab. "
    "Without it, right-click the panel and choose 'Create New View for Cell Output' to keep it in view."
)
NO_SIDE_AREA = (
    "panel.dock() needs JupyterLab's side area, which Notebook 7 does not have: open this notebook "
    "in JupyterLab (View > Open JupyterLab) to dock the panel, or keep its cell in view here."
)
VIEW_HOSTS = ("lab", "notebook", "marimo", "other")  # where a panel's view says it is shown
_EXPORT_MIME = {
    "md": "text/markdown",
    "html": "text/html",
    "ipynb": "application/x-ipynb+json",
    "text": "text/plain",
}


def panel_store(store: Any, name: str | None) -> tuple[ConversationStore | None, str | None]:
    """A panel's store and name: a panel always saves (a generated name when none was given);
    a store that cannot be opened warns, and the panel works unsaved (None, None)."""
    try:
        opened = open_store(store)
    except StoreError as exc:
        warnings.warn(f"{exc} This panel's conversation will not be saved.", RuntimeWarning, stacklevel=4)
        return None, None
    return opened, name if name is not None else opened.new_name()


def title(name: str | None) -> str:
    return f"SenseNova \u00b7 {name or 'chat'}"


def transcript_bundle(name: str | None, turns: Sequence[Turn]) -> dict:
    """The transcript output: sanitized HTML with thumbnails, and a one-line text/plain twin."""
    count = len(turns)
    html = transcript.transcript_html(turns, title=title(name), note=RERUN_NOTE if name else None)
    summary = f"{title(name)} ({count} turn{'s' if count != 1 else ''}). {RERUN_NOTE if name else ''}"
    return {"text/html": html, "text/plain": summary.strip()}


def export_for_browser(name: str | None, turns: Sequence[Turn], kind: str) -> dict:
    """The Export menu's answer: the text, a file name and its type; the browser saves it as a Blob."""
    if kind not in _EXPORT_MIME:
        raise InvalidRequestError(
            f"cannot export as {kind!r}: expected md, html, ipynb or text.", field="format"
        )
    if kind == "text":
        text = panel_state.plain_text(list(turns))
        kind = "txt"
    else:
        from ..conversation.export import export

        text = export(turns, kind, title=name)
    mime = _EXPORT_MIME.get(kind, "text/plain")
    return {"text": text, "filename": f"{name or 'conversation'}.{kind}", "mime": mime}


def export_request(panel: Any, params: Mapping[str, Any], _buffers: list) -> dict:
    """The panel's handler of the browser's `export` request (its Export menu)."""
    return export_for_browser(panel.name, panel.turns, str(params.get("format", "md")))


def dock(
    view_bundle: Mapping[str, Any], name: str | None, *, label: str | None, anchor: str, host: str = ""
) -> Any:
    """Show `view_bundle` (the panel's live view) in JupyterLab's side area; returns the Sidecar.
    `host` is where the panel's view said it is shown ("notebook": Notebook 7, which has no side
    area: refused with what to do instead of a widget that cannot show)."""
    if host == "notebook":
        raise UsageError(NO_SIDE_AREA)
    try:
        from sidecar import Sidecar
    except ImportError:
        raise ImportError(NO_SIDECAR) from None
    from IPython.display import display

    side = Sidecar(title=label or title(name), anchor=anchor)
    with side:
        display(dict(view_bundle), raw=True)  # the live view only: the transcript stays in the cell
    return side


class Transcript:
    """A panel's static transcript output: shown under the live view (one display id per panel)
    and refreshed after each turn, from the conversation's public `name` and `turns`."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.display_id = f"snw-transcript-{uuid.uuid4().hex}"
        self.shown = False

    def bundle(self) -> dict:
        return transcript_bundle(self.conversation.name, self.conversation.turns)

    def show(self) -> None:
        """Display the transcript (after the live view)."""
        from IPython.display import display

        display(self.bundle(), raw=True, display_id=self.display_id)
        self.shown = True

    def refresh(self) -> None:
        """Update the shown transcript; never lets a failure break the turn that called it."""
        if not self.shown:
            return
        from IPython.display import update_display

        try:
            update_display(self.bundle(), raw=True, display_id=self.display_id)
        except Exception:  # the transcript is a copy: never let it break a turn
            traceback.print_exc(file=sys.stderr)
