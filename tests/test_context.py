"""The panel's Context menu in the kernel: the last error, a variable's summary, the last plot.

Each is staged as a chip (kernel-owned, bounded, shown and removable before anything is sent);
at Send the staged context follows the message's text. The requests go through the panel's own
message handler, the sends over real HTTP to the emulator.
"""

from __future__ import annotations

import sys

import comm
import numpy as np
import pandas as pd
import pytest
from test_widget import RecordingComm, request, wait_idle

from sensenova_widget.errors import InvalidRequestError
from sensenova_widget.panel import notebook_context as context
from sensenova_widget.panel.widget import ChatPanel


@pytest.fixture(autouse=True)
def recording_comm(monkeypatch):
    monkeypatch.setattr(comm, "create_comm", lambda **kw: RecordingComm(**kw))


def test_the_last_error_a_summary_and_the_last_plot_are_staged_as_chips(client, monkeypatch):
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
    error_id = request(panel, "context", {"what": "error"}, req_id="e1")["result"]["id"]
    table_id = request(panel, "context", {"what": "variable", "name": "frame"}, req_id="v1")["result"]["id"]
    request(panel, "context", {"what": "variable", "name": "array"}, req_id="v2")
    names = request(panel, "context_names", req_id="n")["result"]["names"]
    assert names == ["array", "fig", "frame"]  # no modules, functions or private names
    plot_id = request(panel, "context", {"what": "plot"}, req_id="p")["result"]["id"]

    chips = {item["label"]: item for item in panel.staged}
    assert list(chips) == ["Traceback: KeyError", "frame: DataFrame 3×2", "array: ndarray 3×4", "last plot"]
    assert [item["kind"] for item in panel.staged] == ["context", "context", "context", "image"]
    assert (
        chips["Traceback: KeyError"]["id"] == error_id
        and "KeyError: 'missing'" in chips["Traceback: KeyError"]["text"]
    )
    table = chips["frame: DataFrame 3×2"]["text"]  # the page shows exactly this when the chip is opened
    assert table_id == chips["frame: DataFrame 3×2"]["id"]
    assert "shape (3, 2)" in table and "price" in table and "float64" in table and "Oslo" in table
    assert (
        "shape (3, 4)" in chips["array: ndarray 3×4"]["text"]
        and "max 11" in chips["array: ndarray 3×4"]["text"]
    )
    assert panel.staged[-1]["id"] == plot_id and not panel.messages  # staged, nothing sent

    for params, why in [
        ({"what": "variable", "name": "nope"}, "no variable 'nope'"),
        ({"what": "variable", "name": "__import__('os')"}, "no variable"),
        ({"what": "shell"}, "what must be error, plot or variable"),
    ]:
        answer = request(panel, "context", params, req_id=f"bad-{why}")
        assert not answer["ok"] and why in answer["error"], answer


def test_the_context_staged_at_send_follows_the_text_and_a_removed_chip_is_not_sent(client, emulator):
    frame = pd.DataFrame({"total": [3.5, 7.25]})
    panel = ChatPanel(client=client, namespace={"sales": frame, "n": 3})
    kept = request(panel, "context", {"what": "variable", "name": "sales"}, req_id="a")["result"]["id"]
    dropped = request(panel, "context", {"what": "variable", "name": "n"}, req_id="b")["result"]["id"]
    assert request(panel, "unstage", {"id": dropped}, req_id="u")["ok"]
    summary = next(item["text"] for item in panel.staged if item["id"] == kept)
    assert request(panel, "send", {"text": "What is the sum?"}, req_id="s")["ok"]
    wait_idle(panel)
    sent = emulator.requests[-1]["messages"][-1]["content"][-1]["text"]
    assert sent == f"What is the sum?\n\nsales: DataFrame 2×1:\n```text\n{summary}\n```"
    assert "n: int" not in sent and panel.staged == []
    assert panel.turns[-1].text == sent  # the history (and every export) shows what was sent
    assert panel.conversation[0]["text"] == sent and panel.conversation[0]["attachments"] == []

    assert request(panel, "send", {"text": "And now?"}, req_id="s2")["ok"]  # nothing staged: the text alone
    wait_idle(panel)
    assert emulator.requests[-1]["messages"][-1]["content"][-1]["text"] == "And now?"


def test_context_chips_are_bounded_checked_and_counted_apart_from_images(client):
    from PIL import Image

    panel = ChatPanel(client=client, namespace={})
    for number in range(context.MAX_ITEMS):
        panel.attach_context(f"text {number}", label=f"note {number}")
    with pytest.raises(InvalidRequestError, match=f"at most {context.MAX_ITEMS} contexts"):
        panel.attach_context("one more", label="too many")
    for _ in range(6):  # the image limit is its own
        panel.attach(Image.new("RGB", (8, 8)))
    assert [item["kind"] for item in panel.staged].count("image") == 6
    with pytest.raises(InvalidRequestError, match="non-empty string"):
        panel.attach_context("", label="empty")
    with pytest.raises(InvalidRequestError, match="label"):
        panel.attach_context("text", label="  ")
    long_one = ChatPanel(client=client, namespace={})
    long_one.attach_context("x" * 10_000, label="a\nlabel " + "y" * 200)
    [item] = long_one.staged
    assert len(item["text"]) <= context.MAX_CHARS and "\n" not in item["label"] and len(item["label"]) <= 80
    assert request(long_one, "preview", {"id": item["id"]}, req_id="pv")["result"] == {"src": None}


def test_a_long_traceback_or_table_is_cut():
    text = context.summary("big", pd.DataFrame({f"column{i}": ["y" * 200] * 10 for i in range(40)}))
    assert len(text) <= context.MAX_CHARS and text.endswith("(cut to 4000 characters)")
