"""The panel's turns in a real JupyterLab with Chromium and the emulator (issue 25, points 2 and 7):
a message the service refuses is shown as refused and never sent again; any earlier message can
be edited (the conversation forks there); a regenerated reply keeps its earlier answers, `‹ 1/2 ›`.
"""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def send(panel, text: str) -> None:
    box = panel.locator(".snw-input")
    box.fill(text)
    box.press("Enter")


def replies_done(panel, count: int) -> None:
    """Wait until `count` replies have ended (done, refused, stopped or failed) and none streams."""
    panel.locator(".snw-assistant").nth(count - 1).wait_for(timeout=30_000)
    panel.locator(".snw-send", has_text="Send").wait_for(timeout=30_000)
    panel.locator(".snw-streaming").wait_for(state="detached", timeout=30_000)


def user_texts(request: dict) -> list[str]:
    return [
        part["text"]
        for message in request["messages"]
        if message["role"] == "user"
        for part in message["content"]
        if part["type"] == "text"
    ]


@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_a_refused_message_is_marked_and_left_out_of_the_next_request(open_panel, lab, ui):
    emulator = lab["emulator"]
    page, panel = open_panel(
        f"refused-{ui}.ipynb", ["import sensenova_widget as snw", "panel = snw.ChatPanel()\npanel"], ui=ui
    )
    send(panel, "please say EMULATOR-UNSAFE")
    refused = panel.locator(".snw-assistant.snw-status-refused")
    refused.wait_for(timeout=30_000)
    assert "Refused" in refused.locator(".snw-error").inner_text()
    assert panel.locator(".snw-refused-note").count() == 1  # on the message itself
    sent_before = len(emulator.requests)
    send(panel, "a new question")
    replies_done(panel, 2)
    assert (
        panel.locator(".snw-assistant")
        .last.locator(".snw-markdown")
        .inner_text()
        .startswith("a new question")
    )
    second = emulator.requests[sent_before]
    assert user_texts(second) == ["a new question"]
    assert "EMULATOR-UNSAFE" not in json.dumps(second)

    # the refused message is edited and sent again: the conversation forks there
    refused.get_by_role("button", name="Edit message").click()
    box = panel.locator(".snw-input")
    assert box.input_value() == "please say EMULATOR-UNSAFE"
    assert "turns after it go" in panel.locator(".snw-edit-banner").inner_text()
    box.fill("please say something kind")
    box.press("Enter")
    panel.locator(".snw-assistant.snw-status-refused").wait_for(state="detached", timeout=30_000)
    replies_done(panel, 1)
    assert panel.locator(".snw-user .snw-body").all_inner_texts() == ["please say something kind"]
    assert user_texts(emulator.requests[-1]) == ["please say something kind"]


def test_regenerate_keeps_the_earlier_answer_to_flip_back_to(open_panel, lab):
    emulator = lab["emulator"]
    page, panel = open_panel(
        "alternatives.ipynb", ["import sensenova_widget as snw", "panel = snw.ChatPanel()\npanel"]
    )
    send(panel, "first question")
    replies_done(panel, 1)
    send(panel, "second question")
    replies_done(panel, 2)
    panel.locator(".snw-regenerate").click()
    panel.locator(".snw-alt-count", has_text="2/2").wait_for(timeout=30_000)
    panel.get_by_role("button", name="Previous answer").click()
    panel.locator(".snw-alt-count", has_text="1/2").wait_for(timeout=30_000)
    # the first message is edited: the second turn and its answers go
    panel.locator(".snw-user").first.get_by_role("button", name="Edit").click()
    box = panel.locator(".snw-input")
    box.fill("first question, edited")
    box.press("Enter")
    page.wait_for_function(
        "el => el.querySelectorAll('.snw-user').length === 1 && !el.querySelector('.snw-streaming')",
        arg=panel.element_handle(),
        timeout=30_000,
    )
    replies_done(panel, 1)
    assert user_texts(emulator.requests[-1]) == ["first question, edited"]
    assert panel.locator(".snw-alternatives").count() == 0
