"""ChatPanel as good to use as the chat apps people know (issue 16), in Chromium on a real JupyterLab.

Keys typed in the panel never reach the notebook's shortcuts; Esc stops a reply and Up edits the
last message; Tab walks the controls in order; math is typeset as MathML, tables have borders,
two lines stay two lines; a panel with history opens at its end; a thumbnail opens larger; the
stopped and editing states have no light backgrounds in the dark theme.
"""

from __future__ import annotations

import pytest
from browser_helpers import copy_to_docs, save_screenshot, send_and_watch_it_stream, set_theme

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SLOW = 'snw.Client(headers={"x-emulator-fault": "delta_delay=0.05,reply_tokens=400"})'

# Every element of the panel whose own background is painted and light (relative luminance above
# 0.4): in the dark theme this list must be empty. color-mix() computes to color(srgb r g b / a).
LIGHT_BACKGROUNDS = """el => {
    const lin = (c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
    const parse = (text) => {
        const nums = (text.match(/[\\d.]+/g) || []).map(Number);
        if (text.startsWith("color(")) return { rgb: nums.slice(0, 3), alpha: nums.length > 3 ? nums[3] : 1 };
        return { rgb: nums.slice(0, 3).map((v) => v / 255), alpha: nums.length > 3 ? nums[3] : 1 };
    };
    const light = [];
    for (const node of [el, ...el.querySelectorAll("*")]) {
        if (!node.getClientRects().length) continue;
        const bg = getComputedStyle(node).backgroundColor;
        const { rgb, alpha } = parse(bg);
        if (alpha === 0 || rgb.length < 3) continue;
        const lum = 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2]);
        if (lum > 0.4) light.push(`${node.className || node.tagName}: ${bg}`);
    }
    return light;
}"""


def focused(page) -> str:
    """What has the focus, in words: its aria-label, else its text."""
    return page.evaluate(
        "() => { const a = document.activeElement;"
        " return a.getAttribute('aria-label') || a.textContent.trim(); }"
    )


def test_keys_stay_in_the_panel_esc_stops_up_edits_and_the_dark_theme_has_no_light_notices(open_panel):
    page, panel = open_panel(
        "keys.ipynb", ["import sensenova_widget as snw", f"panel = snw.ChatPanel(client={SLOW})\npanel"]
    )
    cells = page.locator(".jp-Notebook:visible .jp-Cell")
    prompt = page.locator(".jp-Notebook:visible .jp-CodeCell").nth(1).locator(".jp-InputPrompt")
    before = (cells.count(), prompt.inner_text())

    # Tab walks the toolbar, then the message box, Send and the attach buttons
    panel.locator(".snw-model").focus()
    walked = []
    for _ in range(9):
        page.keyboard.press("Tab")
        walked.append(focused(page))
    assert walked == [
        "Settings",
        "Export",
        "Clear",
        "Message",
        "Send the message",
        "Image…",
        "Video…",
        "Video URL",
        "From notebook",
    ]

    box = panel.locator(".snw-input")
    box.click()
    page.keyboard.type("line one")
    page.keyboard.press("Shift+Enter")  # a new line, not "run the cell"
    page.keyboard.type("line two abddmy")
    assert box.input_value() == "line one\nline two abddmy"
    panel.get_by_role("button", name="Settings").focus()
    for key in ["a", "b", "d", "d", "m", "y", "Shift+Enter", "Control+Enter"]:  # command-mode keys, run keys
        page.keyboard.press(key)
    page.wait_for_timeout(500)
    assert (cells.count(), prompt.inner_text()) == before  # no cell added, deleted, re-typed or rerun
    assert panel.is_visible()

    send_and_watch_it_stream(page, panel, "Tell me a long story")
    box.press("Escape")
    stopped = panel.locator(".snw-assistant.snw-status-stopped")
    stopped.wait_for(timeout=30_000)
    assert "Stopped" in stopped.locator(".snw-notice").inner_text()
    assert len(stopped.locator(".snw-markdown").inner_text().split()) < 400

    box.press("ArrowUp")  # empty box: edit the last message
    assert box.input_value() == "Tell me a long story"
    assert panel.locator(".snw-edit-banner").is_visible()
    assert prompt.inner_text() == before[1]

    set_theme(page, "JupyterLab Dark")
    try:
        save_screenshot(panel, "panel-dark-stopped-editing.png")
        assert panel.evaluate(LIGHT_BACKGROUNDS) == []
        notice = stopped.locator(".snw-notice").evaluate("el => getComputedStyle(el).backgroundColor")
        assert notice != "rgb(255, 243, 224)"  # not the old peach
    finally:
        set_theme(page, "JupyterLab Light")
    box.press("Escape")  # leaves the edit
    assert not panel.locator(".snw-edit-banner").is_visible() and box.input_value() == ""


