"""caption() against the emulator over real sockets: order, gaps, lists, templates, failures,
interrupt and resume, 429 pacing, polars, Series, and the pandas accessor."""

from __future__ import annotations

import _thread
import io
import random
import threading
import time
import uuid

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from waiting import wait_until

import sensenova_widget as snw
from sensenova_widget.captions import CaptionError, caption
from sensenova_widget.captions.cache import ResultCache
from sensenova_widget.captions.rows import Job, RowResult
from sensenova_widget.captions.run import Run
from sensenova_widget.captions.tally import Tally
from sensenova_widget.client.client import Client
from sensenova_widget.errors import InvalidRequestError

COLOURS = {"red": (220, 30, 30), "green": (40, 170, 60), "blue": (30, 60, 220), "yellow": (240, 220, 30)}


def picture(colour: str, size=(64, 48)) -> Image.Image:
    return Image.new("RGB", size, COLOURS[colour])


def png(colour: str) -> bytes:
    buf = io.BytesIO()
    picture(colour).save(buf, "PNG")
    return buf.getvalue()


def frame(n: int) -> pd.DataFrame:
    names = list(COLOURS)
    return pd.DataFrame(
        {
            "image": [picture(names[i % 4]) for i in range(n)],
            "colour": [names[i % 4] for i in range(n)],
            "n": range(n),
        }
    )


class ScriptedClient(Client):
    """A real Client that adds an `x-emulator-fault` header to the requests of chosen rows.

    `faults` maps a row number (found in the prompt as "row <n>.") to the header's value: the
    emulator then delays or fails exactly that row's request, whatever order the workers run in.
    """

    def __init__(self, emulator, faults: dict[int, str], **kw):
        super().__init__(api_key=emulator.api_key, base_url=emulator.base_url, **kw)
        self.faults = faults

    def prepare(self, prompt, params=None, **kw):
        row = int(prompt.rsplit("row ", 1)[1].split(".")[0])
        if row in self.faults:
            kw["extra_headers"] = {"x-emulator-fault": self.faults[row]}
        return super().prepare(prompt, params, **kw)


@pytest.fixture
def cache_path(tmp_path):
    return tmp_path / "captions.sqlite"


def sent_prompts(emulator) -> list[str]:
    return [body["messages"][-1]["content"][-1]["text"] for body in emulator.requests]


def test_results_follow_input_order_whatever_the_completion_order(emulator, cache_path):
    rng = random.Random(7)
    delays = {i: f"ttft={rng.choice([0, 0.02, 0.08, 0.15])}" for i in range(24)}
    df = frame(24)
    out = caption(
        df,
        "image",
        "Say the colour, row {n}.",
        client=ScriptedClient(emulator, delays),
        concurrency=6,
        cache=cache_path,
        progress=False,
    )
    assert list(out.index) == list(df.index)
    for i, (text, colour) in enumerate(zip(out["caption"], df["colour"])):
        assert text.startswith(f"Say the colour, row {i}.") and f"mostly {colour}" in text
    assert out["caption_error"].isna().all()
    assert len(emulator.requests) == 24
    assert out.attrs["sensenova_summary"]["captioned"] == 24


def test_input_is_not_changed_and_a_new_frame_comes_back(client, emulator, cache_path):
    df = frame(3)
    before = df.copy()
    out = caption(df, "image", client=client, cache=cache_path, progress=False, tokens=True)
    pd.testing.assert_frame_equal(df, before)
    assert list(out.columns) == [
        "image",
        "colour",
        "n",
        "caption",
        "caption_error",
        "caption_prompt_tokens",
        "caption_completion_tokens",
        "caption_total_tokens",
    ]
    assert (
        out["caption_total_tokens"] == out["caption_prompt_tokens"] + out["caption_completion_tokens"]
    ).all()
    assert out.attrs["sensenova_summary"]["tokens"] == int(out["caption_total_tokens"].sum())


