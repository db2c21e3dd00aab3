"""Export a conversation: Markdown, a self-contained HTML page, or a notebook.

`export(turns, "trip.md" | "trip.html" | "trip.ipynb")` writes a file; `export(turns, "md")`
(or "html", "ipynb") returns the text instead. Turns are `turns.Turn`s or wire messages.

- Markdown: images as files in `trip_files/` beside it (`embed_images=True`: inline `data:`
  URLs). Text stays as written, except that a Markdown image in it (`![..](https://..)`) is
  turned into a link: a Markdown viewer would fetch it, and a prompt injection can use such
  a fetch to send the conversation away.
- HTML: one file, inline CSS, pictures as `data:` URLs, text rendered by the transcript's
  safe renderer, and a Content-Security-Policy that forbids scripts and every remote fetch.
- ipynb: one Markdown cell per turn, pictures as cell attachments, each turn's ending and
  usage in the cell's metadata.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .media.formats import b64, data_url, image_mime
from .transcript import (
    Picture,
    Said,
    spoken,
    turn_footer,
    turn_heading,
    turn_pictures,
    turns_html,
)
from .turns import Turn

__all__ = ["FORMATS", "defuse_remote_images", "export", "to_html", "to_markdown", "to_notebook"]

FORMATS = {"md": "markdown", "markdown": "markdown", "html": "html", "htm": "html", "ipynb": "ipynb"}
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp"}
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_PAGE_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 860px; margin: 2em auto;
       padding: 0 1em; line-height: 1.5; color: #222; }
pre { background: #f6f8fa; padding: 0.6em; overflow-x: auto; border-radius: 4px; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.92em; }
table { border-collapse: collapse; } th, td { border: 1px solid #ccc; padding: 2px 6px; }
blockquote { color: #555; border-left: 3px solid #ddd; margin-left: 0; padding-left: 0.8em; }
"""

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)[^`].*?\1|(`+)")
_IMAGE = re.compile(r"!\[([^\]\n]*)\](?!\(\s*<?data:image/)")
# raw HTML a Markdown viewer (JupyterLab's Markdown cells included) would load or run
_FETCHING_TAG = re.compile(
    r"<(?=/?\s*(img|script|iframe|frame|video|audio|source|track|object|embed|link|style|"
    r"svg|picture|input|form|meta|base|image)\b)",
    re.IGNORECASE,
)


def _defuse(text: str) -> str:
    return _FETCHING_TAG.sub("&lt;", _IMAGE.sub(r"[\1]", text))


def defuse_remote_images(markdown: str) -> str:
    """`![alt](url)` -> `[alt](url)` and `<img ...>` -> `&lt;img ...>` outside code.

    A link is followed on a click; an image is fetched by every viewer as soon as it renders.
    Inline `data:` pictures stay pictures.
    """
    out, fence = [], ""
    for line in markdown.splitlines(keepends=True):
        opened = _FENCE.match(line)
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
            out.append(line)
        elif opened:
            fence = opened.group(1)
            out.append(line)
        else:
            pieces, last = [], 0
            for span in _CODE_SPAN.finditer(line):
                pieces.append(_defuse(line[last : span.start()]) + span.group(0))
                last = span.end()
            out.append("".join(pieces) + _defuse(line[last:]))
    return "".join(out)


def _markdown_turn(turn: Said, number: int, picture_ref: Callable[[Picture, str], str]) -> str:
    """One turn as Markdown; `picture_ref(picture, name)` stores a picture and says where it is."""
    blocks = [f"### {turn_heading(turn)}"]
    refs = []
    for index, picture in enumerate(turn_pictures(turn, full=True), 1):
        name = f"turn{number}-{index}"
        if picture.data:
            refs.append(f"![{picture.label}]({picture_ref(picture, name)})")
        elif picture.url:
            target = re.sub(r"[\s<>]", lambda m: quote(m.group(0)), picture.url)
            refs.append(f"[{picture.label}](<{target}>)")
        else:
            refs.append(f"[{picture.label}]")
    if refs:
        blocks.append(" ".join(refs))
    if turn.answer.reasoning:
        blocks.append(
            f"<details><summary>Reasoning</summary>\n\n{defuse_remote_images(turn.answer.reasoning)}\n\n</details>"
        )
    blocks.append(defuse_remote_images(turn.text))
    footer = turn_footer(turn)
    if footer:
        blocks.append("\n".join(f"> {html.escape(line, quote=False)}  " for line in footer))
    return "\n\n".join(blocks)


