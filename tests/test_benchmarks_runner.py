"""`python -m benchmarks` collects every benchmark's rows into one Markdown table."""

import importlib

import pytest

from benchmarks.__main__ import available, render


def test_render_makes_one_table_with_the_machine():
    rows = [
        {
            "benchmark": "x",
            "metric": "time",
            "baseline": 2.0,
            "ours": 1.0,
            "ratio": 0.5,
            "target": "<= 0.8",
            "ok": True,
        },
        {
            "benchmark": "y",
            "metric": "bytes",
            "baseline": 10,
            "ours": 9,
            "ratio": 0.9,
            "target": "<= 0.2",
            "ok": False,
        },
    ]
    text = render(rows, {"z": "ValueError: boom"}, quick=True)
    assert "| x | time | 2 | 1 | 0.5 | <= 0.8 | yes |" in text
    assert "| **no** |" in text
    assert "cores" in text and "quick mode" in text
    assert "`z` failed to run: ValueError: boom" in text


@pytest.mark.parametrize("name", available())
def test_every_benchmark_exposes_run(name):
    module = importlib.import_module(f"benchmarks.bench_{name}")
    assert callable(module.run)
