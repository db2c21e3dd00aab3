"""ChatPanel end to end: a real JupyterLab, Debian's Chromium and the emulator, as a person uses it.

One JupyterLab (and one emulator, whose address the kernels get from the environment) serves
every test of this module; each test opens its own notebook, so its own kernel.
"""

from __future__ import annotations

import json

import pytest
from browser_helpers import (
    DEV_BUILD_CELL,
    copy_to_docs,
    open_notebook,
    run_all,
    save_screenshot,
    send_and_watch_it_stream,
    set_theme,
    settle,
    wait_saved,
    write_notebook,
)
from PIL import Image

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SLOW = 'snw.Client(headers={"x-emulator-fault": "delta_delay=0.05,reply_tokens=400"})'


def send(panel, text: str) -> None:
    box = panel.locator(".snw-input")
    box.fill(text)
    box.press("Enter")


def last_reply(panel, timeout: float = 30_000):
    """The last assistant turn once its stream ended (status done, stopped or error)."""
    reply = panel.locator(".snw-assistant").last
    reply.locator(".snw-markdown").wait_for(timeout=timeout)
    return reply


def test_type_send_and_watch_the_reply_stream_in(open_panel):
    page, panel = open_panel(
        "stream.ipynb",
        [
            DEV_BUILD_CELL,  # this test reads the view's own message counts
            "import sensenova_widget as snw",
            f"panel = snw.ChatPanel(client={SLOW})\n"
            "panel.on_reply(lambda reply: print(\n"
            "    'on_reply:', reply.finish_reason, len(reply.text.split()), 'words'))\n"
            "panel",
            "after = 1 + 1",  # a later cell ran: the reply's output must still land in the panel's cell
        ],
    )
    send(panel, "Hello panel, how are you?")
    assert panel.locator(".snw-user .snw-body").last.inner_text() == "Hello panel, how are you?"
    streaming = panel.locator(".snw-assistant .snw-streaming")
    streaming.wait_for(timeout=30_000)
    page.wait_for_function("el => el.textContent.length > 30", arg=streaming.element_handle(), timeout=30_000)
    assert panel.locator(".snw-send").inner_text() == "Stop"  # Send turns into Stop while streaming
    reply = last_reply(panel, timeout=60_000)
    text = reply.locator(".snw-markdown").inner_text()
    assert text.startswith("Hello panel, how are you?")
    assert "Tokens:" in reply.locator(".snw-usage").inner_text()
    assert panel.locator(".snw-send").inner_text() == "Send"
    stats = page.evaluate(
        "() => { const s = [...document.querySelectorAll('.snw-panel')].pop().parentElement.snwStats;"
        " return {custom: s.customMessages}; }"
    )
    assert stats["custom"] >= 2  # deltas came as custom messages, not one trait update per token
    panel_cell = page.locator(".jp-Notebook:visible .jp-CodeCell").nth(2)
    panel_cell.get_by_text("on_reply: stop").wait_for(timeout=30_000)  # the thread's print, in the right cell
    assert "on_reply" not in page.locator(".jp-Notebook:visible .jp-CodeCell").nth(3).inner_text()


