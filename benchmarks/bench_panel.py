"""ChatPanel in a real JupyterLab and Chromium: comm messages while a reply streams, render time.

1. Streaming: a 2,000-delta reply (the emulator's `reply_tokens=3000`, deltas of 1 and 2 tokens)
   sent at ~1,000 deltas/s (`delta_delay=0.001`) into the panel, a turn typed as `panel.send`.
   Counted in the browser, by the view itself as messages arrive: comm messages from the kernel
   (custom messages plus state updates) per second, the peak over any 1-s window, and whether
   the text the browser ends with (and the text the deltas built) equals the kernel's reply.
   Baseline, run interleaved in the same kernel and page: the obvious widget, the reply appended
   to a synced string trait, one update per delta.
2. Rendering: the kernel sets a 200-turn conversation (Markdown paragraphs, lists and code
   blocks); the view's own timing of that render, layout included, until the log shows its end
   (the last 12 turns as Markdown; older replies show their text and become Markdown in idle
   time or as they scroll near the view, which this time leaves out). Then one more turn
   arrives. Baseline: rebuilding every turn with its Markdown (what a naive view does on each
   update), timed in the same page on the same turns, after ours has finished its idle work.
3. Stop: a reply streaming at 20 deltas/s, Stop clicked in the page; the time until the turn
   shows as stopped (the kernel closes the HTTP stream, then sets the turn once).

The panel's hooks (`el.snwStats`, `el.snwRenderNaiveMs`) live only in its development build:
the notebook sets `ChatPanel.development_bundle = True` before making its panels.

    python benchmarks/bench_panel.py [--quick]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from browser_helpers import (  # noqa: E402
    lab_with_emulator,
    open_notebook,
    run_all,
    send_and_watch_it_stream,
    write_notebook,
)

FAST = {"x-emulator-fault": "delta_delay=0.001,reply_tokens=3000"}
PROMPT = "Stream a long reply"

SETUP = f"""
import json, pathlib, time
import anywidget, traitlets
import sensenova_widget as snw
snw.ChatPanel.development_bundle = True  # the panel's development build, with its hooks
FAST = {FAST!r}
here = pathlib.Path(".")

def wait_for(name):
    while not (here / name).exists():
        time.sleep(0.05)

def done(name, text):
    (here / name).write_text(json.dumps(text))
"""

NAIVE = '''
class NaiveText(anywidget.AnyWidget):
    """The baseline: the reply appended to a synced string trait, one update per delta."""
    _esm = """export default { render({ model, el }) {
      const stats = { events: [], final: "" };
      el.naiveStats = stats;
      el.classList.add("naive-text");
      model.on("change:text", () => {
        stats.events.push(performance.now());
        stats.final = model.get("text");
      });
    } }"""
    text = traitlets.Unicode("").tag(sync=True)

naive = NaiveText()
naive
'''

PANEL = """
panel = snw.ChatPanel(client=snw.Client(headers=FAST), max_new_tokens=4000)
panel
"""

SLOW_PANEL = """
slow = snw.ChatPanel(client=snw.Client(headers={"x-emulator-fault": "delta_delay=0.05,reply_tokens=400"}))
slow
"""

ROUNDS = """
for r in range({rounds}):
    wait_for(f"go-ours-{{r}}")
    panel.clear()
    started = time.perf_counter()
    reply = panel.ask({prompt!r})
    done(f"done-ours-{{r}}", {{"text": reply.text, "seconds": time.perf_counter() - started}})
    wait_for(f"go-naive-{{r}}")
    naive.text = ""
    count, started = 0, time.perf_counter()
    with snw.Client(headers=FAST).stream({prompt!r}, max_new_tokens=4000) as stream:
        for delta in stream:
            naive.text += delta.text
            count += 1
    seconds = time.perf_counter() - started
    done(f"done-naive-{{r}}", {{"text": stream.text, "deltas": count, "seconds": seconds}})
"""

RENDER = """
def turns(n, start=0):
    out = []
    for i in range(start, start + n):
        if i % 2 == 0:
            text = f"Question {{i}}: what does this code do?"
            out.append({{"id": f"u{{i}}", "role": "user", "text": text, "attachments": []}})
        else:
            text = (f"Answer {{i}}. The function **adds** two numbers and returns the sum; see `add`.\\n\\n"
                    "- it takes `a` and `b`\\n- it returns `a + b`\\n\\n"
                    "```python\\ndef add(a, b):\\n    # the sum\\n    return a + b\\n```\\n")
            out.append({{"id": f"a{{i}}", "role": "assistant", "text": text, "status": "done", "model": "m",
                        "finish_reason": "stop", "notice": None, "omitted": [],
                        "usage": {{"prompt_tokens": 10, "completion_tokens": 40, "total_tokens": 50}},
                        "error": None}})
    return out

