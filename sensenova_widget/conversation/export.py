"""Export a conversation: Markdown, a self-contained HTML page, or a notebook.

`export(turns, "trip.md" | "trip.html" | "trip.ipynb")` writes a file; `export(turns, "md")`
(or "html", "ipynb") returns the text instead. Turns are `turns.Turn`s or wire messages.

- Markdown: images as files in `trip_files/` beside it (`embed_images=True`: inline `data:`
  URLs). Only our own markup (headings, pictures, the reasoning's <details>) is Markdown: every
  text that is not ours (what was said, the reasoning, a server's error, the model's name, a
  picture's label, the title) is inert, as a viewer (JupyterLab, nbconvert, GitHub) would
  otherwise fetch what it names (`![x](https://..)`, `<img src>`, `[x]: https://..` + `![a][x]`,
  styles...) and a prompt injection can use such a fetch to send the conversation away. A turn's
  text and reasoning go in a fence their content cannot close (`fenced`), one-line texts are
  escaped character by character (`escape_inline`).
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

from ..media.formats import b64, data_url, image_mime
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

__all__ = ["FORMATS", "escape_inline", "export", "fenced", "to_html", "to_markdown", "to_notebook"]

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

_BACKTICKS = re.compile(r"`+")
# The punctuation that can begin Markdown (links, images, emphasis, code, tables, headings,
# lists, footnotes), a tag or an entity (`<`, `&`), or math (`$`, for JupyterLab and nbconvert);
# CommonMark reads a backslash before any of it as the character itself. (A bare URL may still
# show as a link to a viewer that links them: a link waits for a click, it fetches nothing.)
_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()<>#+\-!|~^$&=])")


def fenced(text: str) -> str:
    """`text` as a fenced code block of more backticks than any run in it: no line of it can close
    the fence, so nothing in it is Markdown, HTML or math to any viewer."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}\n{text}\n{ticks}"


def escape_inline(text: str) -> str:
    """`text` on one line with every punctuation character backslash-escaped: shown as written,
    read as nothing (no link, image, tag, entity, emphasis or math)."""
    return _PUNCTUATION.sub(r"\\\1", " ".join(text.split()))


def _markdown_turn(turn: Said, number: int, picture_ref: Callable[[Picture, str], str]) -> str:
    """One turn as Markdown; `picture_ref(picture, name)` stores a picture and says where it is."""
    blocks = [f"### {escape_inline(turn_heading(turn))}"]
    refs = []
    for index, picture in enumerate(turn_pictures(turn, full=True), 1):
        name = f"turn{number}-{index}"
        label = escape_inline(picture.label)
        if picture.data:
            refs.append(f"![{label}]({picture_ref(picture, name)})")
        elif picture.url:
            target = re.sub(r"[\s<>\\]", lambda m: quote(m.group(0)), picture.url)
            refs.append(f"[{label}](<{target}>)")
        else:
            refs.append(f"\\[{label}\\]")
    if refs:
        blocks.append(" ".join(refs))
    if turn.answer.reasoning:
        blocks.append(
            f"<details><summary>Reasoning</summary>\n\n{fenced(turn.answer.reasoning)}\n\n</details>"
        )
    if turn.text:
        blocks.append(fenced(turn.text))
    footer = turn_footer(turn)
    if footer:
        blocks.append("\n".join(f"> {escape_inline(line)}  " for line in footer))
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

    blocks = [f"# {escape_inline(title or 'SenseNova conversation')}"]
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
    notebook.cells.append(
        nbformat.v4.new_markdown_cell(f"# {escape_inline(title or 'SenseNova conversation')}")
    )
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
