"""The kernel-side renderer of model text (`sensenova_widget.render`), in process.

Model text is untrusted: whatever it holds, the HTML must not run script or make the browser
fetch anything (tests/render_payloads.py lists the attempts and audits the HTML). Within that,
math is typeset as MathML, tables and line breaks survive, code is highlighted with a Copy
button. The same HTML is what `%%sensenova` shows and what `Reply._repr_html_` returns.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from render_payloads import audit, magic_output, payloads
from test_magic import ipython, run, shell  # noqa: F401 - the magic's in-process fixtures

from sensenova_widget import render
from sensenova_widget.render import (
    CSS,
    markdown_html,
    math_html,
    output_html,
    safe_href,
)

ORIGIN = "https://stranger.example"
COPY_JS = re.search(r'onclick="([^"]*)"', render._COPY_BUTTON).group(1)


def copy_handler() -> str:
    import html

    return html.unescape(COPY_JS)


def tags(markup: str) -> list[tuple[str, dict[str, str]]]:
    found: list[tuple[str, dict[str, str]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, {name: value or "" for name, value in attrs}))

    Collect().feed(markup)
    return found


@pytest.mark.parametrize("payload", payloads(ORIGIN))
def test_no_payload_can_run_script_or_fetch(payload):
    shown = markdown_html(payload)
    assert audit(shown, copy_handler()) == [], shown
    styles = [attrs["style"] for _, attrs in tags(shown) if "style" in attrs]
    assert all(re.fullmatch(r"text-align:(left|center|right)", s) for s in styles)  # none from the text


def test_the_stylesheet_fetches_nothing_and_is_scoped():
    assert "url(" not in CSS and "@import" not in CSS
    selectors = [rule.split("{")[0] for rule in CSS.split("}") if "{" in rule]
    parts = [part.strip() for selector in selectors for part in selector.split(",")]
    assert parts and all(part.startswith(".snw-rendered") for part in parts)
    out = output_html("hi")
    assert out.startswith(f"<style>{CSS}</style>") and out.endswith(markdown_html("hi"))


def test_raw_html_stays_text():
    shown = markdown_html('<img src=x onerror="alert(1)"> <script>alert(2)</script> <b style="x">b</b>')
    assert "&lt;img src=x" in shown and "&lt;script&gt;" in shown and "&lt;b style=" in shown
    assert [tag for tag, _ in tags(shown)] == ["div", "p"]


def test_a_remote_image_becomes_a_link_showing_alt_and_url():
    url = "https://host.example/pic.png?q=secret"
    shown = markdown_html(f"see ![a cat]({url})")
    (link,) = [attrs for tag, attrs in tags(shown) if tag == "a"]
    assert link["href"] == url and link["target"] == "_blank"
    assert link["rel"] == "noopener noreferrer nofollow"
    assert "a cat" in shown and f"({url.replace('&', '&amp;')})" in shown
    assert "<img" not in shown


def test_reference_protocol_relative_and_relative_images_are_never_images():
    shown = markdown_html(
        "![r][ref] ![p](//host.example/p.png) ![l](local.png)\n\n[ref]: http://host.example/r.png"
    )
    hrefs = [attrs["href"] for tag, attrs in tags(shown) if tag == "a"]
    assert hrefs == ["http://host.example/r.png", "https://host.example/p.png"]
    assert "<img" not in shown and "(local.png)" in shown  # a relative path: text, no link into the server


def test_data_images_stay_inline_only_for_raster_types():
    png = "data:image/png;base64,iVBORw0KGgo="
    svg = "data:image/svg+xml;base64,PHN2Zz4="
    shown = markdown_html(f"![dot]({png}) ![w](data:image/webp;base64,UklGRg==) ![s]({svg})")
    images = [attrs for tag, attrs in tags(shown) if tag == "img"]
    assert [image["src"] for image in images] == [png, "data:image/webp;base64,UklGRg=="]
    assert images[0]["alt"] == "dot"
    assert "svg" not in "".join(attrs.get("src", "") + attrs.get("href", "") for _, attrs in tags(shown))
    assert "image: s" in shown  # the refused one still says an image was there


@pytest.mark.parametrize(
    "url, href",
    [
        ("https://a.example/x", "https://a.example/x"),
        ("http://a.example", "http://a.example"),
        ("mailto:a@b.example", "mailto:a@b.example"),
        ("//a.example/x", "https://a.example/x"),
        ("javascript:alert(1)", None),
        (" JavaScript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("vbscript:x", None),
        ("data:text/html,x", None),
        ("file:///etc/passwd", None),
        ("relative/x", None),
        ("https:no-slashes", None),
        ("https://", None),
        ("http://a.example/\\x", None),
    ],
)
def test_links_carry_only_http_and_mailto_hrefs(url, href):
    assert safe_href(url) == href


def test_a_refused_link_keeps_its_label_and_drops_its_url():
    shown = markdown_html("[click me](javascript:alert(1)) and [mail](mailto:x@y.example)")
    assert "click me" in shown and "javascript" not in shown
    assert [attrs["href"] for tag, attrs in tags(shown) if tag == "a"] == ["mailto:x@y.example"]


def test_entities_read_as_what_they_mean_and_stay_escaped():
    shown = markdown_html("&lt;script&gt; &amp; &#106;ava")
    assert "&lt;script&gt; &amp; java" in shown and "<script" not in shown


def test_inline_and_display_math_become_mathml():
    shown = markdown_html("inline $x^2$ here\n\n$$\n\\frac{a}{b}\n$$\n\nand $$y$$ too")
    assert shown.count("<math ") == 3
    mathml = 'xmlns="http://www.w3.org/1998/Math/MathML"'
    assert f'<span class="snw-math"><math {mathml} display="inline">' in shown
    assert shown.count('display="block"') == 2 and "<mfrac>" in shown and "<msup>" in shown
    assert "$" not in shown


@pytest.mark.parametrize("text", ["costs $5 and $10", "$ x$", "$x $", "between $3$4", "a $ b $ c"])
def test_dollars_that_are_not_math_stay_text(text):
    shown = markdown_html(text)
    assert "<math" not in shown and text.replace("$", "") in shown.replace("$", "")


def test_tex_cannot_inject_html_or_links():
    shown = markdown_html(
        r"$<img src=x onerror=alert(1)>$ $\text{<b>x</b><script>y</script>}$ "
        r"$\href{javascript:alert(1)}{z}$ $\style{background:url(http://h.example)}{w}$"
    )
    assert audit(shown, copy_handler()) == []
    assert {tag for tag, _ in tags(shown)} <= {"div", "p", "span", "math", "mrow", "mi", "mo", "mn", "mtext"}
    assert "href" not in shown and "style" not in shown and "&lt;" in shown


def test_tex_that_does_not_convert_shows_as_source_in_code():
    assert math_html(r"\frac{") == r'<code class="snw-tex">$\frac{$</code>'
    assert math_html("<b>", display=False).startswith('<span class="snw-math">')  # converts, escaped
    long = math_html("x" * (render.MAX_TEX + 1), display=True)
    assert long.startswith('<span class="snw-math-display"><code class="snw-tex">$$xxx')


def test_tables_and_single_line_breaks():
    shown = markdown_html("| a | b |\n|---|:-:|\n| 1 | <i>2</i> |\n\nfirst line\nsecond line")
    assert '<div class="snw-table"><table>' in shown and "<th>a</th>" in shown
    assert '<td style="text-align:center">&lt;i&gt;2&lt;/i&gt;</td>' in shown
    assert "first line<br>\nsecond line" in shown
    assert "border: 1px solid var(--jp-border-color1" in CSS and "padding: 4px 10px" in CSS


def test_code_is_highlighted_with_theme_colours_and_a_copy_button():
    shown = markdown_html("```python\ndef f():\n    return '<b>'  # note\n```")
    assert '<span class="k">def</span>' in shown and '<span class="c1"># note</span>' in shown
    # the string's markup is escaped (Pygments 2.21 stopped escaping the quotes themselves)
    assert re.search(r"(&#39;|')&lt;b&gt;(&#39;|')", shown) and "<b>" not in shown
    (button,) = [attrs for tag, attrs in tags(shown) if tag == "button"]
    assert button["onclick"] == copy_handler() and button["type"] == "button"
    assert "var(--jp-mirror-editor-keyword-color" in CSS and "var(--jp-mirror-editor-comment-color" in CSS
    assert ".snw-rendered .snw-hl .k," in CSS


def test_unknown_or_hostile_code_languages_are_plain_and_escaped():
    shown = markdown_html('```"><img src=x onerror=alert(1)>\n<b>code</b>\n```\n\n```nosuchlang\nx = 1\n```')
    assert audit(shown, copy_handler()) == []
    assert "&lt;b&gt;code&lt;/b&gt;" in shown and '<code class="snw-hl-code">x = 1' in shown  # no class
    assert '<span class="snw-code-lang">nosuchlang</span>' in shown  # a well-formed name: a label only


FRAGMENTS = payloads(ORIGIN) + [
    "$",
    "$$",
    "\n",
    "[",
    "]",
    "(",
    ")",
    "!",
    "<",
    ">",
    "`",
    "```",
    "|",
    "\\",
    "&",
    "javascript:",
    "data:image/png;base64,AAAA",
    "x",
    " ",
    "*",
    "\n\n",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=8))
def test_any_mix_of_payload_pieces_stays_safe(pieces):
    assert audit(markdown_html("".join(pieces)), copy_handler()) == []


def test_the_audit_catches_what_plain_mistune_lets_through():
    import mistune

    plain = mistune.create_markdown(escape=True, plugins=["strikethrough", "table", "url", "math"])
    caught = [problem for payload in payloads(ORIGIN) for problem in audit(plain(payload), copy_handler())]
    assert any("stranger.example/img?q=secret" in problem for problem in caught)
    assert any("stranger.example/reference.png" in problem for problem in caught)
    hostile = '<p onclick="x"><a href="javascript:x">a</a><b style="color:red;background:URL(/x)">'
    assert audit(hostile, "") == [
        "<p onclick='x'>",
        "<a href='javascript:x'>",
        "<b style='color:red;background:URL(/x)'>",
    ]


def test_the_magic_and_reply_repr_show_this_rendering_with_its_footer(run, client):  # noqa: F811
    for payload in payloads(ORIGIN)[:4]:
        shown = magic_output(run, payload)
        assert shown.startswith(output_html(payload)) and "reply tokens" in shown
        assert audit(shown, copy_handler()) == []
    reply = client.chat("a table\n\n| a |\n|---|\n| $x$ |")
    assert reply._repr_html_().startswith(output_html(reply.text)) and "<math " in reply._repr_html_()
