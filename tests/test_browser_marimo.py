"""The chat panel in marimo: notebooks/marimo_chat.py served by `marimo run --headless`, in Chromium.

marimo has no IPython namespace; the "From notebook" picker must still list the app's variables
(`photo`), and a message typed in the panel must stream a reply from the emulator, whose address
the marimo server (and so its kernel) gets from the environment. Keys typed in the panel (Enter,
Shift+Enter, Ctrl+Enter, letters) never bubble out of it to marimo's own shortcuts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from browser_helpers import (
    OUTPUT,
    ROOT,
    chromium,
    free_port,
    require_chromium,
    stop_server,
    wait_until_serving,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

NOTEBOOK = ROOT / "notebooks" / "marimo_chat.py"
# The panel's background and text colour, and marimo's --background and --foreground as colours.
MARIMO_COLOURS = """el => {
    const probe = document.createElement("div");
    probe.style.background = "var(--background)";
    probe.style.color = "var(--foreground)";
    document.body.appendChild(probe);
    const marimo = getComputedStyle(probe);
    const out = {panel: getComputedStyle(el).backgroundColor, text: getComputedStyle(el).color,
                 marimo: marimo.backgroundColor, marimoText: marimo.color};
    probe.remove();
    return out;
}"""

# Records each keydown but a lone modifier's that bubbles up to marimo's document or window (where
# its shortcuts listen).
LISTEN_FOR_LEAKED_KEYS = """() => { window.snwLeaked = [];
    const modifiers = ["Control", "Shift", "Alt", "Meta"];
    for (const target of [document, window])
        target.addEventListener("keydown", (event) => {
            if (!modifiers.includes(event.key)) window.snwLeaked.push(event.key);
        }); }"""


def marimo_app(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """`marimo run` on a free port, no token, no browser; returns the process and its URL."""
    port = free_port()
    out = open(log, "w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "marimo",
            "-y",
            "run",
            str(NOTEBOOK),
            "--headless",
            "--no-token",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env={**os.environ, **env, "MARIMO_SKIP_UPDATE_CHECK": "1"},
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=NOTEBOOK.parent,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(process, url + "/health", "marimo", str(log))
    except RuntimeError:
        process.kill()
        raise
    return process, url


def test_marimo_panel_picker_lists_a_variable_and_a_message_streams(emulator, tmp_path):
    require_chromium()
    env = {
        "SENSENOVA_API_BASE": emulator.base_url,
        "SENSENOVA_API_BASE_FILE": emulator.file_base_url,
        "SENSENOVA_API_KEY": emulator.api_key,
        "SENSENOVA_ACCESS_KEY_ID": "",
        "SENSENOVA_SECRET_ACCESS_KEY": "",
        "PYTHONPATH": str(ROOT),
    }
    emulator.configure(delta_delay=0.05, reply_tokens=80)  # slow enough to see it stream
    OUTPUT.mkdir(parents=True, exist_ok=True)
    process, url = marimo_app(env, OUTPUT / "marimo.log")
    try:
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(url)
            panel = page.locator(".snw-panel").first
            panel.wait_for(timeout=90_000)
            panel.locator(".snw-picker-button").click()
            item = panel.locator(".snw-picker-item[data-name='photo']")
            item.wait_for(timeout=30_000)  # marimo's globals, found without IPython
            item.click()  # selected; Attach stages the selection (one request with every name)
            panel.locator(".snw-picker-attach").click()
            panel.locator(".snw-staged-item").wait_for(timeout=30_000)
            assert "photo" in panel.locator(".snw-staged-item").inner_text()
            # keys typed in the message box stay in the panel (issue 25): marimo's page never sees
            # them bubble up (no cell runs, no shortcut), Shift+Enter is a new line, Enter sends
            page.evaluate(LISTEN_FOR_LEAKED_KEYS)
            box = panel.locator(".snw-input")
            box.click()
            page.keyboard.type("Hello from marimo")
            page.keyboard.press("Shift+Enter")
            page.keyboard.type("abddmy")
            assert box.input_value() == "Hello from marimo\nabddmy"
            page.keyboard.press("Enter")
            reply = panel.locator(".snw-assistant").last
            reply.locator(".snw-streaming").wait_for(timeout=60_000)  # deltas arrive through marimo
            reply.locator(".snw-markdown").wait_for(timeout=60_000)
            text = reply.inner_text()
            box.click()
            page.keyboard.type("and again")
            page.keyboard.press("Control+Enter")  # sends too (a second turn), and runs no cell
            panel.locator(".snw-assistant").nth(1).locator(".snw-markdown").wait_for(timeout=60_000)
            assert page.evaluate("() => window.snwLeaked") == []
            page.screenshot(path=str(OUTPUT / "marimo-panel.png"))
            # connect() says where it connected once: one output, no repeated (quoted) copy
            said = page.get_by_text("Asking http").all_inner_texts()
            assert len(said) == 1 and not said[0].startswith("'"), said
            # it fits marimo's output (scrolled beyond 610 px): the panel's log scrolls inside
            assert panel.evaluate("el => el.classList.contains('snw-host-marimo')")
            assert panel.bounding_box()["height"] <= 610
            # marimo's dark theme: the panel's colours are computed from marimo's own variables
            page.evaluate(
                "() => { for (const n of [document.documentElement, document.body])"
                " n.classList.add('dark', 'dark-theme'); }"
            )
            colours = panel.evaluate(MARIMO_COLOURS)
            assert colours["panel"] == colours["marimo"] != "rgb(255, 255, 255)", colours
            assert colours["text"] == colours["marimoText"], colours
            page.screenshot(path=str(OUTPUT / "marimo-panel-dark.png"))
            page.close()
    finally:
        stop_server(process)
    assert "Hello from marimo" in text and "320x240" in text  # the emulator saw the text and the picture
    assert any("Hello from marimo" in str(body) for body in emulator.requests)
    assert not (NOTEBOOK.parent / "__marimo__").exists()  # marimo left no session folder beside it
