"""`python -m benchmarks [--quick] [NAME ...]`: run every benchmark and write docs/benchmarks.md.

Each `benchmarks/bench_<name>.py` exposes `run(quick: bool = False) -> list[dict]`, measuring a
baseline and ours side by side in one run. This runner only collects their rows into one table
with the machine it ran on; it judges nothing by wall clock itself.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPORT = HERE.parent / "docs" / "benchmarks.md"
COLUMNS = ("benchmark", "metric", "baseline", "ours", "ratio", "target", "ok")


def available() -> list[str]:
    return sorted(p.stem[len("bench_") :] for p in HERE.glob("bench_*.py"))


def machine() -> str:
    mem = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem = f", {pages / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        pass
    cpu = platform.processor() or platform.machine()
    system = f"{platform.system()} {platform.machine()} ({cpu})"
    return f"{system}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}"


def cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return "" if value is None else str(value).replace("|", "\\|")


def render(rows: list[dict], failures: dict[str, str], quick: bool) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} on {machine()}"
        + (" (quick mode)" if quick else "")
        + ".",
        "Each row runs a baseline and ours side by side in one run; `ratio` is ours / baseline",
        "unless the metric says otherwise. Regenerate with `python -m benchmarks`.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in COLUMNS) + " |" for row in rows]
    for name, error in failures.items():
        lines += ["", f"`{name}` failed to run: {error}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {', '.join(available())})"
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--output", type=Path, default=REPORT, help="where to write the Markdown table")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    rows: list[dict] = []
    failures: dict[str, str] = {}
    for name in args.names or available():
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            module = importlib.import_module(f"benchmarks.bench_{name}")
            rows += module.run(quick=args.quick)
        except Exception as exc:  # a broken benchmark is reported, the others still run
            traceback.print_exc()
            failures[name] = f"{type(exc).__name__}: {exc}"
        print(f"   {time.perf_counter() - started:.1f} s", flush=True)
    report = render(rows, failures, args.quick)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(report)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