for r in range({rounds}):
    wait_for(f"go-render-{{r}}")
    panel.conversation = []
    panel.conversation = turns(200)
    done(f"done-render-{{r}}", 200)
    wait_for(f"go-more-{{r}}")
    panel.conversation = panel.conversation + turns(1, start=200)
    done(f"done-more-{{r}}", 201)
done("done-all", True)
"""


def _signal(root: Path, name: str) -> None:
    (root / name).write_text("go")


def _wait(root: Path, name: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while not (root / name).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the notebook did not write {name} within {timeout} s")
        time.sleep(0.05)
    time.sleep(0.05)
    return json.loads((root / name).read_text())


def _rate(times_ms: list[float]) -> tuple[float, int]:
    """(messages per second over the whole window, peak count in any 1-s window)."""
    if len(times_ms) < 2:
        return float(len(times_ms)), len(times_ms)
    span = (times_ms[-1] - times_ms[0]) / 1000
    peak, j = 0, 0
    for i, t in enumerate(times_ms):
        while t - times_ms[j] > 1000:
            j += 1
        peak = max(peak, i - j + 1)
    return len(times_ms) / max(span, 1.0), peak


STOP = """async (panel) => {
    const started = performance.now();
    panel.querySelector(".snw-send").click();
    while (!panel.querySelector(".snw-assistant.snw-status-stopped")) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (performance.now() - started > 30000) throw new Error("the reply was not marked stopped");
    }
    return performance.now() - started;
}"""


def _stop_latency_ms(page, panel) -> float:
    """Send in the slow panel, let some text stream, press Stop; the time until the turn shows stopped."""
    send_and_watch_it_stream(page, panel, "Tell me a long story")
    latency = panel.evaluate(STOP)
    clear = panel.get_by_role("button", name="Clear")
    clear.click()
    clear.click()  # Clear asks first ("Clear all?"): the second press clears
    page.wait_for_function("el => !el.querySelector('.snw-turn')", arg=panel.element_handle(), timeout=30_000)
    return latency


def run(quick: bool = False) -> list[dict]:
    rounds = 1 if quick else 3
    cells = [
        SETUP,
        NAIVE,
        PANEL,
        SLOW_PANEL,
        ROUNDS.format(rounds=rounds, prompt=PROMPT),
        RENDER.format(rounds=rounds),
    ]
    stream_runs: dict[str, list[dict]] = {"ours": [], "naive": []}
    renders: dict[str, list[float]] = {"ours200": [], "naive200": [], "ours201": [], "naive201": []}
    with tempfile.TemporaryDirectory() as tmp, lab_with_emulator(Path(tmp) / "root") as lab:
        root = lab["root"]
        write_notebook(root / "bench.ipynb", cells)
        page = lab["browser"].new_page(viewport={"width": 1280, "height": 1000})
        open_notebook(page, lab["url"], "bench.ipynb")
        run_all(page)
        page.locator(".jp-Notebook:visible .snw-panel").nth(1).wait_for(timeout=60_000)
        page.locator(".jp-Notebook:visible .naive-text").wait_for(state="attached", timeout=60_000)
        panel_el = page.locator(".jp-Notebook:visible .snw-panel").first.locator("xpath=..")
        slow_panel = page.locator(".jp-Notebook:visible .snw-panel").nth(1)
        naive_el = page.locator(".jp-Notebook:visible .naive-text").last
        for r in range(rounds):
            before = panel_el.evaluate("el => el.snwStats.events.length")
            _signal(root, f"go-ours-{r}")
            sent = _wait(root, f"done-ours-{r}")
            expected = sent["text"]
            time.sleep(0.5)  # the final state update is on its way
            got = panel_el.evaluate(
                """(el, before) => {
                const s = el.snwStats;
                const events = s.events.slice(before).map(e => e.t);
                const ids = Object.keys(s.final);
                const id = ids[ids.length - 1];
                return {events, final: s.final[id], streamed: s.streamed[id]};
            }""",
                before,
            )
            stream_runs["ours"].append(
                {
                    "times": got["events"],
                    "exact": got["final"] == expected,
                    "streamed_exact": got["streamed"] == expected,
                    "seconds": sent["seconds"],
                }
            )
            before = naive_el.evaluate("el => el.naiveStats.events.length")
            _signal(root, f"go-naive-{r}")
            sent = _wait(root, f"done-naive-{r}")
            time.sleep(1.0)
            got = naive_el.evaluate(
                "(el, before) => ({events: el.naiveStats.events.slice(before), final: el.naiveStats.final})",
                before,
            )
            stream_runs["naive"].append(
                {
                    "times": got["events"],
                    "exact": got["final"] == sent["text"],
                    "deltas": sent["deltas"],
                    "seconds": sent["seconds"],
                }
            )
            time.sleep(3.5)  # let jupyter_server's 3-s IOPub rate window pass before the next run
        for r in range(rounds):
            for step, count in (("render", 200), ("more", 201)):
                _signal(root, f"go-{step}-{r}")
                _wait(root, f"done-{step}-{r}")
                page.wait_for_function(
                    "([el, n]) => el.snwStats.renders.some(x => x.turns === n)"
                    " && el.querySelectorAll('.snw-turn').length === n",
                    arg=[panel_el.element_handle(), count],
                    timeout=60_000,
                )
                ours = panel_el.evaluate(
                    "(el, n) => el.snwStats.renders.filter(x => x.turns === n).pop().ms", count
                )
                naive = panel_el.evaluate("el => el.snwRenderNaiveMs()")
                renders[f"ours{count}"].append(ours)
                renders[f"naive{count}"].append(naive)
                panel_el.evaluate("el => { el.snwStats.renders.length = 0; }")
        _wait(root, "done-all")  # the kernel is free again: the browser's requests are served
        stops = [_stop_latency_ms(page, slow_panel) for _ in range(rounds)]
        page.close()

    rows = []
    rows.append(
        {
            "benchmark": "panel: Stop while a reply streams",
            "metric": "click to stopped turn shown (ms)",
            "baseline": "",
            "ours": round(max(stops)),
            "ratio": "",
            "target": "ours <= 500",
            "ok": max(stops) <= 500,
        }
    )
    for side in ("ours", "naive"):
        for run_ in stream_runs[side]:
            run_["rate"], run_["peak"] = _rate(run_["times"])
    ours_peak = max(x["peak"] for x in stream_runs["ours"])
    naive_peak = max(x["peak"] for x in stream_runs["naive"])
    ours_rate = max(x["rate"] for x in stream_runs["ours"])
    naive_rate = max(x["rate"] for x in stream_runs["naive"])
    name = "panel: 2,000-delta reply at ~1,000 deltas/s"
    deltas = stream_runs["naive"][-1]["deltas"]
    naive_speed = max(deltas / x["seconds"] for x in stream_runs["naive"])
    ours_speed = max(deltas / x["seconds"] for x in stream_runs["ours"])
    rows.append(
        {
            "benchmark": name,
            "metric": f"deltas/s read from the server ({deltas} deltas)",
            "baseline": round(naive_speed),
            "ours": round(ours_speed),
            "ratio": round(ours_speed / naive_speed, 2),
            "target": "~1000 (the emulator's pace)",
            "ok": deltas >= 2000,
        }
    )
    rows.append(
        {
            "benchmark": name,
            "metric": "comm msgs/s kernel->browser (peak 1-s window)",
            "baseline": naive_peak,
            "ours": ours_peak,
            "ratio": round(ours_peak / max(naive_peak, 1), 3),
            "target": "ours <= 25",
            "ok": ours_peak <= 25,
        }
    )
    rows.append(
        {
            "benchmark": name,
            "metric": "comm msgs/s kernel->browser (mean over the stream)",
            "baseline": round(naive_rate, 1),
            "ours": round(ours_rate, 1),
            "ratio": round(ours_rate / max(naive_rate, 1e-9), 3),
            "target": "ours <= 25",
            "ok": ours_rate <= 25,
        }
    )
    ours_exact = all(x["exact"] and x["streamed_exact"] for x in stream_runs["ours"])
    naive_exact = all(x["exact"] for x in stream_runs["naive"])
    rows.append(
        {
            "benchmark": name,
            "metric": "browser's final text == reply (every run; ours: final and streamed)",
            "baseline": naive_exact,
            "ours": ours_exact,
            "ratio": "",
            "target": "ours True",
            "ok": ours_exact,
        }
    )
    for count, label in (
        (200, "render a 200-turn conversation (ms)"),
        (201, "re-render after one more turn (ms)"),
    ):
        ours = min(renders[f"ours{count}"])
        naive = min(renders[f"naive{count}"])
        target = "ratio <= 1.0" if count == 200 else "ours < baseline"
        ok = ours <= naive if count == 200 else ours < naive
        rows.append(
            {
                "benchmark": "panel: Chromium rendering",
                "metric": label,
                "baseline": round(naive, 1),
                "ours": round(ours, 1),
                "ratio": round(ours / max(naive, 1e-9), 3),
                "target": target,
                "ok": ok,
            }
        )
    return rows


def main() -> None:
    quick = "--quick" in sys.argv
    rows = run(quick=quick)
    columns = ("benchmark", "metric", "baseline", "ours", "ratio", "target", "ok")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")


if __name__ == "__main__":
    main()
