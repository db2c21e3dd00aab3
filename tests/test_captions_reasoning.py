"""caption() with reasoning models (issue "Today's SenseNova"): the caption column holds only the
answer, `reasoning=` names a column for the thinking, the cache keeps both, and codes 17/18 are
recorded per row and never retried. Real HTTP against the emulator."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest
from PIL import Image

from sensenova_widget.captions import caption, caption_meta
from sensenova_widget.captions.cache import ResultCache
from sensenova_widget.errors import InvalidRequestError

REASONING_MODEL = "SenseNova-V6-5-Pro"


def pictures(n: int) -> pd.DataFrame:
    colours = [(220, 30, 30), (30, 60, 220), (40, 170, 60)]
    return pd.DataFrame({"image": [Image.new("RGB", (40, 30), colours[i % 3]) for i in range(n)]})


@pytest.fixture
def cache_path(tmp_path):
    return tmp_path / "captions.sqlite"


def test_thinking_fills_the_reasoning_column_and_leaves_the_caption_the_answer(client, emulator, cache_path):
    ask = dict(model=REASONING_MODEL, thinking=True, reasoning="thought", client=client, progress=False)
    out = caption(pictures(3), "image", "What colour is it?", cache=cache_path, **ask)
    assert [body["thinking"] for body in emulator.requests] == [{"enabled": True}] * 3
    assert list(out.columns) == ["image", "caption", "caption_error", "thought"]
    for answer, thought in zip(out["caption"], out["thought"]):
        assert thought.startswith("Reasoning:") and "thinking asked for" in thought
        assert "Reasoning:" not in answer and answer.startswith("What colour is it?")

    emulator.requests.clear()
    again = caption(pictures(3), "image", "What colour is it?", cache=cache_path, **ask)
    assert len(emulator.requests) == 0  # every row from the cache, its thinking included
    assert again["caption"].tolist() == out["caption"].tolist()
    assert again["thought"].tolist() == out["thought"].tolist()


def test_thinking_is_part_of_the_cache_key_and_sent_only_when_given(client, emulator, cache_path):
    common = dict(model=REASONING_MODEL, client=client, cache=cache_path, progress=False)
    caption(pictures(1), "image", "Name the colour.", **common)
    caption(pictures(1), "image", "Name the colour.", thinking=False, **common)
    assert ["thinking" in body for body in emulator.requests] == [False, True]
    assert emulator.requests[1]["thinking"] == {"enabled": False}


def test_a_model_that_always_reasons_still_gives_only_the_answer(client, emulator, cache_path):
    out = caption(
        pictures(2),
        "image",
        "Describe it.",
        model="SenseNova-V6-Reasoner",
        client=client,
        cache=False,
        progress=False,
    )
    assert out["caption_error"].isna().all()
    assert not any("Reasoning:" in text for text in out["caption"])


def test_inline_think_blocks_are_kept_out_of_the_caption(emulator, cache_path):
    from sensenova_widget import Client

    inline = Client(
        api_key=emulator.api_key, base_url=emulator.base_url, headers={"x-emulator-fault": "think_inline=1"}
    )
    out = caption(
        pictures(2),
        "image",
        "Describe it.",
        model=REASONING_MODEL,
        thinking=True,
        reasoning="thought",
        client=inline,
        cache=False,
        progress=False,
    )
    assert all("<think>" not in text and "Reasoning:" not in text for text in out["caption"])
    assert all(thought.startswith("Reasoning:") for thought in out["thought"])


def test_codes_17_and_18_are_recorded_per_row_and_never_retried(client, emulator, cache_path):
    unsafe = caption(
        pictures(2),
        "image",
        "EMULATOR-UNSAFE: describe it.",
        client=client,
        cache=False,
        progress=False,
    )
    assert len(emulator.requests) == 2  # one request a row: a refusal is not retried
    assert unsafe["caption"].isna().all()
    assert all("ContentFilterError" in e and "rephrase" in e for e in unsafe["caption_error"])

    emulator.requests.clear()
    too_long = caption(
        pictures(2),
        "image",
        "Describe it. " * 20,
        model="SenseNova-V6-Pro",
        max_new_tokens=16384,
        client=client,
        cache=False,
        progress=False,
        extra_headers={"x-emulator-fault": "context_length=300"},
    )
    assert len(emulator.requests) == 2
    assert all("ContextLengthError" in e for e in too_long["caption_error"])


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"thinking": "yes"}, "thinking='yes' is not allowed: expected True, False or None"),
        ({"reasoning": ""}, "reasoning='' is not allowed"),
        ({"reasoning": "caption"}, "a column name other than out='caption'"),
    ],
)
def test_bad_reasoning_arguments_are_refused_before_sending(client, emulator, arguments, words):
    with pytest.raises(InvalidRequestError, match=words.replace("(", r"\(").replace(")", r"\)")):
        caption(pictures(1), "image", client=client, cache=False, progress=False, **arguments)
    assert len(emulator.requests) == 0


def test_a_cache_file_from_before_reasoning_is_upgraded_in_place(cache_path):
    with sqlite3.connect(cache_path) as db:
        db.execute(
            "CREATE TABLE captions (key TEXT PRIMARY KEY, text TEXT NOT NULL, finish_reason TEXT, "
            "prompt_tokens INTEGER, completion_tokens INTEGER, total_tokens INTEGER, model TEXT, "
            "created REAL NOT NULL)"
        )
        db.execute("INSERT INTO captions VALUES ('old', 'an old caption', 'stop', 1, 2, 3, 'm', 0)")
    with ResultCache(cache_path) as cache:
        old = cache.get("old")
        assert (old.text, old.reasoning) == ("an old caption", "")


def test_the_dask_meta_names_the_reasoning_column():
    meta = caption_meta(pictures(1), reasoning="thought")
    assert list(meta.columns) == ["image", "caption", "caption_error", "thought"]
