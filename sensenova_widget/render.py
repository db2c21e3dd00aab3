"""Model Markdown -> HTML in the kernel, for every output that is not the panel's own script.

The `%%sensenova` magic's final output, `Reply._repr_html_` and saved transcripts all show
model text, and model text is untrusted: a prompt injection hidden in an image or a document can
make the model write anything. A notebook's own outputs are *trusted* by JupyterLab, which then
sanitizes nothing, so this renderer is the only guard. Its promises:

- no script: raw HTML in the text is escaped (mistune `escape=True`), links carry only
  http(s)/mailto hrefs, and the MathML made from TeX is rebuilt from an allow-list;
- no fetch: a remote image (`![x](https://...)`, protocol-relative, relative, reference-style)
  becomes a link showing its alt text and URL, never an `<img>`; only `data:` PNG/JPEG/GIF/WebP
  images stay inline (never SVG); no model text reaches a `style` attribute; the CSS has no url();
- readable: `$...$` / `$$...$$` become MathML (latex2mathml, no fonts or scripts; Chromium
  draws MathML itself), tables get borders, single line breaks stay, code blocks are
  highlighted by Pygments with colours from JupyterLab's theme variables, with a Copy button.

`markdown_html(text)` is a fragment that needs `CSS`; `output_html(text)` is the fragment with
its stylesheet, for one self-contained notebook output.

The Copy button: JupyterLab runs inline handlers in a trusted output (it sets innerHTML as is)
and its sanitizer strips them from untrusted ones (a notebook opened from elsewhere), where the
button does nothing but the code stays selectable. The handler is this module's own constant;
it reads the code from the page's text, never from an attribute model text could fill.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

from .media.formats import is_web_data_url

__all__ = ["CSS", "clean_mathml", "highlight_code", "markdown_html", "math_html", "output_html", "safe_href"]

LINK_REL = "noopener noreferrer nofollow"
MAX_TEX = 4000  # longer TeX is shown as source: latex2mathml is not fast on huge input

# `$...$`: no space after the opening `$`, none before the closing one, and the closing one not
# followed by a digit, so "$5 and $10" stays text. `$$...$$` inline is display math.
_INLINE_MATH = (
    r"\$\$(?P<display_math_text>(?:[^$\\]|\\.)+?)\$\$|"
    r"\$(?![\s$])(?P<math_text>(?:[^$\\\n]|\\.)*?(?:[^$\s\\]|\\.))\$(?!\d)"
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# A fence's language becomes a class only when it is one word of these characters and the
# highlighter knows it: an info string like `py&#32;jp-Dialog` would otherwise add any class
# (enough to lay a fixed full-window box over the notebook). js/src/markdown.js has the same rule.
LANGUAGE_NAME = re.compile(r"[A-Za-z0-9+#.-]{1,32}")
_UNSAFE_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


def markdown_html(text: str) -> str:
    """Untrusted Markdown as a safe HTML fragment (`<div class="snw-rendered">`); needs `CSS`."""
    return f'<div class="snw-rendered">{_markdown()(text or "")}</div>'


def output_html(text: str) -> str:
    """`markdown_html` with its stylesheet: one self-contained notebook output."""
    return f"<style>{CSS}</style>" + markdown_html(text)


def _escape(value: str) -> str:
    return html.escape(value, quote=True)


# -- URLs ---------------------------------------------------------------------------------------


def safe_href(url: str) -> str | None:
    """The URL as an href when it is http(s) or mailto (protocol-relative becomes https), else None."""
    url = url.strip()
    if not url or _UNSAFE_URL_CHARS.search(url):
        return None
    if url.startswith("//"):
        url = "https:" + url
    scheme = _SCHEME.match(url)
    if scheme is None:
        return None  # relative: in JupyterLab it would point into the notebook server
    name = scheme.group(1).lower()
    if name in ("http", "https"):
        return url if url[len(name) + 1 :].startswith("//") and len(url) > len(name) + 3 else None
    if name == "mailto":
        return url
    return None


def _link(href: str, label_html: str, css_class: str = "", title: str | None = None) -> str:
    extra = f' class="{css_class}"' if css_class else ""
    extra += f' title="{_escape(title)}"' if title else ""
    return f'<a href="{_escape(href)}" rel="{LINK_REL}" target="_blank"{extra}>{label_html}</a>'


# -- math ---------------------------------------------------------------------------------------

# The MathML that may come out of latex2mathml, rebuilt element by element: anything else (an
# `href`, a `style`, HTML smuggled through `\text{...}`) is dropped and its text kept, escaped.
_MATHML_TAGS = frozenset(
    str.split(
        "math mrow mi mn mo ms mtext mspace msub msup msubsup mfrac msqrt mroot mover munder munderover "
        "mtable mtr mtd mstyle mpadded mphantom menclose merror mmultiscripts mprescripts none semantics "
        "annotation mlabeledtr maligngroup malignmark mfenced"
    )
)
_MATHML_ATTRS = frozenset(
    str.split(
        "display mathvariant stretchy fence separator lspace rspace minsize maxsize symmetric largeop "
        "movablelimits accent accentunder columnalign rowalign columnspacing rowspacing columnlines rowlines "
        "frame framespacing linethickness width height depth notation displaystyle scriptlevel mathcolor "
        "mathbackground mathsize open close separators align form equalrows equalcolumns columnspan rowspan "
        "voffset linebreak"
    )
)
_ATTR_VALUE = re.compile(r"[#A-Za-z0-9 .%+-]{0,64}")
# Lengths (a \rule, \hspace, a raised box...) are kept within [MIN_EM, MAX_EM] em, so a formula
# cannot grow over the page or reach outside its bubble (a transcript has no stylesheet to clip it).
_LENGTH_ATTRS = frozenset(
    "width height depth voffset lspace rspace minsize maxsize mathsize linethickness".split()
)
_LENGTH = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))\s*(em|ex|pt|px|pc|mm|cm|in|mu|%)?")
_EM_PER_UNIT = {
    "em": 1,
    "ex": 0.5,
    "pt": 1 / 12,
    "px": 1 / 16,
    "pc": 1,
    "mm": 0.236,
    "cm": 2.36,
    "in": 6,
    "mu": 1 / 18,
    "%": 0.01,
    None: 1,
}
MIN_EM, MAX_EM = -1.0, 20.0


def _bounded_length(name: str, value: str) -> str | None:
    """A length attribute's value clamped to [MIN_EM, MAX_EM] em; None for one that is not a length
    (a keyword such as `thin` or `infinity` is kept as it is)."""
    if name not in _LENGTH_ATTRS:
        return value
    found = _LENGTH.fullmatch(value.strip())
    if found is None:
        return value if value.strip().isalpha() else None
    number, unit = float(found.group(1)), found.group(2)
    if name in ("mathsize", "minsize", "maxsize") and unit in ("%", None):
        scale = number / 100 if unit == "%" else number
        return value if 0 <= scale <= 4 else None  # a size factor: up to four times the text
    em = number * _EM_PER_UNIT[unit]
    return value if MIN_EM <= em <= MAX_EM else f"{min(max(em, MIN_EM), MAX_EM):g}em"


_VOID_MATHML = frozenset({"mspace", "none", "mprescripts", "malignmark", "maligngroup"})


class _MathMLFilter(HTMLParser):
    """Re-emit only allow-listed MathML tags/attributes, balanced, with all text escaped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _MATHML_TAGS:
            return
        bounded = (
            (name, _bounded_length(name, value))
            for name, value in attrs
            if name in _MATHML_ATTRS and value is not None and _ATTR_VALUE.fullmatch(value)
        )
        kept = "".join(f' {name}="{_escape(value)}"' for name, value in bounded if value is not None)
        if tag == "math":
            kept = ' xmlns="http://www.w3.org/1998/Math/MathML"' + kept
        if tag in _VOID_MATHML:
            self.out.append(f"<{tag}{kept}></{tag}>")
            return
        self.out.append(f"<{tag}{kept}>")
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _MATHML_TAGS:
            self.handle_starttag(tag, attrs)
            if tag not in _VOID_MATHML:
                self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.out.append(f"</{self.stack.pop()}>")

    def handle_data(self, data: str) -> None:
        self.out.append(_escape(data))

    def result(self) -> str:
        self.close()
        return "".join(self.out) + "".join(f"</{tag}>" for tag in reversed(self.stack))


