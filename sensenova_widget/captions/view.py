"""`show_captions(out, images="image")`: a captioned frame as a table a person can read.

pandas' own display cuts long text at `display.max_colwidth` and, in its plain-text repr, shows a
caption's line breaks as `\\n`. This table wraps each cell's text, keeps its line breaks (`<br>`),
and can put a thumbnail of each row's image beside its caption. All text is escaped: captions are
model output, and a thumbnail is a `data:` URL made in the kernel, so the page fetches nothing.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from ..panel import panel_state

__all__ = ["CaptionTable", "show_captions"]

THUMB_PX = 96  # the displayed size of a thumbnail's longest side
STYLE = (
    # left-aligned and as wide as the output (JupyterLab centres a table and sizes it to its text)
    "<style>table.snw-captions{border-collapse:collapse;font-size:13px;margin-left:0;margin-right:auto;"
    "width:100%}"
    # table.snw-captions: one notch above JupyterLab's own `.jp-RenderedHTMLCommon td` (right-aligned)
    "table.snw-captions th,table.snw-captions td{border:1px solid var(--jp-border-color2,#ccc);"
    "padding:4px 8px;text-align:left;vertical-align:top;white-space:normal;"
    "overflow-wrap:anywhere}"
    "table.snw-captions th{background:var(--jp-layout-color2,#f3f3f3)}"
    f".snw-captions img{{max-width:{THUMB_PX}px;max-height:{THUMB_PX}px}}</style>"
)


class CaptionTable:
    """The HTML table (`_repr_html_`, shown by Jupyter) and a plain-text twin with real line breaks."""

    def __init__(self, html_text: str, plain: str) -> None:
        self.html = html_text
        self.plain = plain

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.plain


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, pandas NA (NA != NA is NA: bool() raises, so not missing)
    except Exception:
        return False


def _text_cell(value: Any) -> str:
    if _missing(value):
        return ""
    return html.escape(str(value)).replace("\n", "<br>")


def _image_cell(value: Any) -> str:
    if _missing(value):
        return ""
    url = panel_state.thumbnail_url(value)
    if url is None:
        return "<em>(no preview)</em>"
    return f'<img src="{url}" alt="">'


def _records(frame: Any) -> tuple[list[str], list[Any], list[dict]]:
    """(column names, row labels, rows as dicts) of a pandas DataFrame/Series or a polars DataFrame."""
    if hasattr(frame, "to_frame") and not hasattr(frame, "columns"):  # a pandas Series
        frame = frame.to_frame(name=frame.name if frame.name is not None else "caption")
    if hasattr(frame, "to_dicts"):  # polars
        rows = frame.to_dicts()
        return list(frame.columns), list(range(len(rows))), rows
    columns = [str(c) for c in frame.columns]
    rows = [dict(zip(columns, values)) for values in frame.itertuples(index=False, name=None)]
    return columns, list(frame.index), rows


def show_captions(
    frame: Any, images: str | None = None, columns: Sequence[str] | None = None, *, max_rows: int = 100
) -> CaptionTable:
    """A readable table of a captioned frame: whole captions with their line breaks, wrapped, and
    with `images="image"` a thumbnail of that column's image in each row (at most `max_rows`)."""
    names, labels, rows = _records(frame)
    shown = list(columns) if columns is not None else [n for n in names if n != images]
    unknown = [name for name in [*shown, *([images] if images else [])] if name not in names]
    if unknown:
        from ..errors import InvalidRequestError

        raise InvalidRequestError(
            f"show_captions: no column {', '.join(map(repr, unknown))}; the columns are {', '.join(names)}.",
            field="columns",
        )
    header = ["", *([images] if images else []), *shown]
    out = [STYLE, '<table class="snw-captions"><thead><tr>']
    out += [f"<th>{html.escape(str(name))}</th>" for name in header]
    out.append("</tr></thead><tbody>")
    plain = ["\t".join(map(str, header))]
    for label, row in list(zip(labels, rows))[:max_rows]:
        cells = [f"<th>{html.escape(str(label))}</th>"]
        if images:
            cells.append(f"<td>{_image_cell(row[images])}</td>")
        cells += [f"<td>{_text_cell(row[name])}</td>" for name in shown]
        out.append("<tr>" + "".join(cells) + "</tr>")
        plain.append("\t".join([str(label)] + ["" if _missing(row[n]) else str(row[n]) for n in shown]))
    out.append("</tbody></table>")
    if len(rows) > max_rows:
        more = f"{len(rows) - max_rows:,} more rows not shown (max_rows={max_rows})."
        out.append(f"<p>{more}</p>")
        plain.append(more)
    return CaptionTable("".join(out), "\n".join(plain))
