"""Hardening II (issue 24) in a real JupyterLab, nbconvert and Debian's Chromium.

1. Exports: a conversation whose every untrusted text (what was said, the reasoning, a server's
   error, the request id, the model's name, a picture's label, the title) is a payload aimed at a
   "stranger" server on 127.0.0.1 is exported as .ipynb and .md; the notebook is opened in
   JupyterLab, the Markdown is shown as a Markdown cell there, and the notebook converted by
   nbconvert to HTML is opened in Chromium. The stranger must see exactly one request: the one a
   control cell of our own makes (so a fetch WOULD be seen), and none from the payloads.
2. Fence info strings: in the panel and in the kernel's rendered output (what the magic shows),
   no element gets a class of the page's own (jp-, lm-) or a fixed position.
3. Math: a formula that sets sizes, raises boxes or kerns far away draws nothing outside its
   reply's box: no point outside the box hits the formula (hit-testing follows the clipping).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import nbformat
import pytest
from browser_helpers import (
    open_notebook,
    panel_with_saved_replies,
    run_all,
    stranger,
    wait_kernel_idle,
    write_notebook,
)
from render_payloads import payloads

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def export_payloads(origin: str) -> list[str]:
    """Markdown and HTML that a viewer would fetch from: the issue's forms and their kin."""
    return [
        f"![multi\nline\nalt]({origin}/multi-line-alt.png)",
        f"![a \\] b]({origin}/escaped-bracket.png) ![c \\` d]({origin}/escaped-tick.png)",
        f"[x]: {origin}/definition.png\n\n![a][x] ![x]",
        f"![<{origin}/auto-in-alt>](<{origin}/angle.png>) <{origin}/autolink.png>",
        f'<img src="{origin}/img.png"><img srcset="{origin}/srcset.png 2x">',
        f'<picture><source srcset="{origin}/source.png"></picture><input type=image src={origin}/input.png>',
        f'<p style="background-image:url({origin}/style.png)">s</p>'
        f"<style>*{{background:url({origin}/sheet.png)}}</style>",
        f'<svg><image href="{origin}/svg.png"/></svg><video poster="{origin}/poster.png"></video>',
        f"</details><img src={origin}/after-details.png>\n\n<details><img src={origin}/in-details.png>",
        f"```\n```\n![fence]({origin}/after-fence.png)\n````\n![fence4]({origin}/after-fence4.png)",
        f"~~~\n![tilde]({origin}/tilde.png)\n~~~\n`` ` `` ![tick]({origin}/after-tick.png)",
        f"$\\href{{{origin}/math-href}}{{x}}$ $$\\style{{background:url({origin}/math-style)}}{{y}}$$",
        f"<div>\n\n![in html block]({origin}/html-block.png)\n\n</div>",
        f"    ![indented]({origin}/indented.png)\n> ![quoted]({origin}/quoted.png)",
    ]


def hostile_turns(texts: list[str]):
    from sensenova_widget.conversation.turns import Answer, Turn

    part = {"type": "image_base64", "image_base64": PNG}
    return [
        Turn(
            text,
            media=(part,),
            labels=(text,),
            answers=(
                Answer(
                    text, reasoning=text, error=text, model=text, request_id=text, finish_reason="stopped"
                ),
            ),
        )
        for text in texts
    ]


CONTROL = "control-fetch.png"  # the one request the stranger must see: our own cell's image


def settle(page) -> None:
    page.wait_for_load_state("networkidle")
    time.sleep(1.0)  # an image or a stylesheet a render added would be requested by now