def clean_mathml(markup: str) -> str:
    """Only MathML elements and presentational attributes of `markup`, all text escaped."""
    cleaner = _MathMLFilter()
    cleaner.feed(markup)
    return cleaner.result()


def math_html(tex: str, *, display: bool = False) -> str:
    """TeX as MathML (latex2mathml), or its source in <code> when it cannot be converted."""
    try:
        if len(tex) > MAX_TEX:
            raise ValueError("too long")
        from latex2mathml.converter import convert

        mathml = clean_mathml(convert(tex.strip(), display="block" if display else "inline"))
    except Exception:  # noqa: BLE001 - ImportError, or any parse error of the converter: show the source
        fence = "$$" if display else "$"
        source = f'<code class="snw-tex">{_escape(fence + tex + fence)}</code>'
        return f'<span class="snw-math-display">{source}</span>' if display else source
    # a span either way: display math written inline (`a $$x$$ b`) sits inside a <p>
    return f'<span class="{"snw-math-display" if display else "snw-math"}">{mathml}</span>'


# -- code ---------------------------------------------------------------------------------------

# Our own handler (see the module docstring); it copies the <pre>'s text beside the button.
_COPY_JS = (
    "var b=this,p=b.closest('.snw-code').querySelector('pre'),t=p.textContent;"
    "function ok(){b.textContent='Copied';setTimeout(function(){b.textContent='Copy'},1500)}"
    "function sel(){var r=document.createRange();r.selectNodeContents(p);var s=getSelection();"
    "s.removeAllRanges();s.addRange(r);try{document.execCommand('copy');ok()}catch(e){}}"
    "if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(t).then(ok,sel)}"
    "else{sel()}"
)
_COPY_BUTTON = (
    f'<button type="button" class="snw-copy" title="Copy the code" '
    f'onclick="{_escape(_COPY_JS)}">Copy</button>'
)


