"""A saved panel in a real JupyterLab and Chromium: the Export menu, a kernel restart (the old
panel says so), the same cell run again (the conversation is back), the saved notebook
through nbconvert (the transcript's text is there for readers without a kernel), and the saved
notebook reopened on a new kernel (its panel says it is not connected instead of taking messages
that go nowhere).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest
from browser_helpers import (
    open_notebook,
    run_all,
    save_screenshot,
    wait_kernel_idle,
    wait_saved,
    write_notebook,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CELLS = ["import sensenova_widget as snw", "panel = snw.ChatPanel(name='lighthouse')\npanel"]


def _panel(page):
    panel = page.locator(".jp-Notebook:visible .snw-panel").last
    panel.wait_for(timeout=60_000)
    return panel


def test_restart_shows_the_stale_notice_and_the_cell_brings_the_conversation_back(lab, tmp_path):
    write_notebook(lab["root"] / "lasting.ipynb", CELLS)
    page = lab["browser"].new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    open_notebook(page, lab["url"], "lasting.ipynb")
    run_all(page)
    panel = _panel(page)
    wait_kernel_idle(page)
    assert panel.locator(".snw-name").inner_text() == "lighthouse"
    box = panel.locator(".snw-input")
    box.fill("Remember the lighthouse keeper")
    box.press("Enter")
    panel.locator(".snw-assistant .snw-markdown").last.wait_for(timeout=30_000)
    # the static transcript is in the cell's outputs, hidden while its panel is live
    transcript = page.locator(".jp-Notebook:visible .sensenova-transcript").last
    transcript.wait_for(state="attached", timeout=30_000)
    deadline = time.monotonic() + 30
    while "Remember the lighthouse keeper" not in transcript.text_content():
        assert time.monotonic() < deadline, "the transcript was not refreshed after the turn"
        time.sleep(0.3)
    assert not transcript.is_visible()

    with page.expect_download() as download:
        panel.locator(".snw-export").click()
        panel.get_by_role("menuitem", name="Markdown download").click()
    exported = download.value
    assert exported.suggested_filename == "lighthouse.md"
    assert "Remember the lighthouse keeper" in open(exported.path(), encoding="utf-8").read()

    page.click(".jp-Notebook:visible")
    page.get_by_role("menuitem", name="Kernel", exact=True).click()
    page.get_by_role("menuitem", name="Restart Kernel…").click()
    page.locator(".jp-Dialog .jp-mod-accept").click()
    stale = panel.locator(".snw-stale")
    stale.wait_for(state="visible", timeout=60_000)
    assert "Run the cell again" in stale.inner_text() and "Cannot send" not in panel.inner_text()
    assert panel.locator(".snw-input").is_disabled()
    save_screenshot(panel, "stale-panel.png")
    wait_kernel_idle(page)

    page.click(".jp-Notebook:visible")
    page.keyboard.press("Control+s")
    saved = lab["root"] / "lasting.ipynb"
    wait_saved(saved, "Remember the lighthouse keeper", "its transcript")
    html = tmp_path / "lasting.html"
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(saved), "--output", str(html)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert "Remember the lighthouse keeper" in html.read_text(encoding="utf-8")
    assert "sensenova-transcript" in html.read_text(encoding="utf-8")

    run_all(page)  # the same cells in the new kernel
    wait_kernel_idle(page)
    again = _panel(page)
    again.locator(".snw-assistant .snw-markdown").last.wait_for(timeout=30_000)
    assert "Remember the lighthouse keeper" in again.locator(".snw-log").inner_text()
    assert not again.locator(".snw-stale").is_visible()
    assert again.locator(".snw-input").is_enabled()
    page.close()


def _end_session(url: str, name: str) -> None:
    """Shut the notebook's kernel down through the server's REST API, as closing it for the day does."""
    with urllib.request.urlopen(url + "/api/sessions", timeout=30) as response:
        sessions = [s for s in json.load(response) if s["path"] == name]
    for session in sessions:
        request = urllib.request.Request(f"{url}/api/sessions/{session['id']}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()


def test_a_saved_panel_reopened_on_a_new_kernel_says_it_is_not_connected(lab):
    write_notebook(lab["root"] / "reopened.ipynb", CELLS)
    page = lab["browser"].new_page(viewport={"width": 1280, "height": 1000})
    open_notebook(page, lab["url"], "reopened.ipynb")
    run_all(page)
    panel = _panel(page)
    box = panel.locator(".snw-input")
    box.fill("Remember the lighthouse keeper")
    box.press("Enter")
    panel.locator(".snw-assistant .snw-markdown").last.wait_for(timeout=30_000)
    page.click(".jp-Notebook:visible")
    page.keyboard.press("Control+s")
    wait_saved(lab["root"] / "reopened.ipynb", "Remember the lighthouse keeper", "its widget state")
    page.close()
    _end_session(lab["url"], "reopened.ipynb")

    page = lab["browser"].new_page(viewport={"width": 1280, "height": 1000})
    open_notebook(page, lab["url"], "reopened.ipynb")  # a new kernel, which never made that panel
    panel = _panel(page)
    assert "Remember the lighthouse keeper" in panel.locator(".snw-log").inner_text()  # the saved view
    stale = panel.locator(".snw-stale")
    stale.wait_for(state="visible", timeout=60_000)
    assert "Run the cell again" in stale.inner_text()
    assert panel.locator(".snw-input").is_disabled()
    page.close()