HISTORY = r"""
from sensenova_widget.panel import panel_state
from PIL import Image

thumb = panel_state.thumbnail_url(Image.new("RGB", (640, 480), (200, 120, 30)))
RICH = ("Euler's identity $e^{i\\pi} + 1 = 0$ and the Gaussian integral:\n\n"
        "$$\\int_{-\\infty}^{\\infty} e^{-x^2}\\,dx = \\sqrt{\\pi}$$\n\n"
        "| model | images | video |\n|---|---|---|\n| vision | 6 | 1 |\n| text | 0 | 0 |\n\n"
        "first line\nsecond line")
turns = []
for i in range(30):
    if i % 2 == 0:
        attachments = [{"kind": "image", "label": "photo", "thumb": thumb}] if i == 28 else []
        turns.append({"id": f"u{i}", "role": "user", "text": f"Question {i}", "attachments": attachments})
    else:
        text = RICH if i == 29 else f"Answer {i}.\n\nSome more text to give the turn some height."
        turns.append({"id": f"a{i}", "role": "assistant", "text": text, "status": "done", "model": "m",
                      "notice": None, "omitted": [], "usage": None, "error": None})
panel = snw.ChatPanel()
panel.conversation = turns
panel.attach(Image.new("RGB", (2000, 1000), (20, 160, 90)), label="big")
"""


def test_history_opens_at_the_end_with_math_tables_line_breaks_and_a_lightbox(open_panel):
    page, panel = open_panel("history.ipynb", ["import sensenova_widget as snw", HISTORY, "panel"])
    log = panel.locator(".snw-log")
    page.wait_for_function(
        "el => el.querySelectorAll('.snw-turn').length === 30", arg=panel.element_handle(), timeout=30_000
    )
    gap = log.evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight")
    assert log.evaluate("el => el.scrollHeight > el.clientHeight + 200") and gap < 24  # opened at the end

    reply = panel.locator(".snw-assistant").last.locator(".snw-markdown")
    assert reply.locator("math").count() == 2  # inline and display, typeset as MathML
    assert reply.locator("math[display='block']").count() == 1
    assert reply.locator("math msup, math msqrt").count() >= 2 and "$" not in reply.inner_text()
    cell = reply.locator("td").first
    border = cell.evaluate(
        "el => { const s = getComputedStyle(el); return"
        " [s.borderTopStyle, parseFloat(s.borderTopWidth), parseFloat(s.paddingLeft)]; }"
    )
    assert border[0] == "solid" and border[1] >= 1 and border[2] >= 4
    lines = reply.locator("p").last
    assert lines.locator("br").count() == 1
    assert lines.inner_text().split("\n") == ["first line", "second line"]  # two lines stay two lines

    log.evaluate("el => { el.style.maxHeight = 'none'; }")
    panel.locator(".snw-turn").nth(27).scroll_into_view_if_needed()
    shot = save_screenshot(panel.locator(".snw-turn").nth(29), "panel-math-reply.png")
    log.evaluate("el => { el.style.maxHeight = ''; el.scrollTop = el.scrollHeight; }")
    copy_to_docs(save_screenshot(panel, "panel-math.png"), "panel-math.png")
    assert shot.exists()

    # a sent thumbnail opens larger over the panel; Escape closes it
    box = panel.locator(".snw-lightbox")
    panel.locator(".snw-attachment img").first.click()
    assert box.is_visible() and box.locator("img").evaluate("el => el.src.startsWith('data:image/')")
    page.keyboard.press("Escape")
    assert box.is_hidden()
    # a staged one is fetched larger from the kernel (never kept in a trait); a click closes it
    panel.locator(".snw-staged-item img").click()
    larger = box.locator("img").element_handle()
    page.wait_for_function("el => el.naturalWidth > 256", arg=larger, timeout=30_000)
    box.click()
    assert box.is_hidden()
    assert panel.locator(".snw-turn").count() == 30  # nothing was sent or lost
