"""The shipped panel script (static/widget.js) carries no benchmark or test hooks; the development
build (static/widget.dev.js, served when the kernel has SENSENOVA_WIDGET_DEV=1) does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sensenova_widget
from sensenova_widget import widget

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


def test_the_panel_serves_the_shipped_bundle_unless_asked_for_the_development_build():
    assert os.environ.get("SENSENOVA_WIDGET_DEV") != "1"
    assert str(widget.ChatPanel._esm) == _bundle("widget.js")  # what this process's panels send
    code = (
        "from pathlib import Path; from sensenova_widget import widget as w;"
        "print(str(w.ChatPanel._esm) == (w._STATIC / 'widget.dev.js').read_text(encoding='utf-8'))"
    )
    root = str(Path(sensenova_widget.__file__).parent.parent)
    env = {**os.environ, "SENSENOVA_WIDGET_DEV": "1", "PYTHONPATH": root}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
