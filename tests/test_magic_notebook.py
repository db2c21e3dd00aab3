"""`%%sensenova` in a real kernel: notebooks/cell_magic.ipynb through nbclient, and a kernel interrupt.

The kernel is a separate process whose environment points at the test's emulator, so the test
can read the requests the notebook sent (`emulator.requests`) and check what a person would see
in the saved notebook.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "cell_magic.ipynb"
OUTPUT = ROOT / "test-output" / "notebooks"
CURSOR = "\u258c"


@pytest.fixture
def kernel_env(emulator, monkeypatch):
    """The kernel inherits this process's environment: point it at the test emulator."""
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SENSENOVA_MODEL", raising=False)


def _text(output) -> str:
    if output.output_type == "stream":
        return output.text
    if output.output_type == "error":
        return f"{output.ename}: {output.evalue}"
    return str(output.get("data", {}).get("text/plain", ""))


@pytest.mark.notebook
@pytest.mark.timeout(300)
def test_cell_magic_notebook_runs_in_a_real_kernel(emulator, kernel_env, tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, OUTPUT / ("magic-" + NOTEBOOK.name))
    cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    errors = [
        f"{cell.source[:40]!r}: {_text(o)}"
        for cell in cells
        for o in cell.outputs
        if o.output_type == "error" or (o.output_type == "stream" and o.name == "stderr")
    ]
    assert errors == []
    saved = json.dumps(nb)
    assert emulator.api_key not in saved and emulator.secret_access_key not in saved

    def outputs(start: str) -> list:
        [cell] = [cell for cell in cells if cell.source.startswith(start)]
        return cell.outputs

    # each %%sensenova cell ends with ONE output: the streamed display, replaced by rendered Markdown
    for cell in cells:
        if cell.source.startswith("%%sensenova"):
            [shown] = cell.outputs
            assert shown.output_type == "display_data" and "text/html" in shown.data, cell.source
            assert not shown.data["text/plain"].endswith(CURSOR)
    assert "image 1: 600x400 RGB" in _text(outputs("%%sensenova -i photo --temperature")[0])
    assert "Describe this drink in one sentence." in _text(outputs("%%sensenova -i photo --temperature")[0])
    three = _text(outputs("%%sensenova -i photo -i df.image[:2]")[0])
    assert "image 2: 512x512" in three and "image 3: 451x300" in three and "astronaut, cat" in three
    assert "stop" in _text(outputs("print(answer.finish_reason")[0])
    assert "offered as the next cell" in _text(outputs("%%sensenova -f code")[0])
    assert '"subject": "this drink"' in _text(outputs("%%sensenova -f json")[0])
    assert "* SenseNova-V6-Pro" in _text(outputs("%sensenova models")[0])
    assert "temperature = 0.3" in _text(outputs("%sensenova config")[0])
    assert "trip: 2 turns" in _text(outputs("%sensenova chats")[0])
    assert "user: [image] What kind of vehicle is this?" in _text(outputs("%sensenova history")[0])

    # the named chat's second request carried the first turn
    [second] = [
        body
        for body in emulator.requests
        if body["messages"][-1]["content"][-1].get("text") == "And what powers it?"
    ]
    roles = [message["role"] for message in second["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert second["messages"][0]["content"][-1]["text"] == "What kind of vehicle is this?"
    assert all(body["stream"] for body in emulator.requests)


@pytest.mark.notebook
@pytest.mark.timeout(120)
def test_interrupting_the_kernel_keeps_the_partial_text(emulator, kernel_env):
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        setup = (
            "import sensenova_widget as snw\n"
            "from sensenova_widget import magic\n"
            "%load_ext sensenova_widget\n"
            "stalling = {'x-emulator-fault': 'stall_after=2,stall=30'}\n"
            "magic.use_client(snw.Client(headers=stalling, max_retries=0))"
        )
        assert kc.execute_interactive(setup, timeout=60)["content"]["status"] == "ok"
        msg_id = kc.execute("%%sensenova -o r\none two three four five six seven")
        seen = []
        while not any(CURSOR in text for text in seen):  # the partial text is on screen
            msg = kc.get_iopub_msg(timeout=30)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "update_display_data":
                seen.append(msg["content"]["data"]["text/plain"])
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=30)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "ReplyInterrupted"
        updates, errors = [], []
        while True:
            msg = kc.get_iopub_msg(timeout=30)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "update_display_data":
                updates.append(msg["content"]["data"]["text/plain"])
            elif msg["msg_type"] == "error":
                errors.append(msg["content"]["traceback"])
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        final = updates[-1]
        assert final.startswith("one two") and "Stopped" in final and not final.endswith(CURSOR)
        assert errors == [
            ["KeyboardInterrupt: the reply was stopped; the text received is kept above and in `r`."]
        ]
        printed = []
        kc.execute_interactive(
            "print(r.finish_reason, '|', r.text)",
            timeout=30,
            output_hook=lambda m: printed.append(m["content"].get("text", "")),
        )
        said = "".join(printed)
        assert said.startswith("stopped | one two") and "seven" not in said
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
