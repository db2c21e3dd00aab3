"""Hardening II, classes 2 and 3 in the kernel's renderer (the magic's output, `Reply._repr_html_`,
transcripts and HTML exports): a fence's info string never becomes a class of the page's own, and
TeX lengths stay within bounds. The panel and the rendered page are in test_browser_hardening.py."""

from __future__ import annotations

import re

from sensenova_widget.conversation.transcript import safe_markdown_html
from sensenova_widget.render import LANGUAGE_NAME, MAX_EM, MIN_EM, markdown_html

INFO_STRINGS = [
    "py&#32;jp-Dialog",  # an entity space: two classes once unescaped
    "py&#x9;lm-Widget&#10;jp-mod-fullscreen",
    "python jp-Dialog",
    "jp-Dialog",
    'x"onmouseover="alert(1)',
    "&#x70;ython",
    "{.jp-Dialog}",
    "py\u00a0jp-Dialog",  # a no-break space is no separator for Markdown, one for nobody else
    "a" * 40,
]
PAGE_CLASS = re.compile(r"\b(jp|lm|p|mod)-")


def class_tokens(markup: str) -> list[str]:
    return [token for value in re.findall(r'class="([^"]*)"', markup) for token in value.split()]


def test_a_fence_info_string_becomes_a_class_only_as_a_known_language_name():
    for info in INFO_STRINGS:
        for render in (markdown_html, safe_markdown_html):
            shown = render(f"```{info}\ncode()\n```")
            tokens = class_tokens(shown)
            assert not [t for t in tokens if PAGE_CLASS.match(t) or '"' in t], (info, tokens)
            languages = [t[len("language-") :] for t in tokens if t.startswith("language-")]
            assert all(LANGUAGE_NAME.fullmatch(name) for name in languages), (info, languages)
    assert "language-python" in class_tokens(markdown_html("```python\nx = 1\n```"))
    assert "language-c++" in class_tokens(markdown_html("```c++\nint x;\n```"))


def test_a_transcript_keeps_no_class_of_the_page_even_from_raw_markup():
    from sensenova_widget.conversation.transcript import sanitize_html

    for forged in ("jp-Dialog", "snw-code jp-Dialog", "a b c d e f", "language-py lm-Widget"):
        assert "class=" not in sanitize_html(f'<div class="{forged}">x</div>')
    assert 'class="snw-code"' in sanitize_html('<div class="snw-code">x</div>')


TEX = [
    r"\rule{100em}{100em}",
    r"\rule{-100em}{5em}",
    r"a\hspace{-50em}b",
    r"a\hspace{500cm}b",
    r"\mspace{-9000mu}x",
    r"\kern-1000pt x",
    r"\raisebox{-40em}{x}",
    r"\Huge\Huge x",
    r"{\color{red}\rule{30em}{30em}}",
    r"\mathbin{\rule{1000in}{1000in}}",
]
LENGTH = re.compile(r'\b(width|height|depth|voffset|lspace|rspace|linethickness)="([^"]*)"')
UNITS = {"em": 1, "ex": 0.5, "pt": 1 / 12, "px": 1 / 16, "mm": 0.236, "cm": 2.36, "in": 6, "mu": 1 / 18}


def em_of(value: str) -> float | None:
    found = re.fullmatch(r"([+-]?[\d.]+)\s*([a-z%]*)", value.strip())
    if not found:
        return None
    return float(found.group(1)) * UNITS.get(found.group(2) or "em", 0.01)


def test_tex_lengths_stay_within_bounds_in_every_kernel_render():
    for tex in TEX:
        for render in (markdown_html, safe_markdown_html):
            shown = render(f"inline ${tex}$ and\n\n$$\n{tex}\n$$\n")
            for name, value in LENGTH.findall(shown):
                em = em_of(value)
                assert em is None or MIN_EM <= em <= MAX_EM, (tex, name, value)
            assert "style=" not in shown.split("</style>")[-1], tex