def markdown_notebook(path, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_exports_opened_in_jupyterlab_and_converted_by_nbconvert_fetch_nothing(lab, tmp_path):
    from sensenova_widget.conversation.export import export

    with stranger() as (origin, seen):
        texts = payloads(origin) + export_payloads(origin)
        turns = hostile_turns(texts)
        title = f"![title]({origin}/title.png) <img src={origin}/title-tag.png>"
        exported = export(turns, lab["root"] / "exported.ipynb", title=title)
        markdown = export(turns, "md", title=title)
        control = f"![control]({origin}/{CONTROL})"
        nb = nbformat.read(exported, as_version=4)
        nb.cells.append(nbformat.v4.new_markdown_cell(control))
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, exported)
        markdown_notebook(lab["root"] / "exported-md.ipynb", [markdown, control])
        cells = len(nb.cells)
        for text in texts[:3]:
            assert (
                text.splitlines()[0] in exported.read_text() or json.dumps(text)[1:20] in exported.read_text()
            )

        requested: list[str] = []
        for name, expected in (("exported.ipynb", cells), ("exported-md.ipynb", 2)):
            page = lab["browser"].new_page(viewport={"width": 1280, "height": 1000})
            page.on("request", lambda request: requested.append(request.url))
            try:
                open_notebook(page, lab["url"], name)
                shown = "document.querySelectorAll('.jp-MarkdownOutput')"
                page.wait_for_function(f"() => {shown}.length >= {expected}", timeout=120_000)
                images = "[...document.querySelectorAll('.jp-MarkdownOutput img')]"
                page.wait_for_function(
                    f"() => {images}.some(i => i.src.endsWith('{CONTROL}'))", timeout=60_000
                )
                settle(page)
                rendered = page.locator(".jp-Notebook:visible .jp-MarkdownOutput")
                assert f"{origin}/img.png" in "\n".join(rendered.all_inner_texts())  # shown, as text
                assert page.title() != "pwned"
            finally:
                page.close()
            stray = [url for url in requested if url.startswith(origin) and not url.endswith(CONTROL)]
            assert stray == [], (name, stray)
            assert [line for line in seen if CONTROL not in line] == [], (name, seen)
            assert any(CONTROL in line for line in seen), (
                "the control image was not fetched: nothing was measured"
            )
            seen.clear()

        # nbconvert's HTML of the exported notebook, opened in Chromium (only the file itself and the
        # stranger are reachable; a CDN script nbconvert's template names is refused, not counted)
        html_path = tmp_path / "exported.html"
        subprocess.run(
            [sys.executable, "-m", "nbconvert", "--to", "html", str(exported), "--output-dir", str(tmp_path)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        page = lab["browser"].new_page(viewport={"width": 1280, "height": 1000})
        requested.clear()
        page.on("request", lambda request: requested.append(request.url))
        reachable = ("file:", origin)
        page.route(
            "**/*",
            lambda route: route.continue_() if route.request.url.startswith(reachable) else route.abort(),
        )
        try:
            page.goto(html_path.as_uri())
            loaded = f"[...document.images].some(i => i.src.endsWith('{CONTROL}') && i.complete)"
            page.wait_for_function(f"() => {loaded}", timeout=60_000)
            settle(page)
            assert f"{origin}/img.png" in page.inner_text("body")
            assert page.title() != "pwned"
        finally:
            page.close()
        stray = [url for url in requested if url.startswith(origin) and not url.endswith(CONTROL)]
        assert stray == [] and [line for line in seen if CONTROL not in line] == [], (stray, seen)
        assert any(CONTROL in line for line in seen)


FENCES = [
    "```py&#32;jp-Dialog\nprint('covered?')\n```",
    "```python&#9;lm-Widget&#10;jp-mod-fullscreen\nx = 1\n```",
    "```jp-Dialog\nplain\n```",
    '```x"onmouseover="alert(1)\ny\n```',
    "```{.jp-Dialog}\nz\n```",
]
MATH = [  # near offsets first: they would land in view, beside the bubble, if not clipped
    r"$a\kern-8em b$ and $x\mathllap{\rule{12em}{1em}}$",
    r"$\raisebox{4em}{up}$ $\raisebox{-4em}{down}$ $\mathrlap{\hspace{30em}x}$",
    r"$\rule{100em}{100em}$",
    r"$a\hspace{-60em}b$ and $a\kern-1000pt b$",
    r"$\raisebox{-40em}{x}$ $\raisebox{40em}{y}$",
    r"$$\mspace{-9000mu}x\rule{-5em}{80em}$$",
    r"$\Huge\Huge\Huge x$ $\color{red}{\rule{30em}{3em}}$",
    r"text $\style{position:fixed;top:0;left:0;width:100vw;height:100vh}{x}$ $\htmlStyle{position:fixed}{y}$",
]
PAGE_CLASS_OR_FIXED = """(roots) => roots.flatMap(root => [...root.querySelectorAll('*')]).filter(el =>
    [...el.classList].some(c => /^(jp|lm|p|mod)-/.test(c)) || getComputedStyle(el).position === 'fixed'
).map(el => el.outerHTML.slice(0, 120))"""
# For each bubble: every point of a formula's pieces that lies outside the bubble's box (and in
# the viewport) must hit something else: what is clipped is not hit. Also counts the pieces that
# reach outside at all, so the test knows it measured something.
MATH_OUTSIDE = """([bubbles, formulas]) => {
    const hits = [];
    let reaching = 0;
    for (const bubble of document.querySelectorAll(bubbles)) {
        bubble.scrollIntoView({block: 'center'});
        const b = bubble.getBoundingClientRect();
        for (const piece of bubble.querySelectorAll(formulas)) {
            const r = piece.getBoundingClientRect();
            if (r.left < b.left || r.right > b.right || r.top < b.top || r.bottom > b.bottom) reaching++;
            const xs = [r.left + 1, (r.left + r.right) / 2, r.right - 1];
            const ys = [r.top + 1, (r.top + r.bottom) / 2, r.bottom - 1];
            for (const x of xs) for (const y of ys) {
                if (x >= b.left && x <= b.right && y >= b.top && y <= b.bottom) continue;
                if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) continue;
                const hit = document.elementFromPoint(x, y);
                const formula = '.snw-math, .snw-math-block, .snw-math-display';
                if (hit && hit.closest(formula)) hits.push(piece.tagName + '@' + x + ',' + y);
            }
        }
    }
    return {hits, reaching};
}"""


def test_fence_classes_and_math_stay_inside_in_the_panel_and_the_rendered_output(lab):
    texts = FENCES + MATH
    name = "hardening-render.ipynb"
    write_notebook(
        lab["root"] / name,
        [
            "import sensenova_widget as snw\nfrom IPython.display import HTML, display\n"
            "from sensenova_widget.render import output_html",
            panel_with_saved_replies(texts),
            f"for text in {texts!r}:\n    display(HTML(output_html(text)))",
        ],
    )
    page = lab["browser"].new_page(viewport={"width": 1280, "height": 1000})
    try:
        open_notebook(page, lab["url"], name)
        run_all(page)
        panel = page.locator(".jp-Notebook:visible .snw-panel").last
        panel.wait_for(timeout=60_000)
        replies = "document.querySelectorAll('.snw-panel .snw-assistant .snw-markdown')"
        page.wait_for_function(f"() => {replies}.length >= {len(texts)}", timeout=120_000)
        rendered = "document.querySelectorAll('.jp-OutputArea-output .snw-rendered')"
        page.wait_for_function(f"() => {rendered}.length >= {len(texts)}", timeout=120_000)
        wait_kernel_idle(page)
        log = panel.locator(".snw-log")
        outputs = page.locator(".jp-Notebook:visible .jp-OutputArea-output .snw-rendered")
        assert log.evaluate_all(PAGE_CLASS_OR_FIXED) == []
        assert outputs.count() >= len(texts) and outputs.evaluate_all(PAGE_CLASS_OR_FIXED) == []
        assert (
            log.locator("code.language-py, code.language-python").count() == 2
        )  # known names still highlight
        assert page.locator(".jp-Dialog").count() == 0
        formulas = ".snw-math *, .snw-math-block *, .snw-math-display *"
        panel_math = page.evaluate(MATH_OUTSIDE, [".snw-panel .snw-assistant", formulas])
        assert panel_math["hits"] == [] and panel_math["reaching"] > 0, panel_math["hits"][:10]  # it tried
        kernel_math = page.evaluate(MATH_OUTSIDE, [".jp-OutputArea-output .snw-rendered", formulas])
        assert kernel_math["hits"] == [], kernel_math["hits"][:10]
    finally:
        page.close()