def test_attach_by_file_dialog_and_notebook_picker_then_screenshots(open_panel, lab, tmp_path):
    page, panel = open_panel(
        "attach.ipynb",
        [
            "import sensenova_widget as snw\nfrom PIL import Image",
            "photo = Image.new('RGB', (640, 480), (200, 30, 30))\n"
            "small = Image.new('RGB', (64, 64), (0, 90, 200))",
            "panel = snw.ChatPanel()\npanel",
        ],
    )
    picture = tmp_path / "upload.png"
    Image.new("RGB", (320, 200), (20, 40, 220)).save(picture)
    panel.locator("input[type=file][accept='image/*']").set_input_files(str(picture))
    panel.locator(".snw-staged-item").wait_for(timeout=30_000)
    assert "upload.png" in panel.locator(".snw-staged-item").inner_text()
    send(panel, "What is in this picture?")
    reply = last_reply(panel)
    assert "image 1: 320x200" in reply.inner_text()
    assert panel.locator(".snw-user .snw-attachment img").count() == 1  # the thumbnail stays with the turn

    panel.locator(".snw-picker-button").click()
    item = panel.locator(".snw-picker-item[data-name='photo']")
    item.wait_for(timeout=30_000)
    assert "PIL RGB 640x480" in item.inner_text()
    item.click()  # several at once: select two, then Attach 2
    panel.locator(".snw-picker-item[data-name='small']").click()
    assert item.get_attribute("aria-pressed") == "true"
    panel.get_by_role("button", name="Attach 2").click()
    page.wait_for_function(
        "el => el.querySelectorAll('.snw-staged-item').length === 2",
        arg=panel.element_handle(),
        timeout=30_000,
    )
    assert panel.locator(".snw-staged-label").all_inner_texts() == ["photo", "small"]
    send(
        panel,
        "And these? One is `photo` in the notebook:\n\n```python\nphoto = Image.new('RGB', (640, 480))\n```",
    )
    panel.locator(".snw-assistant").nth(1).locator(".snw-markdown").wait_for(timeout=30_000)
    answer = panel.locator(".snw-assistant").nth(1).inner_text()
    assert ": 640x480 RGB" in answer and ": 64x64 RGB" in answer  # both reached the service

    panel.locator(".snw-log").evaluate("el => { el.style.maxHeight = 'none'; }")  # the whole conversation
    light = save_screenshot(panel, "panel-light.png")
    copy_to_docs(light, "panel.png")
    set_theme(page, "JupyterLab Dark")
    try:
        copy_to_docs(save_screenshot(panel, "panel-dark.png"), "panel-dark.png")
        background = panel.evaluate("el => getComputedStyle(el).backgroundColor")
        assert background not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")  # follows the dark theme
    finally:
        set_theme(page, "JupyterLab Light")


def test_settings_and_limits_are_checked_before_sending(open_panel, lab, tmp_path):
    page, panel = open_panel(
        "limits.ipynb", ["import sensenova_widget as snw", "panel = snw.ChatPanel()\npanel"]
    )
    panel.get_by_role("button", name="Settings").click()
    thinking = panel.locator(".snw-field-thinking")  # the default model does not reason: no toggle
    assert thinking.count() == 1 and not thinking.is_visible()
    labels = panel.locator(".snw-field[data-field] label").all_inner_texts()
    assert labels == ["Temperature", "Top p", "Max new tokens", "Repetition penalty"]
    top_p = panel.get_by_label("Top p")
    top_p.fill("1")
    top_p.press("Tab")
    error = panel.locator(".snw-field[data-field='top_p'] .snw-field-error")
    assert error.inner_text() == "1 is not allowed: expected above 0, below 1."  # next to its field, in words
    assert top_p.get_attribute("aria-invalid") == "true"
    top_p.fill("0.5")  # fixed: the error goes
    assert error.is_hidden() and top_p.get_attribute("aria-invalid") is None
    top_p.fill("")
    top_p.press("Tab")
    panel.get_by_label("Temperature").fill("0.3")
    panel.get_by_label("Temperature").press("Tab")
    panel.get_by_label("System prompt").fill("Be terse.")
    panel.get_by_label("System prompt").press("Tab")
    files = []
    for i in range(7):
        path = tmp_path / f"p{i}.png"
        Image.new("RGB", (40, 30), (i * 30, 0, 0)).save(path)
        files.append(str(path))
    panel.locator("input[type=file][accept='image/*']").set_input_files(files)
    page.wait_for_function(  # the kernel stages six and refuses the seventh before decoding it
        "el => el.querySelectorAll('.snw-staged-item').length === 6"
        " && /at most 6 images/.test(el.querySelector('.snw-reason').textContent)",
        arg=panel.element_handle(),
        timeout=30_000,
    )
    assert "Remove one first" in panel.locator(".snw-reason").inner_text()
    assert panel.locator(".snw-turn").count() == 0  # nothing was sent
    send(panel, "six is fine")
    assert "image 6" in last_reply(panel).inner_text()
    body = lab["emulator"].requests[-1]
    assert body["temperature"] == 0.3 and "top_p" not in body  # the refused value was never kept
    assert body["messages"][0]["content"][0]["text"] == "Be terse."
    clear = panel.locator(".snw-clear")
    clear.click()  # Clear asks first
    assert clear.inner_text() == "Clear all?" and panel.locator(".snw-turn").count() == 2
    clear.click()
    page.wait_for_function("el => !el.querySelector('.snw-turn')", arg=panel.element_handle(), timeout=30_000)


