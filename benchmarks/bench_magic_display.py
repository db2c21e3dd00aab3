"""%%sensenova's live output: one display updated at most every 80 ms, against one update per delta.

A reply of many tokens streams from the local emulator (as fast as it can send) into an
IPython display through a publisher that serializes each message to JSON, as ipykernel does
before it goes over IOPub. The baseline repaints the display on every delta (the obvious code);
ours is `LiveDisplay.follow`, which coalesces. Measured: display messages and bytes sent per
reply (jupyter_server drops IOPub messages above 1000/s, and each repaint resends the whole
text) and the wall time of the reply. Runs interleave; the best of each is kept.

    python benchmarks/bench_magic_display.py [--quick]
"""

from __future__ import annotations

import json
import sys
import time

from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import display

from sensenova_widget import Client
from sensenova_widget.emulator import Emulator
from sensenova_widget.magic.display import LiveDisplay


class _CountingPublisher(DisplayPublisher):
    """Serializes each display message as ipykernel would and counts messages and bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.messages = 0
        self.bytes = 0

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False):
        self.messages += 1
        self.bytes += len(json.dumps({"data": data, "metadata": metadata or {}, "transient": transient}))


def _per_delta(stream) -> None:
    handle = display({"text/plain": ""}, raw=True, display_id=True)
    text = ""
    for delta in stream:
        text += delta.text
        handle.update({"text/plain": text}, raw=True)
    handle.update({"text/plain": text}, raw=True)


def _coalesced(stream) -> None:
    live = LiveDisplay().start()
    live.follow((delta.text for delta in stream), stop=stream.close)
    live.finish({"text/plain": live.text})


def _measure(shell, client: Client, show) -> tuple[int, int, float]:
    publisher = _CountingPublisher()
    saved, shell.display_pub = shell.display_pub, publisher
    try:
        start = time.perf_counter()
        with client.stream("stream a long reply please") as stream:
            show(stream)
        elapsed = time.perf_counter() - start
    finally:
        shell.display_pub = saved
    return publisher.messages, publisher.bytes, elapsed


SCENARIOS = (
    # (name, emulator knobs, targets for messages / bytes / seconds)
    ("as fast as the emulator sends", {}, (0.1, 0.1, 1.1)),
    ("paced like a model, 10 ms a delta", {"delta_delay": 0.01}, (0.5, 0.5, 1.1)),
)


def run(quick: bool = False) -> list[dict]:
    shell = InteractiveShell.instance()
    rows = []
    for scenario, knobs, targets in SCENARIOS:
        paced = "delta_delay" in knobs
        tokens = (60 if quick else 150) if paced else (800 if quick else 4000)
        rounds = 1 if quick else 3
        best: dict[str, tuple[int, int, float]] = {}
        with Emulator(reply_tokens=tokens, **knobs) as emu:
            client = Client(api_key=emu.api_key, base_url=emu.base_url)
            for _ in range(rounds):
                for name, show in (("baseline", _per_delta), ("ours", _coalesced)):
                    result = _measure(shell, client, show)
                    if name not in best or result[2] < best[name][2]:
                        best[name] = result
            client.close()
        metrics = ("display messages per reply", "bytes sent per reply", "seconds per reply")
        for index, (metric, target) in enumerate(zip(metrics, targets)):
            baseline, ours = best["baseline"][index], best["ours"][index]
            ratio = ours / baseline if baseline else float("inf")
            rows.append(
                {
                    "benchmark": f"magic_display: {tokens} tokens, {scenario}",
                    "metric": metric,
                    "baseline": round(baseline, 3),
                    "ours": round(ours, 3),
                    "ratio": round(ratio, 3),
                    "target": f"<= {target}",
                    "ok": ratio <= target,
                }
            )
    return rows


if __name__ == "__main__":
    table = run(quick="--quick" in sys.argv)
    print(f"{'benchmark':<58} {'metric':<28} {'baseline':>10} {'ours':>8} {'ratio':>7} {'target':>7}  ok")
    for row in table:
        print(
            f"{row['benchmark']:<58} {row['metric']:<28} {row['baseline']:>10} {row['ours']:>8} "
            f"{row['ratio']:>7} "
            f"{row['target']:>7}  {row['ok']}"
        )