def highlight_code(code: str, language: str | None = None) -> str:
    """A fenced block as highlighted HTML (Pygments classes, coloured by `CSS`) with a Copy button.
    `language` is a label when it is a LANGUAGE_NAME, and a class only when Pygments knows it."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    name = language if language and LANGUAGE_NAME.fullmatch(language) else None
    try:
        lexer = get_lexer_by_name(name, stripnl=False, ensurenl=False) if name else None
    except ClassNotFound:
        lexer = None
    body = highlight(code, lexer, HtmlFormatter(nowrap=True)) if lexer is not None else _escape(code)
    label = f'<span class="snw-code-lang">{_escape(name)}</span>' if name else ""
    lang_class = f" language-{name}" if lexer is not None else ""
    return (  # the label and Copy in a bar of their own above the code: nothing can cover a line
        f'<div class="snw-code"><div class="snw-code-bar">{label}{_COPY_BUTTON}</div>'
        f'<pre class="snw-hl"><code class="snw-hl-code{lang_class}">{body}</code></pre></div>\n'
    )


# -- the Markdown renderer ----------------------------------------------------------------------


def _render_class() -> type:
    from mistune import HTMLRenderer
    from mistune.util import striptags

    class SafeRenderer(HTMLRenderer):
        """mistune's HTML renderer with this module's rules for links, images, code and breaks."""

        def text(self, text: str) -> str:
            return _escape(html.unescape(text))  # entities shown as what they mean, always escaped

        def link(self, text: str, url: str, title: str | None = None) -> str:
            href = safe_href(url)
            if href is None:
                return f'<span class="snw-link-off">{text}</span>'  # the label alone, no URL
            if "<a " in text:  # a link around an image-link: no anchor inside an anchor
                return text + " " + _link(href, "\u2197", "snw-link", title or url)
            return _link(href, text, "", title)

        def image(self, text: str, url: str, title: str | None = None) -> str:
            alt = html.unescape(striptags(text)).strip()
            if is_web_data_url(url):
                title_attr = f' title="{_escape(title)}"' if title else ""
                return f'<img src="{_escape(url.strip())}" alt="{_escape(alt)}"{title_attr} class="snw-img">'
            label = _escape(f"image: {alt}" if alt else "image")
            href = safe_href(url)
            shown = _escape(url if len(url) <= 200 else url[:199] + "\u2026")
            if href is None:  # relative: its path as text; data: (not one of the four) or script: hidden
                shown = "not shown" if _SCHEME.match(url.strip()) else shown
                return f'<span class="snw-image-link">{label} <span class="snw-url">({shown})</span></span>'
            return _link(href, f'{label} <span class="snw-url">({shown})</span>', "snw-image-link", title)

        def block_code(self, code: str, info: str | None = None) -> str:
            language = info.strip().split(None, 1)[0] if info and info.strip() else None
            return highlight_code(code, html.unescape(language) if language else None)

        def softbreak(self) -> str:
            return "<br>\n"

    return SafeRenderer


def _render_math_inline(renderer: Any, text: str) -> str:
    return math_html(text)


def _render_math_block(renderer: Any, text: str) -> str:
    return math_html(text, display=True)


def _parse_inline_math(inline: Any, m: Any, state: Any) -> int:
    display = m.group("display_math_text")
    kind = "block_math" if display is not None else "inline_math"
    state.append_token({"type": kind, "raw": display if display is not None else m.group("math_text")})
    return m.end()


def _math_plugin(md: Any) -> None:
    """mistune's math plugin with the stricter `$` rule above and MathML output."""
    from mistune.plugins import math as mistune_math

    md.block.register(
        "block_math", mistune_math.BLOCK_MATH_PATTERN, mistune_math.parse_block_math, before="list"
    )
    md.inline.register("inline_math", _INLINE_MATH, _parse_inline_math, before="codespan")
    md.renderer.register("block_math", _render_math_block)
    md.renderer.register("inline_math", _render_math_inline)


