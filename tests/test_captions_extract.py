"""extract() against the emulator over real sockets: typed columns with exact values, malformed
replies asked again in the same conversation, the cache, the response_format probe, refusals
before sending, Series/polars/Dask/accessor, and the JSON finding and repairs on their own."""

from __future__ import annotations

import time
from typing import Literal

import pandas as pd
import pytest
from PIL import Image
from pydantic import BaseModel, Field

import sensenova_widget as snw
from sensenova_widget.captions import extract, extract_meta, extract_partition
from sensenova_widget.captions.extract import ERROR_COLUMN, RAW_COLUMN, Structured
from sensenova_widget.captions.schema import Schema
from sensenova_widget.emulator.replies import PALETTE
from sensenova_widget.errors import InvalidRequestError

SIZES = [(64, 32), (30, 60), (48, 48), (80, 20)]
COLOURS = ["red", "blue", "green", "yellow"]


class Size(BaseModel):
    width: int
    height: int


class Photo(BaseModel):
    width: int = Field(description="the image width in pixels")
    colours: int = Field(description="how many colours cover a tenth of the image or more")
    ratio: float
    landscape: bool
    colour: str
    kind: Literal["red", "blue", "other"]
    palette: list[str]
    size: Size


def picture(colour: str, size: tuple[int, int]) -> Image.Image:
    return Image.new("RGB", size, PALETTE[colour])


def frame(n: int = 8) -> pd.DataFrame:
    rows = [(COLOURS[i % 4], SIZES[i % 4]) for i in range(n)]
    return pd.DataFrame(
        {
            "image": [picture(colour, size) for colour, size in rows],
            "name": [f"{colour} {w}x{h}" for colour, (w, h) in rows],
            "colour_given": [colour for colour, _ in rows],
            "w": [w for _, (w, _h) in rows],
            "h": [h for _, (_w, h) in rows],
            "n": range(n),
        }
    )


def expected(df: pd.DataFrame, i: int) -> dict:
    """What the emulator reads from row i's pixels (its documented rules, from the inputs)."""
    colour, w, h = df["colour_given"][i], int(df["w"][i]), int(df["h"][i])
    return {
        "width": w,
        "colours": 1,
        "ratio": round(w / h, 3),
        "landscape": w > h,
        "colour": colour,
        "kind": colour if colour in ("red", "blue") else "other",
        "palette": [colour],
        "size": {"width": w, "height": h},
    }


@pytest.fixture
def cache_path(tmp_path):
    return tmp_path / "extract.sqlite"


def test_a_pydantic_model_gives_typed_columns_with_exact_values(client, emulator, cache_path):
    df = frame(8)
    out = extract(df, "image", Photo, client=client, cache=cache_path, progress=False)
    assert list(out.columns) == [*df.columns, *Photo.model_fields, ERROR_COLUMN]
    assert str(out["width"].dtype) == "Int64" and str(out["colours"].dtype) == "Int64"
    assert str(out["ratio"].dtype) == "Float64"
    assert str(out["landscape"].dtype) == "boolean"
    assert pd.api.types.is_string_dtype(out["colour"].dtype)
    assert isinstance(out["kind"].dtype, pd.CategoricalDtype)
    assert list(out["kind"].cat.categories) == ["red", "blue", "other"]
    assert out["palette"].dtype == object and out["size"].dtype == object
    for i in range(len(df)):
        got = {name: out[name][i] for name in Photo.model_fields}
        got = {k: (v.item() if hasattr(v, "item") else v) for k, v in got.items()}
        assert got == expected(df, i)
    assert out[ERROR_COLUMN].isna().all()
    assert list(df.columns) == ["image", "name", "colour_given", "w", "h", "n"]  # the input is not changed
    assert out.attrs["sensenova_summary"]["extracted"] == 8


def test_a_dict_schema_gives_the_declared_dtypes(client, emulator, cache_path):
    df = frame(4)
    schema = {"height": int, "landscape": bool, "kind": Literal["red", "blue", "other"], "palette": list[str]}
    out = extract(df, "image", schema, "Describe {name}.", client=client, cache=cache_path, progress=False)
    assert [str(out[c].dtype) for c in ("height", "landscape")] == ["Int64", "boolean"]
    assert list(out["kind"].cat.categories) == ["red", "blue", "other"]
    assert list(out["height"]) == list(df["h"])
    assert list(out["landscape"]) == [w > h for w, h in zip(df["w"], df["h"])]
    assert list(out["palette"]) == [[c] for c in df["colour_given"]]
    assert out[ERROR_COLUMN].isna().all()
    # the template was filled per row, and the schema written into the prompt
    rows = [body for body in emulator.requests if body["messages"][0]["content"][0]["type"] != "text"]
    texts = [body["messages"][0]["content"][-1]["text"] for body in rows]  # (not the probe)
    assert sorted(t.split("\n", 1)[0] for t in texts) == sorted(f"Describe {n}." for n in df["name"])
    assert all('"kind"' in t and "```json" in t for t in texts)