def test_missing_values_are_skipped_and_never_sent(client, emulator, cache_path, capsys):
    df = pd.DataFrame({"image": [picture("red"), None, np.nan, pd.NA, [], picture("blue")]})
    out = caption(df, "image", client=client, cache=cache_path)
    assert len(emulator.requests) == 2
    assert out["caption"].isna().tolist() == [False, True, True, True, True, False]
    assert out["caption_error"].isna().all()
    summary = out.attrs["sensenova_summary"]
    assert (summary["rows"], summary["captioned"], summary["skipped"], summary["failed"]) == (6, 2, 4, 0)
    printed = capsys.readouterr().out
    assert printed.count("caption: 6 rows: 2 captioned (0 from cache), 4 skipped (missing)") == 1


def test_a_list_is_several_images_in_one_request_of_any_kind(client, emulator, cache_path, tmp_path):
    path = tmp_path / "green.png"
    picture("green").save(path)
    rows = [
        [picture("red"), png("blue"), str(path)],
        np.full((20, 30, 3), COLOURS["yellow"], np.uint8),
        [picture("red")] * 7,
    ]
    out = caption(pd.Series(rows, name="image"), client=client, cache=cache_path, progress=False)
    first = out.iloc[0]
    assert "image 1: 64x48 RGB, mostly red" in first and "image 2: 64x48 RGB, mostly blue" in first
    assert "image 3: 64x48 RGB, mostly green" in first
    assert "image 1: 30x20 RGB, mostly yellow" in out.iloc[1]
    assert pd.isna(out.iloc[2])
    assert "at most 6 images" in out.attrs["sensenova_errors"][2]
    assert len(emulator.requests) == 2  # the row of 7 images was refused before sending
    kinds = sorted([p["type"] for p in body["messages"][-1]["content"]] for body in emulator.requests)
    assert kinds == [["image_base64"] * 3 + ["text"], ["image_base64", "text"]]


def test_the_prompt_is_a_template_over_the_row(client, emulator, cache_path):
    df = frame(4)
    out = caption(
        df,
        "image",
        "Is this {colour} thing number {n}? {{yes}}",
        client=client,
        cache=cache_path,
        progress=False,
    )
    expected = [f"Is this {c} thing number {i}? {{yes}}" for i, c in enumerate(df["colour"])]
    assert sorted(sent_prompts(emulator)) == sorted(expected)
    assert out["caption"].str.startswith("Is this red thing number 0?").iloc[0]


def test_a_row_the_template_cannot_format_fails_alone(client, emulator, cache_path):
    df = pd.DataFrame({"image": [picture("red"), picture("blue")], "size": ["big", 2.5]})
    out = caption(
        df, "image", "An image of size {size:.1f}.", client=client, cache=cache_path, progress=False
    )
    assert (
        "cannot be filled from this row" in out["caption_error"][0]
        and "Unknown format code" in out["caption_error"][0]
    )
    assert out["caption"][1].startswith("An image of size 2.5.")
    assert sent_prompts(emulator) == ["An image of size 2.5."]


@pytest.mark.parametrize(
    "prompt, words",
    [
        ("Describe this {category}.", ["{category}", "'image', 'colour', 'n'"]),
        ("Describe {0}.", ["positional field {0}", "name a column"]),
        ("Describe {colour.", ["not a valid template", "{{"]),
    ],
)
def test_a_bad_template_is_refused_before_anything_is_sent(client, emulator, cache_path, prompt, words):
    with pytest.raises(InvalidRequestError) as info:
        caption(frame(3), "image", prompt, client=client, cache=cache_path, progress=False)
    for word in words:
        assert word in str(info.value)
    assert emulator.requests == []


def test_bad_arguments_name_what_is_allowed(client, cache_path):
    df = frame(2)
    cases = [
        (dict(on_error="ignore"), "expected one of 'record', 'raise'"),
        (dict(concurrency=0), "concurrency=0"),
        (dict(rpm=-5), "rpm=-5"),
        (dict(temperature=3), "temperature=3"),
        (dict(stream=True), "stream= is not a caption.. parameter: expected one of temperature"),
        (dict(column="picture"), "the columns are 'image', 'colour', 'n'"),
        (dict(column=None), "column= is required"),
    ]
    for kwargs, words in cases:
        kwargs = {"column": "image", **kwargs}
        with pytest.raises(InvalidRequestError, match=words.replace("(", r"\(")):
            caption(df, client=client, cache=cache_path, progress=False, **kwargs)
    with pytest.raises(InvalidRequestError, match="expected a pandas DataFrame"):
        caption([picture("red")], client=client)
    with pytest.raises(InvalidRequestError, match="more than one column named 'image'"):
        caption(pd.concat([df, df[["image"]]], axis=1), "image", client=client)


