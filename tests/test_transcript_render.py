"""Issue 14.1 for the third renderer: saved transcripts and HTML exports render model text with the
magic's renderer (`render.markdown_html`) and then `sanitize_html`; every hostile payload of
tests/render_payloads.py comes out inert, and what reads well (math, code, tables) stays."""

from __future__ import annotations

import pytest
from render_payloads import audit, payloads

from sensenova_widget.conversation.export import export
from sensenova_widget.conversation.transcript import safe_markdown_html, sanitize_html, transcript_html
from sensenova_widget.conversation.turns import Answer, Turn

ORIGIN = "http://127.0.0.1:9"


@pytest.mark.parametrize("payload", payloads(ORIGIN))
def test_every_payload_is_inert_in_transcripts_and_html_exports(payload):
    turns = [Turn("tell me", answers=(Answer(payload, reasoning=payload),))]
    for markup in (transcript_html(turns), safe_markdown_html(payload)):
        assert audit(markup, copy_handler="") == []
        assert "<button" not in markup and "<style" not in markup
    page = export(turns, "html")
    body = page[page.index("</style>") + len("</style>") :] if "</style>" in page else page
    assert audit(body, copy_handler="") == []


def test_a_remote_image_is_a_link_showing_its_alt_text_and_url():
    markup = safe_markdown_html(f"![chart]({ORIGIN}/img?q=secret)")
    assert f'<a href="{ORIGIN}/img?q=secret" rel="nofollow noopener noreferrer">' in markup
    assert f'image: chart <span class="snw-url">({ORIGIN}/img?q=secret)</span>' in markup
    assert "<img" not in markup


def test_math_code_and_tables_still_read_well():
    markup = safe_markdown_html("$\\frac{a}{b}$\n\n| a |\n|---|\n| 1 |\n\n```python\nprint(1)\n```")
    assert "<mfrac>" in markup and markup.count("<math") == 1  # MathML, rebuilt by render.clean_mathml
    assert "<td>1</td>" in markup
    assert '<span class="nb">print</span>' in markup  # highlighted, without the Copy button
    assert "Copy" not in markup


def test_math_smuggled_into_html_keeps_only_clean_mathml():
    markup = sanitize_html(
        '<math><mi href="javascript:x" onclick="y()">z</mi><img src="https://e/x">'
        "<script>bad()</script></math>after<math><mi>open"
    )
    assert audit(markup, copy_handler="") == []
    assert "<mi>z</mi>" in markup and markup.endswith("</mi></math>") and "after" in markup
    assert "href" not in markup and "onclick" not in markup