def _table_plugin(md: Any) -> None:
    """mistune's tables, wrapped so that a wide one scrolls instead of widening the output."""
    from mistune.plugins.table import table

    table(md)
    md.renderer.register("table", lambda _, text: f'<div class="snw-table"><table>\n{text}</table></div>\n')


@functools.cache
def _markdown() -> Callable[[str], str]:
    import mistune
    import pygments.formatters.html  # noqa: F401 - loaded before any reply
    from mistune.plugins.math import math_in_list, math_in_quote

    try:
        import latex2mathml.converter  # noqa: F401
    except ImportError:  # math then shows as TeX source
        pass
    return mistune.create_markdown(
        escape=True,
        renderer=_render_class()(escape=True),
        plugins=["strikethrough", _table_plugin, "url", _math_plugin, math_in_quote, math_in_list],
    )


# -- the stylesheet -----------------------------------------------------------------------------

_TOKEN_COLOURS = {  # Pygments short classes -> JupyterLab's editor colour variable (and a fallback)
    "keyword": ("k kc kd kn kp kr ow", "#008000"),
    "variable-3": ("kt", "#008855"),
    "string": ("s sa sb sc dl sd s2 se sh si sx sr s1 ss", "#ba2121"),
    "number": ("m mb mf mh mi il mo", "#080"),
    "comment": ("c ch cm cp cpf c1 cs", "#408080"),
    "operator": ("o", "#aa22ff"),
    "builtin": ("nb bp", "#008000"),
    "def": ("nf fm nc nn ne", "#00f"),
    "meta": ("nd", "#aa22ff"),
    "attribute": ("na", "#00c"),
    "tag": ("nt", "#008000"),
    "variable-2": ("nv vc vg vi vm", "#05a"),
    "punctuation": ("p", "#05a"),
    "error": ("err gd gr gt", "#f00"),
    "header": ("gh gu", "blue"),
}


