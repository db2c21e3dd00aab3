"""Captioning through 429 weather: caption() against the usual alternatives on the token plan.

The token plan's rate gate refuses a large share of requests in busy hours (28-42% at up to 30
requests a minute: service-today.md, "The token plan"). Against the local emulator's token plan
answering each request after `LATENCY` seconds, its gate refusing a third of requests at random
(`gate=0.33`), each approach captions the same rows with the same number of requests in flight:

- ours: `caption(df, ...)` (cache off), which paces its own 429s (`pacing`);
- an `AsyncOpenAI` loop: one task per row, a semaphore of the same size, the SDK's own retries
  (2, backoff from 0.5 s honouring Retry-After): what a newcomer writes from the SDK's docs;
- chatlas' `parallel_chat` (`ChatOpenAICompletions`, `max_active` the same), when chatlas can
  be imported (it is not a dependency: `pip install chatlas`); otherwise its row says so.

The gate's draws are seeded (`gate_seed`): a refusal follows from the question and how often it
was asked, so every approach meets the same weather for the same row (common random numbers;
the emulator's counts are reset between runs). Each run reports the rows done, the requests
sent per row done (the minimum is what the weather forces: 1 plus the refusals before each
row's first pass), and its time as a ratio of the ideal (every row answered at the first try:
rows / in flight * latency). The emulator runs in a process of its own, as the service would.

`python benchmarks/bench_weather.py [--quick]` prints the table.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as `python benchmarks/bench_weather.py`
    sys.path.insert(0, str(ROOT))

from benchmarks.emulator_process import EmulatorProcess  # noqa: E402 - after the path for direct runs

LATENCY = 0.2
CONCURRENCY = 8
GATE = 0.33
SEED = 7
PROMPT = "Describe row {n}."


def _pictures(rows: int) -> list:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)) for _ in range(rows)]


def _data_url(picture) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _ours(service: EmulatorProcess, rows: int) -> tuple[int, float]:
    import pandas as pd

    import sensenova_widget as snw

    frame = pd.DataFrame({"image": _pictures(rows), "n": range(rows)})
    with snw.Client(api_key=service.api_key, base_url=service.base_url) as client:
        started = time.perf_counter()
        out = snw.caption(
            frame, "image", PROMPT, client=client, cache=False, progress=False, concurrency=CONCURRENCY
        )
        elapsed = time.perf_counter() - started
    return int(out["caption"].notna().sum()), elapsed


def _openai_loop(service: EmulatorProcess, rows: int) -> tuple[int, float]:
    from openai import AsyncOpenAI

    from sensenova_widget import protocol

    urls = [_data_url(p) for p in _pictures(rows)]

    async def main() -> int:
        client = AsyncOpenAI(api_key=service.api_key, base_url=service.base_url, max_retries=2)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(n: int) -> bool:
            async with gate:
                try:
                    await client.chat.completions.create(
                        model=protocol.TOKEN_PLAN_VISION_MODEL,
                        messages=[
                            {
                                "role": "user",
                                "content": [
                                    {"type": "image_url", "image_url": {"url": urls[n]}},
                                    {"type": "text", "text": PROMPT.format(n=n)},
                                ],
                            }
                        ],
                    )
                except Exception:  # the row is lost
                    return False
                return True

        try:
            return sum(await asyncio.gather(*(one(n) for n in range(rows))))
        finally:
            await client.close()

    started = time.perf_counter()
    done = asyncio.run(main())
    return done, time.perf_counter() - started


CHATLAS_CHILD = """
import asyncio, json, sys, time
import chatlas
from benchmarks.bench_weather import PROMPT, CONCURRENCY, _data_url, _pictures
from sensenova_widget import protocol
base_url, api_key, rows = sys.stdin.readline().split()
rows = int(rows)
urls = [_data_url(p) for p in _pictures(rows)]
model = protocol.TOKEN_PLAN_VISION_MODEL
chat = chatlas.ChatOpenAICompletions(base_url=base_url, api_key=api_key, model=model)
prompts = [[chatlas.content_image_url(urls[n]), PROMPT.format(n=n)] for n in range(rows)]
started = time.perf_counter()
done = asyncio.run(chatlas.parallel_chat(chat, prompts, max_active=CONCURRENCY, on_error="continue"))
elapsed = time.perf_counter() - started
print(json.dumps([sum(1 for d in done if d is not None and not isinstance(d, Exception)), elapsed]))
"""


def _chatlas_available() -> str | None:
    """None when chatlas imports here, else why not."""
    probe = subprocess.run(
        [sys.executable, "-c", "import chatlas"], capture_output=True, text=True, env=_child_env()
    )
    return None if probe.returncode == 0 else "chatlas is not installed (pip install chatlas): skipped"


def _child_env() -> dict[str, str]:
    extra = os.environ.get("CHATLAS_PATH")  # a folder chatlas was installed into (pip --target), if any
    path = os.pathsep.join([str(ROOT)] + ([extra] if extra else []))
    return {**os.environ, "PYTHONPATH": path}


def _chatlas(service: EmulatorProcess, rows: int) -> tuple[int, float]:
    child = subprocess.run(
        [sys.executable, "-c", CHATLAS_CHILD],
        input=f"{service.base_url} {service.api_key} {rows}\n",
        capture_output=True,
        text=True,
        env=_child_env(),
        timeout=1800,
    )
    if child.returncode != 0:
        raise RuntimeError(child.stderr.strip().splitlines()[-1] if child.stderr.strip() else "failed")
    done, elapsed = json.loads(child.stdout.strip().splitlines()[-1])
    return int(done), float(elapsed)


def _measure(service: EmulatorProcess, runner, rows: int) -> dict:
    service.reset()
    done, elapsed = runner(service, rows)  # timed around the work alone (no imports, no set-up)
    sent = service.request_count
    ideal = math.ceil(rows / CONCURRENCY) * LATENCY
    return {
        "done": done,
        "per_row": sent / max(done, 1),
        "time": elapsed / ideal,
        "sent": sent,
    }


def run(quick: bool = False) -> list[dict]:
    rows = 40 if quick else 160
    skipped = _chatlas_available()
    with EmulatorProcess("token_plan_base_url", ttft=LATENCY, gate=GATE, gate_seed=SEED) as service:
        results = {
            "AsyncOpenAI + semaphore": _measure(service, _openai_loop, rows),
            "ours": _measure(service, _ours, rows),
        }
        if skipped is None:
            try:
                results["chatlas parallel_chat"] = _measure(service, _chatlas, rows)
            except Exception as exc:  # reported in the table, not a crash of the whole run
                skipped = f"chatlas parallel_chat failed: {type(exc).__name__}: {exc}"
    print(side_by_side(rows, results))
    ours = results["ours"]
    name = f"429 weather: {rows} rows, gate {GATE:g}, {CONCURRENCY} in flight, {LATENCY:g} s"
    table = []
    for label, base in results.items():
        if label == "ours":
            continue
        table += [
            {
                "benchmark": f"{name}, vs {label}",
                "metric": f"rows done (of {rows})",
                "baseline": base["done"],
                "ours": ours["done"],
                "ratio": ours["done"] / max(base["done"], 1),
                "target": "ours: all",
                "ok": ours["done"] == rows,
            },
            *(
                {
                    "benchmark": f"{name}, vs {label}",
                    "metric": metric,
                    "baseline": round(base[key], 3),
                    "ours": round(ours[key], 3),
                    "ratio": ours[key] / base[key],
                    "target": "<= 1",
                    "ok": ours[key] <= base[key] + 1e-9,
                }
                for metric, key in (("requests sent per row done", "per_row"), ("time / ideal", "time"))
            ),
        ]
    if skipped:
        table.append({"benchmark": f"{name}, vs chatlas parallel_chat", "metric": skipped})
    return table


def side_by_side(rows: int, results: dict) -> str:
    lines = [f"{'approach':28} {'rows done':>10} {'requests/row':>13} {'time/ideal':>11}"]
    for label, r in results.items():
        lines.append(f"{label:28} {r['done']:>5} of {rows:<3} {r['per_row']:>13.3f} {r['time']:>11.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        keys = ("benchmark", "metric", "baseline", "ours", "ratio", "ok")
        print(" | ".join(str(row.get(k, "")) for k in keys))