def test_malformed_replies_are_asked_again_with_the_error_and_every_row_ends_valid_or_explained(
    emulator, tmp_path
):
    df = frame(24)
    noisy = snw.Client(
        api_key=emulator.api_key, base_url=emulator.base_url, headers={"x-emulator-fault": "malformed=0.5"}
    )
    out = extract(df, "image", Photo, "Row {n}.", client=noisy, cache=False, progress=False, raw=True)
    conversations = [body for body in emulator.requests if len(body["messages"]) > 1]
    assert conversations, "some replies were malformed and asked again"
    for body in conversations:  # the same conversation: the image, the bad reply, the error
        first, bad, fix = body["messages"][:3]
        assert any(part["type"] != "text" for part in first["content"])
        assert bad["role"] == "assistant" and fix["content"][0]["text"].startswith(
            "That reply did not validate:"
        )
    for i in range(len(df)):
        if pd.isna(out[ERROR_COLUMN][i]):
            assert out["width"][i] == df["w"][i] and out["colour"][i] == df["colour_given"][i]
        else:
            error = out[ERROR_COLUMN][i]
            assert "\n" not in error and error.startswith("ExtractionError: did not validate (3 replies): ")
            assert pd.isna(out["width"][i]) and isinstance(out[RAW_COLUMN][i], str)

    # without retries some rows fail, each with a one-line error naming what did not validate
    once = extract(df, "image", Photo, "Row {n}.", client=noisy, cache=False, progress=False, retries=0)
    failed = once[ERROR_COLUMN].dropna()
    assert len(failed) > 0 and once[ERROR_COLUMN].isna().sum() > 0
    for error in failed:
        assert "\n" not in error and error.startswith("ExtractionError: did not validate (reply): ")
        field = error.split(": ", 3)[2]
        assert field.split(".")[0] in Photo.model_fields or "JSON" in error or "object" in error
    for i in once.index[once[ERROR_COLUMN].isna()]:
        assert once["size"][i] == {"width": df["w"][i], "height": df["h"][i]}


def test_a_second_run_is_served_from_the_cache_and_a_changed_schema_or_prompt_is_not(
    client, emulator, cache_path
):
    df = frame(6)
    first = extract(df, "image", Photo, "Row {n}.", client=client, cache=cache_path, progress=False)
    assert len(emulator.requests) == 6 + 1  # every row, and the response_format probe
    emulator.reset(files=False)
    again = extract(df, "image", Photo, "Row {n}.", client=client, cache=cache_path, progress=False)
    assert len(emulator.requests) == 0
    assert again.attrs["sensenova_summary"]["from_cache"] == 6
    pd.testing.assert_frame_equal(first.drop(columns="image"), again.drop(columns="image"))

    changed = {**{n: f.annotation for n, f in Photo.model_fields.items()}, "height": int}
    out = extract(df, "image", changed, "Row {n}.", client=client, cache=cache_path, progress=False)
    assert len(emulator.requests) == 6 and out.attrs["sensenova_summary"]["from_cache"] == 0
    assert list(out["height"]) == list(df["h"])
    emulator.reset(files=False)
    out = extract(df, "image", Photo, "Row {n}, carefully.", client=client, cache=cache_path, progress=False)
    assert len(emulator.requests) == 6 and out.attrs["sensenova_summary"]["from_cache"] == 0


def test_response_format_is_used_where_the_probe_finds_it_and_never_assumed(emulator, tmp_path):
    df = frame(4)
    openai = emulator.base_url.replace("/v1", "/compatible-mode/v1")
    client = snw.Client(api_key=emulator.api_key, base_url=openai)
    extract(df, "image", Photo, client=client, cache=False, progress=False, concurrency=1)
    extract(df, "image", {"width": int}, client=client, cache=False, progress=False, concurrency=1)
    formats = [body.get("response_format") for body in emulator.requests]
    probes = [f for f in formats if f and f["json_schema"]["name"] == "probe"]
    assert len(probes) == 1  # one probe for this client and model, remembered
    rows = [f for f in formats if f and f["json_schema"]["name"] != "probe"]
    assert len(rows) == 8 and rows[0]["json_schema"]["schema"] == Schema(Photo).json_schema

    # an endpoint refusing it (HTTP 400), and one ignoring it (the native API): prompt only
    for base, headers in ((openai, {"x-emulator-fault": "response_format=0"}), (emulator.base_url, None)):
        emulator.reset(files=False)
        other = snw.Client(api_key=emulator.api_key, base_url=base, headers=headers)
        out = extract(df, "image", Photo, client=other, cache=False, progress=False, concurrency=1)
        assert out[ERROR_COLUMN].isna().all() and list(out["width"]) == list(df["w"])
        assert [bool(body.get("response_format")) for body in emulator.requests] == [True] + [False] * 4


