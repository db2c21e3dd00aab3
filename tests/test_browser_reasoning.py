"""A reasoning reply in the panel, in Chromium: its thinking streams live into an open <details>
above the answer, which collapses to "Thought for N s" when the answer starts; the answer never
holds the reasoning. The emulator is slowed with its delta_delay fault so the live part is seen."""

from __future__ import annotations

import pytest

from browser_helpers import lab_with_emulator, open_notebook, run_all, wait_kernel_idle, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SLOW = 'snw.Client(headers={"x-emulator-fault": "delta_delay=0.15"})'


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with lab_with_emulator(tmp_path_factory.mktemp("reasoning-lab") / "root") as running:
        yield running


def test_reasoning_streams_open_above_the_answer_and_collapses_when_it_starts(lab):
    write_notebook(lab["root"] / "reasoning.ipynb", [
        "import sensenova_widget as snw",
        f'panel = snw.ChatPanel(client={SLOW}, model="SenseNova-V6-5-Pro", thinking=True)\npanel',
    ])
    page = lab["browser"].new_page(viewport={"width": 1280, "height": 1000})
    try:
        open_notebook(page, lab["url"], "reasoning.ipynb")
        run_all(page)
        panel = page.locator(".jp-Notebook:visible .snw-panel").last
        panel.wait_for(timeout=60_000)
        wait_kernel_idle(page)
        panel.get_by_role("button", name="Settings").click()
        assert panel.locator(".snw-field-thinking").is_visible()  # a model that reasons: the toggle
        assert panel.locator(".snw-thinking").is_checked()
        box = panel.locator(".snw-input")
        box.fill("what is in the picture of the quiet lake")
        box.press("Enter")
        details = panel.locator(".snw-assistant .snw-reasoning").last
        body = details.locator(".snw-reasoning-body")
        page.wait_for_function("el => el.textContent.length > 10", arg=body.element_handle(), timeout=30_000)
        # live: open and visible while the reasoning arrives, before any answer text
        assert details.evaluate("el => el.open") and details.is_visible()
        assert "Thinking" in details.locator("summary").inner_text()
        assert panel.locator(".snw-assistant .snw-streaming").last.inner_text().strip() == ""
        # the answer starts: the section collapses and says how long it thought
        streaming = panel.locator(".snw-assistant .snw-streaming").last
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
    finally:
        page.close()
