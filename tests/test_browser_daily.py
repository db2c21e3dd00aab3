"""The panel as a daily tool (issue 25), in Chromium on real JupyterLab and Notebook 7 pages.

Keys typed in the panel never reach the notebook in either page; a reader scrolled up during a
stream stays put; a kernel interrupt stops a reply; the conversation list opens a saved
conversation; a code block's Insert adds a cell below the panel's.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SLOW = 'snw.Client(headers={"x-emulator-fault": "delta_delay=0.05,reply_tokens=400"})'


@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_shift_enter_in_the_panel_is_a_new_line_and_runs_no_cell(open_panel, ui):
    page, panel = open_panel(
        f"keys-{ui}.ipynb", ["import sensenova_widget as snw", "panel = snw.ChatPanel()\npanel"], ui=ui
    )
    cells = page.locator(".jp-Notebook:visible .jp-Cell")
    prompt = page.locator(".jp-Notebook:visible .jp-CodeCell").nth(1).locator(".jp-InputPrompt")
    before = (cells.count(), prompt.inner_text())
    box = panel.locator(".snw-input")
    box.click()
    page.keyboard.type("line one")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("line two abddmy")
    assert box.input_value() == "line one\nline two abddmy"
    panel.get_by_role("button", name="Settings").focus()
    for key in ["a", "b", "d", "d", "m", "y", "Shift+Enter", "Control+Enter", "Alt+Enter"]:
        page.keyboard.press(key)
    page.wait_for_timeout(500)  # what a reached shortcut would do is done by now
    assert (cells.count(), prompt.inner_text()) == before  # no cell added, deleted, re-typed or rerun
    assert panel.is_visible() and box.input_value() == "line one\nline two abddmy"
