"""Caption results a person can read: whole captions with their line breaks, thumbnails beside
them, tokens of cached rows counted apart, and error text without object reprs. Against the
emulator over real sockets (its captions are several lines: the prompt, then one per image)."""

from __future__ import annotations

import io
import re

import pandas as pd
import polars as pl
import pytest
from PIL import Image

import sensenova_widget as snw
from sensenova_widget.captions import caption, show_captions
from sensenova_widget.errors import InvalidRequestError


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "image": [
                Image.new("RGB", (64, 48), (200, 30, 30)),
                Image.new("RGB", (30, 60), (30, 30, 200)),
                None,
            ],
            "kind": ["red <b>box</b>", "blue box", "nothing"],
        }
    )


def test_the_summary_counts_tokens_of_cached_rows_apart(client, tmp_path, capsys):
    cache = tmp_path / "c.sqlite"
    first = caption(frame(), "image", "Describe this {kind}.", client=client, cache=cache, tokens=True)
    spent = first.attrs["sensenova_summary"]["tokens"]
    assert spent == int(first["caption_total_tokens"].sum()) > 0
    assert first.attrs["sensenova_summary"]["cached_tokens"] == 0
    again = caption(frame(), "image", "Describe this {kind}.", client=client, cache=cache)
    summary = again.attrs["sensenova_summary"]
    assert (summary["from_cache"], summary["tokens"], summary["cached_tokens"]) == (2, 0, spent)
    printed = capsys.readouterr().out.splitlines()
    assert f"{spent:,} new tokens," in printed[0] and "from the cache" not in printed[0]
    assert f"0 new tokens, {spent:,} from the cache" in printed[1]


def test_show_captions_keeps_line_breaks_wraps_and_puts_thumbnails_beside(client, tmp_path):
    out = caption(
        frame(), "image", "Describe this {kind}.", client=client, cache=tmp_path / "c.sqlite", progress=False
    )
    assert "\n" in out["caption"][0]  # the emulator's caption: the prompt, then a line per image
    table = show_captions(out, images="image", columns=["kind", "caption", "caption_error"])
    page = table._repr_html_()
    cells = re.findall(r"<td>(.*?)</td>", page, re.S)
    assert not any("\n" in cell or "\\n" in cell for cell in cells)
    assert "Describe this red &lt;b&gt;box&lt;/b&gt;.<br>image 1: 64x48" in page  # escaped, lines kept
    assert page.count('<img src="data:image/') == 2  # two images, the missing one left empty
    assert "white-space:normal" in page and "http" not in page  # wrapped, nothing to fetch
    assert "\nimage 1: 64x48" in repr(table)  # the plain twin has real line breaks
    assert snw.show_captions is show_captions


def test_show_captions_reads_series_and_polars_and_names_a_wrong_column(client, tmp_path):
    series = caption(frame()["image"], client=client, cache=tmp_path / "c.sqlite", progress=False)
    assert "<br>image 1: 64x48" in show_captions(series)._repr_html_()
    polars_out = pl.DataFrame({"kind": ["a", "b"], "caption": ["line one\nline two", None]})
    assert "line one<br>line two" in show_captions(polars_out)._repr_html_()
    with pytest.raises(InvalidRequestError, match="no column 'picture'"):
        show_captions(frame(), images="picture")
    big = pd.DataFrame({"caption": [f"row {i}" for i in range(12)]})
    assert "2 more rows not shown (max_rows=10)" in show_captions(big, max_rows=10)._repr_html_()


class Opaque:
    """A value no image reader knows, whose repr is an address."""


def test_caption_errors_never_show_an_object_repr(client, tmp_path):
    rows = pd.DataFrame({"image": [io.BytesIO(b"not an image at all"), Opaque(), Image.new("RGB", (8, 8))]})
    out = caption(rows, "image", client=client, cache=tmp_path / "c.sqlite", progress=False)
    errors = out["caption_error"].tolist()
    assert errors[0] and errors[1] and pd.isna(errors[2])
    for error in errors[:2]:
        assert "object at 0x" not in error and "<" not in error, error
