"""The shipped panel script (static/widget.js) carries no benchmark or test hooks; the development
build (static/widget.dev.js, served to panels made after `ChatPanel.development_bundle = True`) does."""

from __future__ import annotations

from pathlib import Path

import pytest

import sensenova_widget
from sensenova_widget.panel import widget

STATIC = Path(sensenova_widget.__file__).parent / "static"
# What only the development build may hold: the hooks on the view's element and the recording.
HOOKS = ("snwStats", "snwRenderNaiveMs", "snwModel", "customMessages", "beforeRender", "renders.push")
BUILD = "run `cd js && npm ci && npm run build` (it writes static/widget.js and static/widget.dev.js)"


def _bundle(name: str) -> str:
    path = STATIC / name
    if not path.exists():
        pytest.fail(f"{path} is missing: {BUILD}")
    return path.read_text(encoding="utf-8")


def test_the_shipped_bundle_holds_no_hooks():
    shipped = _bundle("widget.js")
    assert "export" in shipped and "snw-panel" in shipped  # it is the panel's script
    assert [name for name in HOOKS if name in shipped] == []


def test_the_development_build_holds_every_hook():
    dev = _bundle("widget.dev.js")
    assert [name for name in HOOKS if name not in dev] == []


def test_the_panel_serves_the_shipped_bundle_unless_asked_for_the_development_build(client, monkeypatch):
    assert widget.ChatPanel.development_bundle is False
    assert widget.ChatPanel(client=client)._esm == _bundle("widget.js")
    monkeypatch.setattr(widget.ChatPanel, "development_bundle", True)  # what the test kernels do
    panel = widget.ChatPanel(client=client)
    assert panel._esm == _bundle("widget.dev.js") and panel._css == _bundle("widget.dev.css")
    monkeypatch.undo()
    assert widget.ChatPanel(client=client)._esm == _bundle("widget.js")  # decided for each panel
