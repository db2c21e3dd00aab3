"""A saved panel across kernels: one kernel asks, a second runs the same cell and continues.

Two real kernels (nbclient) in one folder, the store in its default place (`.sensenova/` in the
kernel's working directory), the emulator's request log to see what the continued
conversation sends, and the saved notebook to see the static transcript a reader without the
kernel gets.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

CELL = """\
from PIL import Image
from sensenova_widget import ChatPanel
panel = ChatPanel(name="trip")
panel"""
FIRST = """reply = panel.ask("What colour is this?", images=[Image.new("RGB", (64, 48), "red")])"""
SECOND = """\
print(json.dumps([m["role"] for m in panel.messages]))
reply = panel.ask("And the next one?")
print(reply.text)"""
DOCK = """print(type(panel.dock()).__name__)"""


@pytest.fixture
def kernel_env(emulator, monkeypatch):
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SENSENOVA_MODEL", raising=False)
    monkeypatch.delenv("SENSENOVA_HOME", raising=False)  # the default: beside the notebook


def _run(cells: list[str], folder) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    resources = {"metadata": {"path": str(folder)}}
    NotebookClient(nb, timeout=120, kernel_name="python3", resources=resources).execute()
    return nb


def _images(message: dict) -> list[dict]:
    return [part for part in message["content"] if part["type"] != "text"]


@pytest.mark.notebook
@pytest.mark.timeout(300)
def test_a_second_kernel_running_the_same_cell_continues_the_conversation(emulator, kernel_env, tmp_path):
    first = _run(["import json", CELL, FIRST, DOCK], tmp_path)
    sent_image = _images(emulator.requests[-1]["messages"][0])
    assert sent_image and (tmp_path / ".sensenova" / "conversations.sqlite").exists()
    printed = [o.get("text", "") for o in first.cells[3].outputs if o["output_type"] == "stream"]
    assert "Sidecar" in "".join(printed), first.cells[3].outputs

    # the panel's cell shows the live view, then the transcript, refreshed when the turn completed
    outputs = first.cells[1].outputs
    assert "application/vnd.jupyter.widget-view+json" in outputs[0]["data"]
    assert "text/plain" not in outputs[0]["data"]  # no `ChatPanel(...)` line where the view cannot show
    transcript = outputs[1]["data"]["text/html"]
    assert "What colour is this?" in transcript and "64x48 RGB, mostly red" in transcript
    assert 'src="data:image/' in transcript and "Run the cell again" in transcript
    html, _ = HTMLExporter().from_notebook_node(first)
    assert "64x48 RGB, mostly red" in html and "object at 0x" not in html and "<pre>ChatPanel" not in html
    saved = json.dumps(first)
    assert emulator.api_key not in saved and emulator.secret_access_key not in saved

    second = _run(["import json", CELL, SECOND], tmp_path)  # a new kernel: the same cell again
    roles, *_ = second.cells[2].outputs[0]["text"].splitlines()
    assert json.loads(roles) == ["user", "assistant"]
    continued = emulator.requests[-1]["messages"]
    assert [m["role"] for m in continued] == ["user", "assistant", "user"]
    assert _images(continued[0]) == sent_image  # the original image travels again
    assert "What colour is this?" in second.cells[1].outputs[1]["data"]["text/html"]  # shown at once
