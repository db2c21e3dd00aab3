"""Issue 14, "what the browser must not decide": the kernel owns the panel's state and checks
every request the page sends.

The page's messages are fed in as the browser sends them, through ipywidgets' own handler
(`_handle_msg` with method "update" for a state write, "custom" for a request), to a panel
talking to the emulator over real sockets; its comm records what would reach the page.
"""

from __future__ import annotations

import pytest
from PIL import Image
from test_widget import SLOW, recording_comm, request, wait_idle  # noqa: F401 - the recording comm fixture

from sensenova_widget.errors import InvalidRequestError
from sensenova_widget.widget import KERNEL_OWNED, ChatPanel


def page_writes(panel, **state) -> None:
    """What the page sends when a script (or a view) does `model.set(...); model.save_changes()`."""
    panel._handle_msg(
        {"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []}
    )


def updates(panel) -> list[dict]:
    return [d["state"] for d, _ in panel.comm.published if d.get("method") == "update"]


@pytest.fixture
def slow_panel(emulator):
    from sensenova_widget import Client

    client = Client(
        emulator.api_key, base_url=emulator.base_url, file_base_url=emulator.file_base_url, headers=SLOW
    )
    return ChatPanel(client=client)


def test_a_forged_busy_false_does_not_let_a_second_turn_start(slow_panel, emulator):
    panel = slow_panel
    assert request(panel, "send", {"text": "first turn"})["ok"]
    assert panel.busy
    page_writes(panel, busy=False)
    assert panel.busy  # the write was dropped ...
    assert updates(panel)[-1] == {"busy": True}  # ... and the kernel's value sent back to the page
    second = request(panel, "send", {"text": "second turn"}, req_id="r2")
    assert not second["ok"] and "still streaming" in second["error"]
    with pytest.raises(Exception, match="still streaming"):
        panel.ask("from code too")
    wait_idle(panel)
    assert [t["text"][:10] for t in panel.conversation if t["role"] == "user"] == ["first turn"]
    assert len(emulator.requests) == 1
    assert request(panel, "send", {"text": "after it"}, req_id="r3")["ok"]  # the kernel's own word freed it
    wait_idle(panel)
    assert len(emulator.requests) == 2


def test_page_writes_to_kernel_owned_traits_are_refused_and_settings_still_pass(panel_with_turn):
    panel = panel_with_turn
    before = {name: getattr(panel, name) for name in KERNEL_OWNED}
    forged = {
        "conversation": [{"id": "x", "role": "user", "text": "forged"}],
        "models": ["evil"],
        "models_error": "forged",
        "limits": {"max_images": 99},
        "parameters": {},
        "busy": True,
        "staged": [{"id": "forged", "kind": "image", "label": "x"}],
        "thinks": True,
    }
    assert set(forged) == KERNEL_OWNED
    page_writes(panel, **forged, settings={**panel.settings, "temperature": 0.3})
    assert {name: getattr(panel, name) for name in KERNEL_OWNED} == before
    assert set(updates(panel)[-1]) == KERNEL_OWNED  # every refused one sent back
    assert panel.settings["temperature"] == 0.3  # the page's own trait


@pytest.fixture
def panel_with_turn(panel):
    panel.ask("hello")
    return panel


@pytest.fixture
def panel(client):
    return ChatPanel(client=client)


def test_an_unknown_staged_id_is_named_the_list_repaired_and_the_next_send_works(panel, emulator):
    good = panel.attach(Image.new("RGB", (20, 20), (200, 0, 0)))
    # staged is kernel-owned, so only kernel code can put an unknown item there (the page's write is refused)
    panel.staged = [
        *panel.staged,
        {"id": "forged-id", "kind": "image", "label": "x"},
        {"id": good, "kind": "spreadsheet", "label": "odd kind"},
    ]
    refused = request(panel, "send", {"text": "with the forged one"})
    assert not refused["ok"] and "'forged-id'" in refused["error"] and "were removed" in refused["error"]
    assert [item["id"] for item in panel.staged] == [good]
    assert emulator.requests == []
    assert request(panel, "send", {"text": "again"}, req_id="r2")["ok"]
    wait_idle(panel)
    [body] = emulator.requests
    assert [p["type"] for p in body["messages"][-1]["content"]] == ["image_base64", "text"]


@pytest.mark.parametrize("text", [None, 5, ["a"], {"t": 1}])
def test_a_send_whose_text_is_not_a_string_is_refused(panel, emulator, text):
    answer = request(panel, "send", {"text": text})
    assert not answer["ok"] and "text must be a string" in answer["error"]
    assert panel.conversation == [] and emulator.requests == []  # "None" was never sent
    with pytest.raises(InvalidRequestError, match="text must be a string"):
        panel.ask(text)  # from code too
    assert request(panel, "send", {"text": "a real one"}, req_id="r2")["ok"]
    wait_idle(panel)
    assert emulator.requests[-1]["messages"][-1]["content"][-1]["text"] == "a real one"


@pytest.mark.parametrize("method", ["explode", None, 5, ["send"], {"x": 1}, "_request_turn", "__init__"])
def test_an_unknown_method_gets_an_error_reply(panel, method):
    answer = request(panel, method)
    assert not answer["ok"] and "unknown request" in answer["error"]


@pytest.mark.parametrize(
    ("method", "params", "error"),
    [
        ("send", ["not", "an", "object"], "params must be an object"),
        ("attach_variable", {"name": ["x"]}, "variable name"),
        ("attach_file", {"name": "a.png", "kind": "spreadsheet"}, "kind 'spreadsheet' is not allowed"),
        ("attach_video_url", {"url": 5}, "is not allowed"),
    ],
)
def test_malformed_params_get_an_error_reply_and_change_nothing(panel, method, params, error):
    answer = request(panel, method, params, [b"\x89PNG"])
    assert not answer["ok"] and error in answer["error"]
    assert panel.staged == [] and panel.conversation == []