def test_the_probe_runs_once_while_the_other_rows_go_out(emulator):
    client = snw.Client(
        api_key=emulator.api_key, base_url=emulator.base_url.replace("/v1", "/compatible-mode/v1")
    )
    structured = Structured()
    assert structured.supported(client, "SenseNova-V6-Pro") is True
    assert structured.supported(client, "SenseNova-V6-Pro") is True
    assert len(emulator.requests) == 1


def test_rpm_spaces_every_request_start_the_probe_and_the_retries_too(emulator):
    noisy = snw.Client(
        api_key=emulator.api_key,
        base_url=emulator.base_url.replace("/v1", "/compatible-mode/v1"),
        headers={"x-emulator-fault": "malformed=1"},
    )
    started = time.perf_counter()
    extract(frame(4), "image", Photo, client=noisy, cache=False, progress=False, concurrency=4, rpm=1200)
    # 1200 a minute is one start every 0.05 s: the probe, the 4 rows and every time a row was
    # asked again each wait their turn (the replies are all spoiled; some are repaired, the rest
    # are asked again), so the starts take at least one interval less than their number.
    starts = len(emulator.requests)
    assert sum(len(body["messages"]) > 1 for body in emulator.requests) >= 2
    assert time.perf_counter() - started >= (starts - 1) * 0.05


def test_bad_input_is_refused_before_anything_is_sent(client, emulator):
    df = frame(2)
    cases = [
        ({"schema": {"w": int}}, "two columns named 'w'"),
        ({"schema": {"extract_error": str}}, "extract_error"),
        ({"schema": {"_x": int}}, "identifier"),
        ({"schema": {}}, "Pydantic model class"),
        ({"schema": int}, "Pydantic model class"),
        ({"schema": Photo, "retries": -1}, "retries=-1"),
        ({"schema": Photo, "prompt": "Look at {missing}."}, "{missing}"),
        ({"schema": Photo, "temprature": 0.5}, "not a extract() parameter"),
    ]
    for kwargs, words in cases:
        schema = kwargs.pop("schema")
        with pytest.raises(InvalidRequestError) as caught:
            extract(df, "image", schema, client=client, cache=False, progress=False, **kwargs)
        assert words in str(caught.value)
    assert len(emulator.requests) == 0


def test_series_polars_accessor_and_dask(client, emulator, tmp_path):
    df = frame(4)
    by_series = df["image"].sensenova.extract({"width": int}, client=client, cache=False, progress=False)
    assert list(by_series["width"]) == list(df["w"])
    by_accessor = df.sensenova.extract("image", {"colour": str}, client=client, cache=False, progress=False)
    assert list(by_accessor["colour"]) == list(df["colour_given"])

    pl = pytest.importorskip("polars")
    polars_frame = pl.DataFrame({"image": [picture(c, s) for c, s in zip(COLOURS, SIZES)]})
    typed = extract(polars_frame, "image", Photo, client=client, cache=False, progress=False)
    assert typed.schema["width"] == pl.Int64 and typed.schema["landscape"] == pl.Boolean
    assert typed.schema["kind"] == pl.Enum(["red", "blue", "other"])
    assert typed["width"].to_list() == [w for w, _ in SIZES]

    dd = pytest.importorskip("dask.dataframe")
    import dask

    paths = []
    for i, (colour, size) in enumerate(zip(COLOURS, SIZES)):
        paths.append(str(tmp_path / f"{i}.png"))
        picture(colour, size).save(paths[-1])
    ddf = dd.from_pandas(pd.DataFrame({"image": paths}), npartitions=2)
    settings = {"api_key": emulator.api_key, "base_url": emulator.base_url}
    meta = extract_meta(ddf, Photo)
    with dask.config.set(scheduler="sync"):
        out = ddf.map_partitions(
            extract_partition, "image", Photo, client=settings, cache=str(tmp_path / "x.sqlite"), meta=meta
        ).compute()
    assert list(out["width"]) == [w for w, _ in SIZES]
    assert dict(out.dtypes) == dict(meta.dtypes)


