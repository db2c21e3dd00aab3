"""The panel's Context menu in the kernel: the last error, a variable's summary, the last plot.

Each comes back as text for the message box (shown before anything is sent) or a staged chip;
every request is checked. The requests go through the panel's own message handler.
"""

from __future__ import annotations

import sys

import comm
import numpy as np
import pandas as pd
import pytest
from test_widget import RecordingComm, request

from sensenova_widget.panel import notebook_context as context
from sensenova_widget.panel.widget import ChatPanel


@pytest.fixture(autouse=True)
def recording_comm(monkeypatch):
    monkeypatch.setattr(comm, "create_comm", lambda **kw: RecordingComm(**kw))


def test_the_last_error_a_summary_and_the_last_plot_come_on_request(client, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    frame = pd.DataFrame({"price": [1.5, 2.0, 3.25], "city": ["Rome", "Oslo", "Lima"]})
    array = np.arange(12).reshape(3, 4)
    fig, _ = plt.subplots()
    plt.close(fig)  # the inline backend closes a cell's figures: the variable still holds it
    namespace = {"frame": frame, "array": array, "fig": fig, "np": np, "helper": len}
    panel = ChatPanel(client=client, namespace=namespace)

    monkeypatch.delattr(sys, "last_value", raising=False)
    monkeypatch.delattr(sys, "last_exc", raising=False)
    nothing = request(panel, "context", {"what": "error"}, req_id="e0")
    assert not nothing["ok"] and "No cell has raised an error" in nothing["error"]
    try:
        {}["missing"]
    except KeyError as error:
        monkeypatch.setattr(sys, "last_value", error, raising=False)
    text = request(panel, "context", {"what": "error"}, req_id="e1")["result"]["text"]
    assert text.startswith("The last error:\n```text\n") and "KeyError: 'missing'" in text

    table = request(panel, "context", {"what": "variable", "name": "frame"}, req_id="v1")["result"]["text"]
    assert "shape (3, 2)" in table and "price" in table and "float64" in table and "Oslo" in table
    numbers = request(panel, "context", {"what": "variable", "name": "array"}, req_id="v2")["result"]
    assert "shape (3, 4)" in numbers["text"] and "max 11" in numbers["text"]
    names = request(panel, "context_names", req_id="n")["result"]["names"]
    assert names == ["array", "fig", "frame"]  # no modules, functions or private names

    staged = request(panel, "context", {"what": "plot"}, req_id="p")["result"]["id"]
    assert [item["label"] for item in panel.staged] == ["last plot"] and panel.staged[0]["id"] == staged
    assert not panel.messages  # nothing was sent: the text waits in the message box, the plot staged

    for params, why in [
        ({"what": "variable", "name": "nope"}, "no variable 'nope'"),
        ({"what": "variable", "name": "__import__('os')"}, "no variable"),
        ({"what": "shell"}, "what must be error, plot or variable"),
    ]:
        answer = request(panel, "context", params, req_id=f"bad-{why}")
        assert not answer["ok"] and why in answer["error"], answer


def test_a_long_traceback_or_table_is_cut():
    text = context.summary("big", pd.DataFrame({f"column{i}": ["y" * 200] * 10 for i in range(40)}))
    assert len(text) <= context.MAX_CHARS and text.endswith("(cut to 4000 characters)")