def to_markdown(
    turns: Iterable[Turn | Mapping[str, Any]],
    *,
    title: str | None = None,
    image_dir: str | os.PathLike[str] | None = None,
) -> str:
    """The conversation as Markdown; pictures written into `image_dir` (linked relative to its
    parent), or inlined as `data:` URLs when `image_dir` is None."""
    folder = Path(image_dir) if image_dir is not None else None

    def picture_ref(picture: Picture, name: str) -> str:
        assert picture.data is not None
        if folder is None:
            return data_url(picture.data)
        folder.mkdir(parents=True, exist_ok=True)
        filename = name + _EXTENSIONS.get(image_mime(picture.data), ".png")
        (folder / filename).write_bytes(picture.data)
        return f"{quote(folder.name)}/{quote(filename)}"

    blocks = [f"# {title or 'SenseNova conversation'}"]
    blocks += [_markdown_turn(turn, number, picture_ref) for number, turn in enumerate(spoken(turns), 1)]
    return "\n\n---\n\n".join(blocks) + "\n"


def to_html(turns: Iterable[Turn | Mapping[str, Any]], *, title: str | None = None) -> str:
    """A self-contained HTML page: inline CSS, pictures inlined, nothing run, nothing fetched."""
    head = html.escape(title or "SenseNova conversation")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{head}</title>\n<style>{_PAGE_CSS}</style>\n</head>\n<body>\n<h1>{head}</h1>\n"
        f"{turns_html(turns, full=True)}\n</body>\n</html>\n"
    )


def to_notebook(turns: Iterable[Turn | Mapping[str, Any]], *, title: str | None = None) -> Any:
    """An nbformat v4 notebook: a title cell, then one Markdown cell per turn (pictures attached)."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["sensenova"] = {"title": title or "SenseNova conversation"}
    notebook.cells.append(nbformat.v4.new_markdown_cell(f"# {title or 'SenseNova conversation'}"))
    for number, turn in enumerate(spoken(turns), 1):
        attachments: dict[str, dict[str, str]] = {}

        def picture_ref(picture: Picture, name: str, attachments: dict = attachments) -> str:
            assert picture.data is not None
            mime = image_mime(picture.data)
            filename = name + _EXTENSIONS.get(mime, ".png")
            attachments[filename] = {mime: b64(picture.data)}
            return f"attachment:{filename}"

        cell = nbformat.v4.new_markdown_cell(_markdown_turn(turn, number, picture_ref))
        if attachments:
            cell.attachments = attachments
        cell.metadata["sensenova"] = {
            "role": turn.role,
            "model": turn.answer.model,
            "finish_reason": turn.answer.finish_reason,
            "error": turn.answer.error,
            "refused": turn.answer.refused,
            "usage": dict(turn.answer.usage) if turn.answer.usage else None,
            "created": turn.created,
        }
        notebook.cells.append(cell)
    nbformat.validate(notebook)
    return notebook


def export(
    turns: Iterable[Turn | Mapping[str, Any]],
    path_or_format: str | os.PathLike[str],
    *,
    embed_images: bool = False,
    title: str | None = None,
) -> str | Path:
    """Write the conversation to `path_or_format` (`.md`, `.html`, `.ipynb`) and return its Path;
    or, given just a format name ("md", "html", "ipynb"), return the text (pictures inlined)."""
    turns = list(turns)
    if isinstance(path_or_format, str) and path_or_format.lower().lstrip(".") in FORMATS:
        kind, path = FORMATS[path_or_format.lower().lstrip(".")], None
    else:
        path = Path(path_or_format).expanduser()
        kind = FORMATS.get(path.suffix.lower().lstrip("."), "")
        if not kind:
            raise ValueError(
                f"Cannot tell the format of {str(path)!r}: use a name ending in .md, .html or "
                ".ipynb, or pass the format itself ('md', 'html', 'ipynb')."
            )
    if kind == "markdown":
        folder = None if embed_images or path is None else path.with_name(path.stem + "_files")
        text = to_markdown(turns, title=title, image_dir=folder)
    elif kind == "html":
        text = to_html(turns, title=title)
    else:
        import nbformat

        text = nbformat.writes(to_notebook(turns, title=title))
    if path is None:
        return text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