def test_per_row_failures_are_recorded_and_the_rest_goes_on(emulator, cache_path):
    df = frame(10)
    df.loc[4, "image"] = b"\x89PNG\r\n\x1a\n but the rest is garbage"
    faults = {2: "status=500", 7: "status=500"}
    out = caption(
        df,
        "image",
        "Describe row {n}.",
        client=ScriptedClient(emulator, faults, max_retries=0),
        cache=cache_path,
        progress=False,
        concurrency=4,
    )
    errors = out["caption_error"]
    assert errors.notna().tolist() == [i in (2, 4, 7) for i in range(10)]
    assert errors[4].startswith("MediaError: ") and "not a readable image" in errors[4]
    assert errors[2].startswith("ServerError: ") and "status 500" in errors[2]
    assert out["caption"].notna().sum() == 7
    assert out.attrs["sensenova_summary"]["failed"] == 3
    # Failures are not cached: running again asks only for those rows (and the 500s are over).
    again = caption(
        df,
        "image",
        "Describe row {n}.",
        client=ScriptedClient(emulator, {}, max_retries=0),
        cache=cache_path,
        progress=False,
    )
    assert sorted(sent_prompts(emulator)[-2:]) == ["Describe row 2.", "Describe row 7."]
    assert again.attrs["sensenova_summary"]["from_cache"] == 7
    assert again["caption_error"].notna().sum() == 1  # the corrupt image stays corrupt


def test_on_error_raise_stops_at_the_first_failure_and_keeps_what_finished(emulator, cache_path):
    df = frame(12)
    client = ScriptedClient(emulator, {5: "status=500"}, max_retries=0)
    with pytest.raises(CaptionError) as info:
        caption(
            df,
            "image",
            "Describe row {n}.",
            client=client,
            cache=cache_path,
            progress=False,
            concurrency=1,
            on_error="raise",
        )
    error = info.value
    assert error.row == 5 and error.finished == 5 and error.status == 500
    assert "row 5 failed: ServerError" in str(error) and "5 of 12 rows finished" in str(error)
    assert error.partial["caption"].notna().tolist() == [True] * 5 + [False] * 7
    assert isinstance(error.__cause__, snw.ServerError)
    assert len(emulator.requests) == 6  # nothing was sent after the failure
    with ResultCache(cache_path) as cache:
        assert len(cache) == 5


def test_on_error_raise_names_an_error_ending_in_a_full_stop_in_one_sentence(emulator, cache_path):
    df = frame(3)
    df.loc[1, "image"] = b"\x89PNG\r\n\x1a\n but the rest is garbage"  # its MediaError ends with "."
    with pytest.raises(CaptionError) as info:
        client = Client(emulator.api_key, base_url=emulator.base_url)
        caption(df, "image", client=client, cache=cache_path, progress=False, concurrency=1, on_error="raise")
    message = str(info.value)
    assert "row 1 failed: MediaError: " in message and "corrupt. 1 of 3 rows finished" in message
    assert ".." not in message


def test_an_interrupt_keeps_what_finished_and_a_rerun_sends_only_the_rest(emulator, cache_path):
    df = frame(40)
    client = ScriptedClient(emulator, {i: "ttft=0.03" for i in range(40)})

    def interrupt_after_some_requests():
        wait_until(lambda: len(emulator.requests) >= 8, "8 requests", interval=0.005)
        _thread.interrupt_main()

    threading.Thread(target=interrupt_after_some_requests, daemon=True).start()
    with pytest.raises(KeyboardInterrupt) as raised:
        caption(
            df, "image", "Describe row {n}.", client=client, cache=cache_path, progress=False, concurrency=3
        )
    # IPython shows it as its one line, the message saying how to continue: no traceback
    (line,) = raised.value._render_traceback_()
    assert "caption: stopped after" in line and "run the same call again to continue" in line
    assert raised.value.__suppress_context__
    first = sent_prompts(emulator)
    assert 8 <= len(first) < 40
    with ResultCache(cache_path) as cache:
        kept = len(cache)
    assert kept == len(first)  # every request that was sent finished and was kept
    out = caption(
        df, "image", "Describe row {n}.", client=client, cache=cache_path, progress=False, concurrency=3
    )
    second = sent_prompts(emulator)[len(first) :]
    assert len(second) == 40 - kept and not set(second) & set(first)
    assert out["caption"].notna().all()
    assert out.attrs["sensenova_summary"]["from_cache"] == kept


