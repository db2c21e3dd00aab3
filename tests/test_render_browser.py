"""The `%%sensenova` magic's final HTML for hostile replies, loaded in Debian's Chromium.

Each payload of tests/render_payloads.py goes through the real magic (an in-process IPython
shell against the emulator, which echoes the prompt as the reply), and the final outputs are
loaded together into one page while a "stranger" HTTP server on 127.0.0.1, the target of every
payload, counts requests: it must see none, and the page must request nothing but itself and
run no script. The same page shows typeset math, bordered tables, kept line breaks, theme-coloured
highlighting and a working Copy button.
"""

from __future__ import annotations

import pytest
from browser_helpers import chromium, free_port, require_chromium, stranger
from render_payloads import magic_output, payloads
from test_magic import ipython, run, shell  # noqa: F401 - the magic's in-process fixtures

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

GOOD = (
    "| a | b |\n|---|---|\n| 1 | 2 |\n\nline one\nline two\n\n$\\frac{a}{b}$ and $$x^2$$\n\n"
    "```python\ndef f():\n    return 1\n```"
)


def test_the_magic_output_fetches_nothing_runs_nothing_and_reads_well_in_chromium(run):  # noqa: F811
    require_chromium()
    with stranger() as (origin, seen), chromium() as browser:
        outputs = [magic_output(run, payload) for payload in payloads(origin)]
        good = magic_output(run, GOOD)
        page_url = f"http://127.0.0.1:{free_port()}/notebook"  # served by the route below, a secure context
        body = "".join(f'<div class="output">{html}</div>' for html in outputs)
        document = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>safe</title></head><body>{body}"
            f'<div id="good">{good}</div></body></html>'
        )
        context = browser.new_context()
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=page_url.rsplit("/", 1)[0])
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.route(page_url, lambda route: route.fulfill(status=200, content_type="text/html", body=document))
        try:
            page.goto(page_url)
            page.wait_for_load_state("networkidle")
            for link in page.locator("a").all():  # the title-attribute payload tries onmouseover
                link.hover()
            page.wait_for_load_state("networkidle")
            assert seen == [] and requested == [page_url]
            assert page.title() == "safe"
            found = "document.querySelectorAll('script, iframe, object, embed, svg, video').length"
            assert page.evaluate(found) == 0
            assert page.evaluate("[...document.images].every(i => i.src.startsWith('data:image/'))")
            remote = page.locator(f'a.snw-image-link[href="{origin}/img?q=secret-conversation"]')
            assert remote.count() == 1 and "image: x" in remote.inner_text()

            good_box = page.locator("#good")
            layout = good_box.evaluate("""g => {
                const frac = g.querySelector('mfrac');
                const [num, den] = frac.children;
                const td = g.querySelector('td'), cs = getComputedStyle(td);
                const p = [...g.querySelectorAll('p')].find(p => p.textContent.includes('line one'));
                const range = t => { const r = document.createRange(); r.selectNodeContents(t); return r; };
                const texts = [...p.childNodes].filter(n => n.nodeType === 3 && n.textContent.trim());
                const kw = g.querySelector('.snw-hl .k'), pre = g.querySelector('pre.snw-hl');
                return {
                  mathml: frac instanceof MathMLElement,
                  stacked: num.getBoundingClientRect().bottom <= den.getBoundingClientRect().top + 1,
                  display: g.querySelectorAll('.snw-math-display math').length,
                  border: [cs.borderTopStyle, cs.borderTopWidth], padding: parseFloat(cs.paddingLeft),
                  lines: texts.map(t => range(t).getBoundingClientRect().top),
                  keyword: getComputedStyle(kw).color, plain: getComputedStyle(pre).color,
                };
            }""")
            assert layout["mathml"] and layout["stacked"] and layout["display"] == 1
            assert layout["border"] == ["solid", "1px"] and layout["padding"] > 0
            assert len(layout["lines"]) == 2 and layout["lines"][1] > layout["lines"][0]
            assert layout["keyword"] != layout["plain"]

            # a theme's editor colour (here a made-up one set as JupyterLab's themes do) is followed
            theme = "document.body.style.setProperty('--jp-mirror-editor-keyword-color', 'rgb(1,2,3)')"
            page.evaluate(theme)
            keyword = good_box.locator(".snw-hl .k").first
            assert keyword.evaluate("k => getComputedStyle(k).color") == "rgb(1, 2, 3)"

            # the language label and Copy sit in a bar above the code, never over its first line
            bar = good_box.locator(".snw-code-bar").first.bounding_box()
            code_top = good_box.locator("pre.snw-hl").first.bounding_box()["y"]
            assert bar["y"] + bar["height"] <= code_top + 1
            button = good_box.locator("button.snw-copy")
            button.click()
            page.wait_for_function("b => b.textContent === 'Copied'", arg=button.element_handle())
            assert page.evaluate("navigator.clipboard.readText()") == "def f():\n    return 1\n"
            assert seen == [] and requested == [page_url]
        finally:
            context.close()
