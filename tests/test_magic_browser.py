"""`%%sensenova` in a real JupyterLab and Debian's Chromium: the reply grows in ONE output, in place,
and the final Markdown cannot run what the model wrote (a notebook's own outputs are trusted by
JupyterLab, which then sanitizes nothing itself).
"""

from __future__ import annotations

import time

import pytest
from browser_helpers import (
    lab_with_emulator,
    open_notebook,
    run_all,
    save_screenshot,
    stranger,
    wait_kernel_idle,
    write_notebook,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CURSOR = "\u258c"
ATTACK = (
    '**Bold** <img src=x onerror="document.title=\'pwned\'"> <script>document.title="pwned"</script> '
    '[link](javascript:document.title="pwned")'
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with lab_with_emulator(tmp_path_factory.mktemp("magic-lab") / "root") as running:
        yield running


def test_reply_grows_in_one_output_and_renders_without_running_model_html(lab):
    write_notebook(
        lab["root"] / "magic.ipynb",
        [
            "%load_ext sensenova_widget",
            "import sensenova_widget as snw\nfrom sensenova_widget import magic\n"
            "magic.use_client(snw.Client(headers={'x-emulator-fault': 'delta_delay=0.05,reply_tokens=80'}))",
            f"%%sensenova -o reply\n{ATTACK}",
        ],
    )
    page = lab["browser"].new_page(viewport={"width": 1100, "height": 900})
    try:
        open_notebook(page, lab["url"], "magic.ipynb")
        run_all(page)
        cell = page.locator(".jp-Notebook:visible .jp-CodeCell").nth(2)
        outputs = cell.locator(".jp-OutputArea-output")
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # watch the output while the reply streams
            text = outputs.first.inner_text() if outputs.count() == 1 else ""
            if text and (not seen or seen[-1] != text):
                seen.append(text)
            if text and CURSOR not in text and "reply tokens" in text:
                break
            time.sleep(0.1)
        wait_kernel_idle(page)
        growing = [text for text in seen if text.rstrip().endswith(CURSOR)]
        assert len(growing) >= 3, seen  # the text grew in place, several times
        assert all(len(a) <= len(b) for a, b in zip(growing, growing[1:]))
        assert outputs.count() == 1  # one output, replaced in place, no second copy of the reply
        final = outputs.first
        assert final.locator("strong", has_text="Bold").count() == 1
        assert final.locator("img, script, a[href^='javascript']").count() == 0
        assert "<script>" in final.inner_text() and "reply tokens" in final.inner_text()
        assert page.title() != "pwned"
        save_screenshot(cell, "magic-cell.png")
    finally:
        page.close()


def test_final_output_in_jupyterlab_fetches_nothing_typesets_and_copies(lab):
    """Issue 14.1 and 16.3-5 in a real JupyterLab: a remote image is a link (the stranger gets no
    request), math is MathML, the table has borders, and Copy works in the notebook's trusted output."""
    with stranger() as (origin, seen):
        reply = (
            f"![x]({origin}/img?q=secret) $\\frac{{{{a}}}}{{{{b}}}}$\n\n| a |\n|---|\n| 1 |\n\n"
            "one\ntwo\n\n```python\nprint(1)\n```"
        )
        write_notebook(lab["root"] / "render.ipynb", ["%load_ext sensenova_widget", f"%%sensenova\n{reply}"])
        context = lab["browser"].new_context(viewport={"width": 1100, "height": 900})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab["url"])
        page = context.new_page()
        try:
            open_notebook(page, lab["url"], "render.ipynb")
            run_all(page)
            output = page.locator(".jp-Notebook:visible .jp-CodeCell").nth(1).locator(".jp-OutputArea-output")
            output.locator(".snw-rendered").wait_for(timeout=60_000)
            wait_kernel_idle(page)
            rendered = output.locator(".snw-rendered")
            assert rendered.locator("img").count() == 0
            assert rendered.locator(f'a.snw-image-link[href="{origin}/img?q=secret"]').count() == 1
            assert rendered.locator("mfrac").count() == 1
            assert (
                rendered.locator("td").first.evaluate("td => getComputedStyle(td).borderTopStyle") == "solid"
            )
            assert rendered.locator("br").count() >= 1
            button = rendered.locator("button.snw-copy")
            button.click()
            page.wait_for_function("b => b.textContent === 'Copied'", arg=button.element_handle())
            assert page.evaluate("navigator.clipboard.readText()") == "print(1)\n"
            save_screenshot(output, "magic-rendered.png")
            assert seen == []
        finally:
            context.close()