def test_repeated_429s_lower_the_concurrency_and_every_row_finishes(client, emulator, cache_path):
    unique = 40_000 + uuid.uuid4().int % 10_000  # `times` counts per header value, session-wide
    # more refusals in a row than the run's window of answers (16 at concurrency 8): a limit overrun
    client.headers["x-emulator-fault"] = f"status=429,times=20,retry_after=0.05,context_length={unique}"
    client.max_retries = 5
    df = frame(32)
    out = caption(
        df, "image", "Describe row {n}.", client=client, cache=cache_path, progress=False, concurrency=8
    )
    summary = out.attrs["sensenova_summary"]
    assert out["caption"].notna().all() and summary["failed"] == 0
    assert summary["lowest_concurrency"] < 8
    assert len(emulator.requests) == 32 + 20


def test_rows_still_rate_limited_after_the_clients_retries_go_back_in_line(client, emulator, cache_path):
    unique = 50_000 + uuid.uuid4().int % 10_000
    client.headers["x-emulator-fault"] = f"status=429,times=14,retry_after=0,context_length={unique}"
    client.max_retries = 0  # every 429 reaches caption(), which lowers the limit and requeues the row
    out = caption(
        frame(12),
        "image",
        "Describe row {n}.",
        client=client,
        cache=cache_path,
        progress=False,
        concurrency=4,
    )
    summary = out.attrs["sensenova_summary"]
    assert out["caption"].notna().all() and summary["failed"] == 0
    assert summary["lowest_concurrency"] <= 2
    assert len(emulator.requests) == 12 + 14


def test_rpm_spaces_the_request_starts(client, emulator, cache_path):
    started = time.perf_counter()
    out = caption(frame(5), "image", client=client, cache=False, progress=False, concurrency=5, rpm=1200)
    # 1200 a minute is one start every 0.05 s: five starts take at least four intervals (no cache:
    # rows 0 and 4 hold the same picture and could otherwise be served one from the other).
    assert time.perf_counter() - started >= 4 * 0.05
    assert out["caption"].notna().all() and len(emulator.requests) == 5


def test_a_series_gives_a_series(client, emulator, cache_path):
    series = pd.Series([picture("red"), None, b"garbage bytes!"], index=["a", "b", "c"], name="photo")
    out = caption(
        series, prompt="What colour is the {photo}?", client=client, cache=cache_path, progress=False
    )
    assert isinstance(out, pd.Series) and out.name == "caption" and list(out.index) == ["a", "b", "c"]
    assert "mostly red" in out["a"] and pd.isna(out["b"]) and pd.isna(out["c"])
    assert list(out.attrs["sensenova_errors"]) == ["c"]
    assert out.attrs["sensenova_summary"]["skipped"] == 1


def test_the_accessor_and_cache_false(client, emulator, cache_path):
    df = frame(3)
    first = df.sensenova.caption("image", client=client, cache=False, progress=False, out="alt")
    second = df["image"].sensenova.caption(client=client, cache=False, progress=False)
    assert first["alt"].tolist() == second.tolist()
    assert len(emulator.requests) == 6  # no cache: everything is asked twice


def test_the_same_image_and_prompt_are_asked_once(client, emulator, cache_path):
    df = pd.DataFrame({"image": [picture("red"), picture("blue")]})
    caption(df, "image", client=client, cache=cache_path, progress=False, temperature=0.5)
    caption(df, "image", client=client, cache=cache_path, progress=False, temperature=0.5)
    assert len(emulator.requests) == 2
    caption(df, "image", client=client, cache=cache_path, progress=False, temperature=0.6)  # other settings
    caption(df, "image", client=client, cache=cache_path, progress=False, temperature=0.5, model="other")
    assert len(emulator.requests) == 6