def _token_css() -> str:
    rules = []
    for variable, (classes, fallback) in _TOKEN_COLOURS.items():
        selector = ", ".join(f".snw-rendered .snw-hl .{name}" for name in classes.split())
        rules.append(f"{selector} {{ color: var(--jp-mirror-editor-{variable}-color, {fallback}); }}")
    rules.append(
        ".snw-rendered .snw-hl .c, .snw-rendered .snw-hl .c1, .snw-rendered .snw-hl .cm "
        "{ font-style: italic; }"
    )
    rules.append(
        ".snw-rendered .snw-hl .k, .snw-rendered .snw-hl .kn, .snw-rendered .snw-hl .kd "
        "{ font-weight: bold; }"
    )
    return "\n".join(rules)


CSS = (
    """
.snw-rendered { line-height: 1.5; overflow-wrap: anywhere; }
.snw-rendered .snw-table { overflow-x: auto; margin: 0.5em 0; }
.snw-rendered table { border-collapse: collapse; margin: 0; }
.snw-rendered th, .snw-rendered td {
  border: 1px solid var(--jp-border-color1, #bdbdbd); padding: 4px 10px; vertical-align: top; }
.snw-rendered th { background: var(--jp-layout-color2, #eee); font-weight: bold; }
.snw-rendered tbody tr:nth-child(even) { background: var(--jp-layout-color1, transparent); }
.snw-rendered code { font-family: var(--jp-code-font-family, monospace); font-size: 0.95em;
  background: var(--jp-cell-editor-background, #f5f5f5); padding: 0 3px; border-radius: 3px; }
.snw-rendered .snw-code { margin: 6px 0; }
.snw-rendered .snw-code-bar { display: flex; align-items: center; gap: 6px; min-height: 20px;
  padding: 2px 4px 2px 8px; border: 1px solid var(--jp-border-color2, #e0e0e0); border-bottom: none;
  border-radius: 4px 4px 0 0; background: var(--jp-layout-color2, #eee); }
.snw-rendered .snw-code > pre.snw-hl { background: var(--jp-cell-editor-background, #f5f5f5);
  color: var(--jp-content-font-color1, inherit); border: 1px solid var(--jp-border-color2, #e0e0e0);
  padding: 8px; border-radius: 0 0 4px 4px; overflow-x: auto; margin: 0; }
.snw-rendered .snw-code > pre.snw-hl code { padding: 0; background: none; font-size: inherit; }
.snw-rendered .snw-copy { margin-left: auto; font-size: 11px;
  padding: 1px 6px; opacity: 0.8; cursor: pointer; color: var(--jp-ui-font-color1, inherit);
  background: var(--jp-layout-color2, #eee); border: 1px solid var(--jp-border-color1, #bdbdbd);
  border-radius: 3px; }
.snw-rendered .snw-copy:hover { opacity: 1; }
.snw-rendered .snw-code-lang { font-size: 11px; color: var(--jp-ui-font-color2, #888); }
.snw-rendered .snw-math { display: inline-block; max-width: 100%; overflow: clip; contain: paint; }
.snw-rendered .snw-math-display { display: block; margin: 0.5em 0; overflow: auto; contain: paint; }
.snw-rendered .snw-math-display math { display: block; }
.snw-rendered .snw-image-link { font-size: 0.95em; }
.snw-rendered .snw-url { color: var(--jp-ui-font-color2, #888); word-break: break-all; }
.snw-rendered .snw-link-off { text-decoration: underline dotted; }
.snw-rendered img.snw-img { max-width: 100%; }
""".strip()
    + "\n"
    + _token_css()
)