@pytest.mark.parametrize(
    ("reply", "values"),
    [
        ('```json\n{"n": 3, "kind": "cat"}\n```', {"n": 3, "kind": "cat"}),
        ('Sure! {"n": 3, "kind": "cat"} is it.', {"n": 3, "kind": "cat"}),
        ('```json\n{"n": 3, "kind": "cat",}\n```', {"n": 3, "kind": "cat"}),
        ("{'n': 3, 'kind': 'cat'}", {"n": 3, "kind": "cat"}),
        ('I see {"note": "a {brace}"} and then {"n": "3", "kind": "cat"}.', {"n": 3, "kind": "cat"}),
    ],
)
def test_json_is_found_and_safely_repaired(reply, values):
    assert Schema({"n": int, "kind": Literal["cat", "dog"]}).validate(reply).values == values


def test_a_lone_value_answers_a_one_field_schema_and_wrong_values_are_named():
    one = Schema({"animals": int})
    assert one.validate("3").values == {"animals": 3}
    assert one.validate("```\n7\n```").values == {"animals": 7}
    assert one.validate("There are many.").error.startswith("animals: Input should be a valid integer")
    two = Schema({"n": int, "kind": Literal["cat", "dog"]})
    checked = two.validate('{"n": "many", "kind": "cow", }')
    assert checked.values is None and "n: " in checked.error and "kind: " in checked.error
    assert "\n" not in checked.error
    assert two.validate("no json here").error == "no JSON object found in the reply"
    assert two.validate('{"text": "it\'s a cat, isn\'t it"}').error.startswith("n: Field required")


def test_an_exhausted_token_plan_stops_extract_at_once_and_a_later_run_finishes(emulator, tmp_path):
    df = frame(12)
    cache = tmp_path / "extract.sqlite"
    with snw.Client(api_key=emulator.api_key, base_url=emulator.token_plan_base_url) as client:
        saved = emulator.knobs
        emulator.configure(quota=True)
        try:
            out = extract(df, "image", {"width": int}, "Row {n}.", client=client, cache=cache, concurrency=4)
            spent = len(emulator.requests)
        finally:
            emulator.knobs = saved
        summary = out.attrs["sensenova_summary"]
        assert spent <= 1 + 4  # the probe, and the requests in flight when the first refusal came back
        assert summary["not_done"] == 12 and summary["failed"] == 0 and out["width"].isna().all()
        emulator.reset(files=False)
        again = extract(df, "image", {"width": int}, "Row {n}.", client=client, cache=cache, progress=False)
    assert list(again["width"]) == list(df["w"]) and again[ERROR_COLUMN].isna().all()


def test_the_emulator_spoils_replies_the_same_way_every_time_in_each_of_four_ways(emulator):
    client = snw.Client(
        api_key=emulator.api_key, base_url=emulator.base_url, headers={"x-emulator-fault": "malformed=1"}
    )
    schema = Schema({"width": int, "colour": str})
    prompts = [schema.instructions(f"Row {n}.") for n in range(24)]
    image = picture("red", (64, 32))
    first = [client.chat(p, images=[image]).text for p in prompts]
    again = [client.chat(p, images=[image]).text for p in prompts]
    assert first == again  # decided by the request's content
    said = [schema.validate(text) for text in first]
    prose = [t for t in first if t.startswith("Sure!")]
    trailing = [t for t in first if ",\n}" in t]
    assert prose and trailing  # repaired: they validate
    assert all(schema.validate(t).values == {"width": 64, "colour": "red"} for t in prose + trailing)
    errors = [c.error for c in said if c.values is None]
    assert any("Field required" in e for e in errors) and any("valid" in e and "got" in e for e in errors)


def test_on_error_raise_stops_at_a_row_that_never_validates(emulator):
    from sensenova_widget.captions import CaptionError

    noisy = snw.Client(
        api_key=emulator.api_key, base_url=emulator.base_url, headers={"x-emulator-fault": "malformed=1"}
    )
    schema = {"width": int, "colour": str}
    with pytest.raises(CaptionError) as caught:
        extract(frame(8), "image", schema, "Row {n}.", client=noisy, cache=False, progress=False,
                retries=0, on_error="raise", concurrency=1)  # fmt: skip
    assert "did not validate" in str(caught.value)
    partial = caught.value.partial
    assert str(partial["width"].dtype) == "Int64" and partial[ERROR_COLUMN].notna().any()


def test_a_reply_cut_short_says_so_in_its_error(client):
    out = extract(frame(2), "image", Photo, client=client, cache=False, progress=False, max_new_tokens=5)
    for error in out[ERROR_COLUMN]:
        assert error.endswith("(the reply was cut at max_new_tokens: allow more)") and "\n" not in error