def test_captions_made_against_one_endpoint_are_not_served_for_another(client, emulator, cache_path):
    df = frame(3)
    caption(df, "image", client=client, cache=cache_path, progress=False)
    assert len(emulator.requests) == 3
    with snw.Emulator() as other:
        elsewhere = Client(api_key=other.api_key, base_url=other.base_url)
        out = caption(df, "image", client=elsewhere, cache=cache_path, progress=False)
        assert len(other.requests) == 3 and out.attrs["sensenova_summary"]["from_cache"] == 0
    again = caption(
        df, "image", client=client, cache=cache_path, progress=False
    )  # still cached for the first
    assert len(emulator.requests) == 3 and again.attrs["sensenova_summary"]["from_cache"] == 3
    kept = b"".join(path.read_bytes() for path in cache_path.parent.glob(cache_path.name + "*"))
    assert emulator.api_key.encode() not in kept and other.api_key.encode() not in kept


def test_changing_the_encoding_asks_again_and_sends_what_the_key_says(client, emulator, cache_path):
    df = frame(2)  # 64x48 pictures

    def encoding(**options):
        return snw.Client(
            api_key=emulator.api_key, base_url=emulator.base_url, media=snw.MediaOptions(**options)
        )

    caption(df, "image", client=client, cache=cache_path, progress=False)
    out = caption(df, "image", client=encoding(max_side=32), cache=cache_path, progress=False)
    assert len(emulator.requests) == 4 and out.attrs["sensenova_summary"]["from_cache"] == 0
    assert all("32x24 RGB" in text for text in out["caption"])  # sent at the max_side the key was made with
    caption(df, "image", client=encoding(max_side=32, jpeg_quality=50), cache=cache_path, progress=False)
    assert len(emulator.requests) == 6
    again = caption(df, "image", client=encoding(max_side=32), cache=cache_path, progress=False)
    assert len(emulator.requests) == 6 and again.attrs["sensenova_summary"]["from_cache"] == 2


def test_polars_in_polars_out(client, emulator, cache_path):
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"image": [png("red"), None, png("blue")], "kind": ["cup", "pen", "car"]})
    out = caption(df, "image", "A {kind}?", client=client, cache=cache_path, progress=False, tokens=True)
    assert isinstance(out, pl.DataFrame) and df.columns == ["image", "kind"]
    assert out.columns == [
        "image",
        "kind",
        "caption",
        "caption_error",
        "caption_prompt_tokens",
        "caption_completion_tokens",
        "caption_total_tokens",
    ]
    captions = out.get_column("caption").to_list()
    assert captions[0].startswith("A cup?") and "mostly red" in captions[0] and captions[1] is None
    assert out.get_column("caption_total_tokens").null_count() == 1
    assert out.sensenova_summary["captioned"] == 2 and out.sensenova_summary["skipped"] == 1