def test_stop_mid_stream_keeps_the_partial_text(open_panel, lab):
    page, panel = open_panel(
        "stop.ipynb", ["import sensenova_widget as snw", f"panel = snw.ChatPanel(client={SLOW})\npanel"]
    )
    send_and_watch_it_stream(page, panel, "Tell me a long story")
    panel.locator(".snw-send").click()  # it reads Stop now
    stopped = panel.locator(".snw-assistant.snw-status-stopped")
    stopped.wait_for(timeout=30_000)
    assert "Stopped" in stopped.locator(".snw-notice").inner_text()
    partial = stopped.locator(".snw-markdown").inner_text()
    assert partial.startswith("Tell me a long story")
    assert len(partial.split()) < 400  # the reply was cut, not completed
    assert panel.locator(".snw-send").inner_text() == "Send"
    # the conversation goes on after a stop
    panel.locator(".snw-regenerate").click()
    panel.locator(".snw-assistant .snw-streaming").wait_for(timeout=30_000)
    panel.locator(".snw-send").click()
    panel.locator(".snw-assistant.snw-status-stopped").wait_for(timeout=30_000)


def test_model_text_stays_inert(open_panel):
    page, panel = open_panel(
        "xss.ipynb", ["import sensenova_widget as snw", "panel = snw.ChatPanel()\npanel"]
    )
    payload = (
        '<img src=x onerror="window.__xss=1"> <script>window.__xss=1</script> '
        '[x](javascript:window.__xss=1) <a href="javascript:window.__xss=1">y</a>'
    )
    send(panel, payload)
    reply = last_reply(panel)
    settle(page)  # every image has loaded or failed: an injected handler would have run
    assert page.evaluate("() => window.__xss") is None
    log = panel.locator(".snw-log")
    assert log.locator("img[src='x'], script, [onerror]").count() == 0
    assert log.locator("a[href^='javascript:' i]").count() == 0
    assert "<script>window.__xss=1</script>" in reply.inner_text()  # shown as text, not run


