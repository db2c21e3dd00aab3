"""An Emulator in a process of its own, as the real service is: the client's threads then never
wait for the server's share of the GIL, and the requests are still counted at the server.

`EmulatorProcess(entry="base_url", **knobs)` starts `python -m benchmarks.emulator_process` with
the knobs, reads the URL of `entry` (`base_url`, `token_plan_base_url`, ...) and the key it
prints, then talks to it over stdin: `request_count` (chat requests received so far) and
`reset()` (forget them, and the gate's counts). The process ends at end of input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class EmulatorProcess:
    def __init__(self, entry: str = "base_url", **knobs: Any) -> None:
        self._args = [sys.executable, "-m", "benchmarks.emulator_process", json.dumps([entry, knobs])]

    def __enter__(self) -> EmulatorProcess:
        self._process = subprocess.Popen(
            self._args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.base_url, self.api_key = json.loads(self._process.stdout.readline())
        return self

    def _ask(self, line: str) -> str:
        self._process.stdin.write(line + "\n")
        self._process.stdin.flush()
        return self._process.stdout.readline().strip()

    @property
    def request_count(self) -> int:
        return int(self._ask("count"))

    def reset(self) -> None:
        self._ask("reset")

    def __exit__(self, *exc: Any) -> None:
        self._process.stdin.close()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _serve(entry: str, knobs: dict) -> None:
    import sensenova_widget as snw

    with snw.Emulator(**knobs) as emu:
        print(json.dumps([getattr(emu, entry), emu.api_key]), flush=True)
        for line in sys.stdin:
            if line.strip() == "reset":
                emu.reset()
                print("ok", flush=True)
            else:
                print(len(emu.requests), flush=True)


if __name__ == "__main__":
    _serve(*json.loads(sys.argv[1]))