def test_importing_the_package_does_not_import_pandas_for_the_accessor():
    import subprocess
    import sys

    code = (
        "import sys, sensenova_widget as snw; assert 'pandas' not in sys.modules; "
        "import pandas as pd; snw.caption; print(hasattr(pd.DataFrame(), 'sensenova'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


CRASHING_RUN = """
import sys, pandas as pd
from PIL import Image
import sensenova_widget as snw
from sensenova_widget.captions import caption
base_url, api_key, cache = sys.argv[1:4]
df = pd.DataFrame({"image": [Image.new("RGB", (32, 24), (i * 8, 0, 0)) for i in range(30)], "n": range(30)})
client = snw.Client(api_key, base_url=base_url, headers={"x-emulator-fault": "ttft=0.05"})
caption(df, "image", "Describe row {n}.", client=client, cache=cache, progress=False, concurrency=2)
"""


def test_a_killed_process_keeps_every_finished_caption(emulator, cache_path, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    script = tmp_path / "run.py"
    script.write_text(CRASHING_RUN)
    process = subprocess.Popen(
        [sys.executable, str(script), emulator.base_url, emulator.api_key, str(cache_path)]
    )
    try:
        wait_until(
            lambda: len(emulator.requests) >= 10 or process.poll() is not None, "10 requests", interval=0.005
        )
        os.kill(process.pid, signal.SIGKILL)  # no cleanup, no finally: a crash
    finally:
        process.wait(30)
    with ResultCache(cache_path) as cache:
        kept = len(cache)
    assert 8 <= kept < 30  # everything answered before the kill was already on disk
    df = pd.DataFrame(
        {"image": [Image.new("RGB", (32, 24), (i * 8, 0, 0)) for i in range(30)], "n": range(30)}
    )
    sent = len(emulator.requests)
    out = caption(
        df,
        "image",
        "Describe row {n}.",
        client=Client(emulator.api_key, base_url=emulator.base_url),
        cache=cache_path,
        progress=False,
    )
    assert len(emulator.requests) - sent == 30 - kept
    assert out["caption"].notna().all() and out.attrs["sensenova_summary"]["from_cache"] == kept


class LazyPicture:
    """An image made only when asked for (as a file read or a decode is): records how far the
    rows handed out ever run ahead of the requests the emulator has received."""

    made: set = set()
    ahead: list = []

    def __init__(self, n: int, emulator) -> None:
        self.n, self.emulator = n, emulator

    def __array__(self, dtype=None, copy=None):
        LazyPicture.made.add(self.n)
        LazyPicture.ahead.append(len(LazyPicture.made) - len(self.emulator.requests))
        return np.full((16, 16, 3), self.n, np.uint8)


def test_rows_are_opened_only_as_workers_free_up(emulator, cache_path):
    LazyPicture.made.clear()
    LazyPicture.ahead.clear()
    df = pd.DataFrame({"image": [LazyPicture(n, emulator) for n in range(30)], "n": range(30)})
    client = ScriptedClient(emulator, {n: "ttft=0.02" for n in range(30)})
    out = caption(
        df, "image", "Describe row {n}.", client=client, cache=cache_path, progress=False, concurrency=3
    )
    assert out["caption"].notna().all() and len(LazyPicture.made) == 30
    assert max(LazyPicture.ahead) <= 3  # never more rows open than workers, whatever the row count


class CountedPicture:
    """An image that counts how often its pixels are read (as a file is read or a figure rendered)."""

    def __init__(self, n: int) -> None:
        self.n, self.reads = n, 0

    def __array__(self, dtype=None, copy=None):
        self.reads += 1
        return np.full((16, 16, 3), self.n, np.uint8)


def test_each_image_is_read_once_for_its_cache_key_and_its_request(client, emulator, cache_path):
    series = pd.Series([CountedPicture(n) for n in range(3)], name="image")
    for picture_ in series:
        picture_.reads = 0  # building the Series may have looked inside
    out = caption(series, client=client, cache=cache_path, progress=False)
    assert out.notna().all() and len(emulator.requests) == 3
    assert [p.reads for p in series] == [1, 1, 1]


class RateLimitedEarly(Run):
    """The hand-out alone (no request is made): the first row halves the limit three times (16 -> 2)
    and finishes at once, so most workers end up waiting for a slot when the rows run out."""

    def work(self, job):
        if job.index == 0:
            for _ in range(3):
                self.limit.on_rate_limited()
        else:
            time.sleep(0.02)
        self.limit.on_success()
        return RowResult(text=f"row {job.index}")


def test_every_worker_ends_when_the_rows_run_out_under_a_lowered_limit(client):
    rows = [Job(n, [None], f"row {n}") for n in range(16)]
    tally = Tally(16, tokens=False, bar=None)
    run = RateLimitedEarly(client=client, model="m", params={}, cache=None, concurrency=16, rpm=None)
    runner = threading.Thread(target=run.execute, args=(iter(rows), tally), daemon=True)
    runner.start()
    runner.join(60)  # a guard against a hang, not a measure of speed
    assert not runner.is_alive(), "workers waiting for a slot were never woken after the last row"
    assert tally.texts == [f"row {n}" for n in range(16)] and run.limit.lowest == 2