def test_saved_notebook_reloads_with_its_conversation_and_no_credentials(open_panel, lab):
    page, panel = open_panel(
        "saved.ipynb", ["import sensenova_widget as snw", "panel = snw.ChatPanel()\npanel"]
    )
    send(panel, "Remember this conversation")
    last_reply(panel)
    page.click(".jp-Notebook:visible")
    page.keyboard.press("Control+s")
    saved = lab["root"] / "saved.ipynb"
    text = wait_saved(saved, "application/vnd.jupyter.widget-state+json", "its widget state")
    assert "Remember this conversation" in text
    assert lab["emulator"].api_key not in text
    assert "Bearer" not in text

    page.reload()
    page.wait_for_selector(".jp-Notebook:visible", timeout=60_000)
    again = page.locator(".jp-Notebook:visible .snw-panel").last
    again.wait_for(timeout=60_000)
    again.locator(".snw-assistant .snw-markdown").wait_for(timeout=30_000)
    assert "Remember this conversation" in again.locator(".snw-log").inner_text()
    state = json.loads(text)["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    panels = [m["state"] for m in state.values() if "conversation" in m.get("state", {})]
    assert panels and all(len(t.get("thumb") or "") < 200_000 for p in panels for t in p["staged"])


def test_works_in_notebook_7_with_markdown_code_and_notices(lab):
    """The same panel in Notebook 7's page: Markdown, highlighted code with copy buttons, a length notice."""
    write_notebook(
        lab["root"] / "nb7.ipynb",
        ["import sensenova_widget as snw", "panel = snw.ChatPanel(max_new_tokens=12)\npanel"],
    )
    page = lab["browser"].new_page(viewport={"width": 1280, "height": 1000})
    try:
        open_notebook(page, lab["url"], "nb7.ipynb", ui="notebook")
        run_all(page)
        panel = page.locator(".jp-Notebook:visible .snw-panel").last
        panel.wait_for(timeout=60_000)
        send(panel, "Here is code:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nand a *list*")
        reply = last_reply(panel)
        assert reply.locator(".snw-code pre code .hljs-keyword").first.inner_text() == "def"
        assert reply.locator(".snw-code .snw-copy").count() == 1
        assert "max_new_tokens" in reply.locator(".snw-notice").inner_text()  # finish_reason "length"
    finally:
        page.close()


DROP_AND_PASTE = """async (panel) => {
    const canvas = document.createElement("canvas");
    canvas.width = 200; canvas.height = 150;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "rgb(0, 160, 0)"; ctx.fillRect(0, 0, 200, 150);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    const file = (name) => new File([blob], name, { type: "image/png" });
    const dropped = new DataTransfer();
    dropped.items.add(file("dropped.png"));
    panel.dispatchEvent(new DragEvent("drop", { dataTransfer: dropped, bubbles: true, cancelable: true }));
    const pasted = new DataTransfer();
    pasted.items.add(file("pasted.png"));
    panel.querySelector(".snw-input").dispatchEvent(
        new ClipboardEvent("paste", { clipboardData: pasted, bubbles: true, cancelable: true }));
}"""


def test_drop_and_paste_attach_images(open_panel):
    page, panel = open_panel(
        "drop.ipynb", ["import sensenova_widget as snw", "panel = snw.ChatPanel()\npanel"]
    )
    panel.evaluate(DROP_AND_PASTE)
    page.wait_for_function(
        "el => el.querySelectorAll('.snw-staged-item').length === 2",
        arg=panel.element_handle(),
        timeout=30_000,
    )
    labels = panel.locator(".snw-staged-label").all_inner_texts()
    assert labels == ["dropped.png (200x150)", "pasted.png (200x150)"]
    send(panel, "Two green ones")
    text = last_reply(panel).inner_text()
    assert "image 1: 200x150" in text and "image 2: 200x150" in text


def test_an_error_shows_inline_and_retry_recovers(open_panel):
    failing = 'snw.Client(max_retries=0, headers={"x-emulator-fault": "status=503,times=2"})'
    page, panel = open_panel(
        "retry.ipynb",
        [
            "import sensenova_widget as snw",
            f"panel = snw.ChatPanel(client={failing})\n"
            "panel.models_loaded.wait(10)  # the model list took one 503\npanel",
        ],
    )
    send(panel, "Are you there?")
    error = panel.locator(".snw-assistant .snw-error")
    error.wait_for(timeout=30_000)
    # one or two plain lines (what happened, what to do); the kind and status on demand
    text = error.locator(".snw-error-text").inner_text()
    assert "Error:" not in text and "status 503" not in text and len(text.splitlines()) <= 2
    error.locator(".snw-error-details summary").click()
    details = error.locator(".snw-error-details").inner_text()
    assert "ServerError" in details and "status 503" in details
    error.get_by_role("button", name="Retry").click()
    panel.locator(".snw-assistant.snw-status-done").wait_for(timeout=30_000)
    assert panel.locator(".snw-error").count() == 0
    assert panel.locator(".snw-assistant .snw-markdown").inner_text().startswith("Are you there?")


LONG_CONVERSATION = """
def turns(n):
    out = []
    for i in range(n):
        if i % 2 == 0:
            out.append({"id": f"u{i}", "role": "user", "text": f"Question {i}", "attachments": []})
        else:
            code = "```python\\ndef add(a, b):\\n    return a + b\\n```\\n"
            text = f"Answer {i} with **bold** text.\\n\\n" + code
            out.append({"id": f"a{i}", "role": "assistant", "text": text, "status": "done", "model": "m",
                        "notice": None, "omitted": [], "usage": None, "error": None})
    return out

panel.conversation = turns(60)
"""


def test_a_long_conversation_shows_its_end_at_once_and_renders_older_replies_soon_after(open_panel):
    cells = ["import sensenova_widget as snw", "panel = snw.ChatPanel()\npanel", LONG_CONVERSATION]
    page, panel = open_panel("long.ipynb", cells)
    page.wait_for_function(
        "el => el.querySelectorAll('.snw-turn').length === 60", arg=panel.element_handle(), timeout=30_000
    )
    log = panel.locator(".snw-log")
    last = panel.locator(".snw-assistant").last
    assert last.locator(".snw-markdown strong").inner_text() == "bold"  # the end is Markdown at once
    # older replies become Markdown in idle time: in the end every one is, none left as plain text
    page.wait_for_function(
        "el => !el.querySelector('.snw-markdown-pending')", arg=panel.element_handle(), timeout=30_000
    )
    assert panel.locator(".snw-assistant .snw-markdown").count() == 30
    first = panel.locator(".snw-assistant").first
    assert first.locator(".snw-code pre code .hljs-keyword").first.inner_text() == "def"
    assert first.locator(".snw-code .snw-copy").count() == 1
    at_bottom = log.evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight < 4")
    assert at_bottom  # the log stayed at its end while the replies above it grew
    assert "**" not in first.locator(".snw-body").inner_text()  # rendered, not shown as its source


def test_reasoning_streams_open_above_the_answer_and_collapses_when_it_starts(open_panel):
    """The thinking streams live into an open <details> above the answer, which collapses to
    "Thought for N s" when the answer starts; the answer never holds the reasoning."""
    page, panel = open_panel(
        "reasoning.ipynb",
        [
            "import sensenova_widget as snw",
            'panel = snw.ChatPanel(client=snw.Client(headers={"x-emulator-fault": "delta_delay=0.15"}),\n'
            '                      model="SenseNova-V6-5-Pro", thinking=True)\npanel',
        ],
    )
    panel.get_by_role("button", name="Settings").click()
    assert panel.locator(".snw-field-thinking").is_visible()  # a model that reasons: the toggle
    assert panel.locator(".snw-thinking").is_checked()
    send(panel, "what is in the picture of the quiet lake")
    details = panel.locator(".snw-assistant .snw-reasoning").last
    body = details.locator(".snw-reasoning-body")
    page.wait_for_function("el => el.textContent.length > 10", arg=body.element_handle(), timeout=30_000)
    # live: open and visible while the reasoning arrives, before any answer text
    assert details.evaluate("el => el.open") and details.is_visible()
    assert "Thinking" in details.locator("summary").inner_text()
    streaming = panel.locator(".snw-assistant .snw-streaming").last
    assert streaming.inner_text().strip() == ""
    # the answer starts: the section collapses and says how long it thought
    page.wait_for_function("el => el.textContent.length > 0", arg=streaming.element_handle(), timeout=30_000)
    assert not details.evaluate("el => el.open")
    assert "Thought for" in details.locator("summary").inner_text()
    reply = panel.locator(".snw-assistant").last
    reply.locator(".snw-body.snw-markdown").wait_for(timeout=60_000)
    answer = reply.locator(".snw-body.snw-markdown").inner_text()
    assert answer.startswith("what is in the picture") and "Reasoning:" not in answer
    final = reply.locator(".snw-reasoning")
    assert not final.evaluate("el => el.open") and "Thought for" in final.locator("summary").inner_text()
    assert final.locator(".snw-reasoning-body").text_content().startswith("Reasoning: 1 message")
