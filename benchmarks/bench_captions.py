"""caption() against a sequential `df.apply`, the cache, and memory that follows the concurrency.

Against the local emulator answering each request after 250 ms (`ttft=0.25`), run in a process
of its own as the real service would be (it still counts the requests it receives):

1. Speed: `caption(concurrency=16)` vs `df.apply` calling `client.chat` one row at a time, on
   the same rows. The baseline's rows are split in two halves run before and after ours, so a
   change in the machine's load during the run weighs on both. Targets: at least 12x faster,
   and at least 85% of the ideal rate (16 requests in flight / 0.25 s = 64 rows/s). A reference
   row also compares with the ideal at the latency one request really has here (the sequential
   run's time per row), which separates the emulator's overhead per request from ours; and
   another with what whole rounds allow at that latency: 200 rows on 16 slots keep some slot
   busy for 13 requests in a row, so 12.5/13 = 0.96 of the ideal is the most any scheduler reaches.
2. The same call again: served from the cache, 0 requests (counted at the emulator).
   A last row measures the floor of this machine at this concurrency: 16 processes (nothing
   shared: no interpreter, no cache, no thread) each sending its 12 or 13 of the same rows one at
   a time with `client.chat`, started together, interleaved with our runs (best of as many).
   Even they take longer a request than one process alone does: 16 requests at once cost the
   emulator and a 2-core machine more than one. Ours against it shows what is left to our code.
3. Memory: 1-megapixel JPEGs given as paths (a few hundred distinct files on disk, each row's
   prompt different so every row is a request), captioned in a child process whose resident
   memory is sampled; the growth for 5x the rows should stay about the same, because only the
   rows in flight are ever loaded.

`python benchmarks/bench_captions.py [--quick]` prints the table.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as `python benchmarks/bench_captions.py`
    sys.path.insert(0, str(ROOT))

from benchmarks.emulator_process import EmulatorProcess  # noqa: E402 - after the path for direct runs

LATENCY = 0.25
CONCURRENCY = 16
TRIALS = 4  # runs of ours; the fastest is reported (the baseline is timed once: ~50 s)
IDEAL_RATE = CONCURRENCY / LATENCY


def _frame(rows: int):
    import numpy as np
    import pandas as pd
    from PIL import Image

    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)) for _ in range(rows)]
    return pd.DataFrame({"image": images, "n": range(rows)})


def _floor_child(base_url: str, api_key: str, first: int, count: int, rows: int) -> None:
    """In a process of its own: rows first..first+count-1, one at a time, each time a "go" line
    arrives on stdin; prints when it started and ended (time.monotonic, one clock for every
    process on Linux)."""
    import sensenova_widget as snw

    df = _frame(rows)
    client = snw.Client(api_key, base_url=base_url)
    client.chat("Warm up.", images=[df["image"][first]])
    print("ready", flush=True)
    for _ in sys.stdin:
        started = time.monotonic()
        for n in range(first, first + count):
            client.chat(f"Describe picture {n}.", images=[df["image"][n]])
        print(json.dumps([started, time.monotonic()]), flush=True)


class _Floor:
    """CONCURRENCY processes that send their share of the rows one at a time, on demand: `run()`
    starts them together and returns the seconds until the last one finished."""

    def __init__(self, emu: EmulatorProcess, rows: int) -> None:
        shares = [rows // CONCURRENCY + (k < rows % CONCURRENCY) for k in range(CONCURRENCY)]
        firsts = [sum(shares[:k]) for k in range(CONCURRENCY)]
        self._processes = [
            subprocess.Popen(
                [sys.executable, __file__, "--floor-child", emu.base_url, str(first), str(count), str(rows)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            for first, count in zip(firsts, shares)
        ]
        for process in self._processes:
            process.stdin.write(emu.api_key + "\n")  # never on the command line
            process.stdin.flush()
        for process in self._processes:
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError("a floor process failed to start")

    def run(self) -> float:
        for process in self._processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        times = [json.loads(process.stdout.readline()) for process in self._processes]
        return max(end for _, end in times) - min(start for start, _ in times)

    def close(self) -> None:
        for process in self._processes:
            process.stdin.close()
            process.wait(30)


def _speed(quick: bool) -> list[dict]:
    import sensenova_widget as snw
    from sensenova_widget.captions import caption

    rows = 64 if quick else 200
    df = _frame(rows)
    with EmulatorProcess(ttft=LATENCY) as emu, tempfile.TemporaryDirectory() as tmp:
        client = snw.Client(emu.api_key, base_url=emu.base_url)

        def one_by_one(part):
            started = time.perf_counter()
            part.apply(
                lambda row: client.chat(f"Describe picture {row['n']}.", images=[row["image"]]).text, axis=1
            )
            return time.perf_counter() - started

        caption(
            df.head(4), "image", "Warm up {n}.", client=client, cache=False, progress=False, concurrency=4
        )
        half = rows // 2
        baseline = one_by_one(df.iloc[:half])

        def ours_run(cache_file: str):
            """One caption() over all rows: (result, seconds, requests the emulator received)."""
            sent, started = emu.request_count, time.perf_counter()
            result = caption(
                df,
                "image",
                "Describe picture {n}.",
                client=client,
                concurrency=CONCURRENCY,
                cache=Path(tmp) / cache_file,
                progress=False,
            )
            return result, time.perf_counter() - started, emu.request_count - sent

        # ours: the best of TRIALS fresh runs (each with an empty cache file of its own), since one
        # run on a shared 2-core machine can lose 5% to a neighbour; the baseline takes ~50 s a run
        # and is timed once, split around them so both see the same load.
        floor = _Floor(emu, rows)
        floors: list[float] = []

        def ours_and_floor(trial: int):
            floors.append(floor.run())
            return ours_run(f"cache-{trial}.sqlite")

        try:
            trials = [ours_and_floor(trial) for trial in range(TRIALS // 2)]
            baseline += one_by_one(df.iloc[half:])
            trials += [ours_and_floor(trial) for trial in range(TRIALS // 2, TRIALS)]
        finally:
            floor.close()
        first, ours, ours_requests = min(trials, key=lambda trial: trial[1])
        again, cached, cached_requests = ours_run(f"cache-{TRIALS - 1}.sqlite")
    assert first["caption"].notna().all() and again["caption"].tolist() == first["caption"].tolist()
    name = f"caption {rows} rows, {LATENCY * 1000:.0f} ms latency"
    speedup = baseline / ours
    latency = baseline / rows  # what one request really takes here, the emulator's overhead included
    rate = rows / ours
    floor_rate = rows / min(floors)
    rounds = math.ceil(rows / CONCURRENCY)  # 200 rows: 13, so no run reaches more than 12.5/13 of the ideal
    return [
        {
            "benchmark": name,
            "metric": "seconds: sequential df.apply vs caption(concurrency=16); ratio = speedup",
            "baseline": round(baseline, 2),
            "ours": round(ours, 2),
            "ratio": round(speedup, 2),
            "target": ">= 12",
            "ok": speedup >= 12,
        },
        {
            "benchmark": name,
            "metric": "rows/s: ideal 16/0.25 s vs ours; ratio = ours / ideal",
            "baseline": IDEAL_RATE,
            "ours": round(rate, 1),
            "ratio": round(rate / IDEAL_RATE, 3),
            "target": ">= 0.85",
            "ok": rate / IDEAL_RATE >= 0.85,
        },
        {
            "benchmark": name,
            "metric": f"rows/s: ideal at the emulator's measured latency ({latency * 1000:.0f} ms a "
            f"request, one at a time) vs ours (best of {TRIALS} runs)",
            "baseline": round(CONCURRENCY / latency, 1),
            "ours": round(rate, 1),
            "ratio": round(rate * latency / CONCURRENCY, 3),
            "target": ">= 0.95",
            "ok": rate * latency / CONCURRENCY >= 0.95,
        },
        {
            "benchmark": name,
            "metric": f"rows/s: best possible at the measured latency in whole rounds ({rounds} requests one "
            f"after another on the busiest of the {CONCURRENCY} slots) vs ours",
            "baseline": round(rows / (rounds * latency), 1),
            "ours": round(rate, 1),
            "ratio": round(rate * rounds * latency / rows, 3),
            "target": "(reference)",
            "ok": True,
        },
        {
            "benchmark": name,
            "metric": f"rows/s: {CONCURRENCY} processes each sending its "
            f"{rows // CONCURRENCY if rows % CONCURRENCY == 0 else f'{rows // CONCURRENCY} or {rounds}'} "
            f"rows one at a time (nothing shared: this machine's floor at this concurrency, "
            f"itself {floor_rate * latency / CONCURRENCY:.3f} of the ideal at the measured latency) vs "
            f"ours (best of {TRIALS} runs each, interleaved)",
            "baseline": round(floor_rate, 1),
            "ours": round(rate, 1),
            "ratio": round(rate / floor_rate, 3),
            "target": "(reference)",
            "ok": True,
        },
        {
            "benchmark": name,
            "metric": "requests: first run vs the same call again (served by the cache)",
            "baseline": ours_requests,
            "ours": cached_requests,
            "ratio": round(cached_requests / ours_requests, 3),
            "target": "0 requests",
            "ok": cached_requests == 0 and ours_requests == rows,
        },
        {
            "benchmark": name,
            "metric": "seconds: first run vs the same call again (from the cache)",
            "baseline": round(ours, 2),
            "ours": round(cached, 3),
            "ratio": round(cached / ours, 4),
            "target": "< 1",
            "ok": cached < ours,
        },
    ]


def _write_images(folder: Path, count: int) -> list[str]:
    """`count` distinct 1000x1000 JPEGs (a gradient, shifted per file)."""
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:1000, 0:1000]
    base = np.stack([x * 255 // 999, y * 255 // 999, (x + y) * 255 // 1998], -1).astype(np.uint8)
    paths = []
    for k in range(count):
        path = folder / f"{k}.jpg"
        Image.fromarray(base + np.uint8(k % 256)).save(path, quality=85)
        paths.append(str(path))
    return paths


def _memory_child(rows: int, folder: str, base_url: str, api_key: str) -> dict:
    """In a fresh process: peak RSS growth while captioning `rows` rows of 1-MP image paths."""
    import pandas as pd
    import psutil

    import sensenova_widget as snw
    from sensenova_widget.captions import caption

    files = sorted(str(p) for p in Path(folder).glob("*.jpg"))
    df = pd.DataFrame({"image": [files[i % len(files)] for i in range(rows)], "n": range(rows)})
    client = snw.Client(api_key, base_url=base_url)
    with tempfile.TemporaryDirectory() as tmp:

        def run(frame, prompt: str, cache_name: str):
            return caption(
                frame,
                "image",
                prompt,
                client=client,
                cache=Path(tmp) / cache_name,
                progress=False,
                concurrency=CONCURRENCY,
            )

        warm = run(df.head(CONCURRENCY * 2), "Warm up {n}.", "w.sqlite")
        assert warm["caption"].notna().all()
        process = psutil.Process()
        start = process.memory_info().rss
        peak = [start]
        done = threading.Event()

        def sample():
            while not done.wait(0.01):
                peak[0] = max(peak[0], process.memory_info().rss)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        out = run(df, "Describe picture {n}.", "c.sqlite")
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
    peak[0] = max(peak[0], process.memory_info().rss)
    return {
        "rows": rows,
        "growth_mb": (peak[0] - start) / 2**20,
        "seconds": elapsed,
        "captioned": int(out["caption"].notna().sum()),
    }


def _memory(quick: bool) -> list[dict]:
    import sensenova_widget as snw

    small, large = (200, 1000) if quick else (1000, 5000)
    results = {}
    with tempfile.TemporaryDirectory() as folder, snw.Emulator() as emu:
        _write_images(Path(folder), 50 if quick else 200)
        for rows in (small, large):
            out = subprocess.run(
                [sys.executable, __file__, "--memory-child", str(rows), folder, emu.base_url],
                input=emu.api_key,
                capture_output=True,
                text=True,
                timeout=600,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            if out.returncode:
                raise RuntimeError(f"memory child for {rows} rows failed: {out.stderr[-2000:]}")
            results[rows] = json.loads(out.stdout.strip().splitlines()[-1])
    a, b = results[small], results[large]
    assert a["captioned"] == small and b["captioned"] == large
    ratio = b["growth_mb"] / max(a["growth_mb"], 1.0)
    return [
        {
            "benchmark": f"caption 1-MP image paths, {small} vs {large} rows",
            "metric": f"peak RSS growth MB ({small} rows vs {large} rows; {b['seconds']:.0f} s for {large})",
            "baseline": round(a["growth_mb"], 1),
            "ours": round(b["growth_mb"], 1),
            "ratio": round(ratio, 2),
            "target": f"<= 1.5 for {large // small}x the rows",
            "ok": ratio <= 1.5,
        }
    ]


def run(quick: bool = False) -> list[dict]:
    return _speed(quick) + _memory(quick)


def _print(rows: list[dict]) -> None:
    columns = ("benchmark", "metric", "baseline", "ours", "ratio", "target", "ok")
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row[c]) for c in columns))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--floor-child"]:
        base_url, first, count, rows = sys.argv[2], *map(int, sys.argv[3:6])
        _floor_child(base_url, sys.stdin.readline().strip(), first, count, rows)
    elif sys.argv[1:2] == ["--memory-child"]:
        rows, folder, base_url = int(sys.argv[2]), sys.argv[3], sys.argv[4]
        print(json.dumps(_memory_child(rows, folder, base_url, sys.stdin.read().strip())))
    else:
        _print(run(quick="--quick" in sys.argv))
