"""The result of a run as it fills in: columns, counts, the progress bar and the printed lines."""

from __future__ import annotations

from typing import Any

from .rows import TOKEN_FIELDS, RowResult
from .tables import COUNT, Kind

__all__ = ["Tally", "interrupted_line", "progress_bar", "summary_line"]


class Tally:
    """The result columns and counts, filled row by row in the main thread as outcomes arrive.

    Outcomes are not kept: a finished row costs its caption text (and three ints with
    `tokens=True`), so memory grows by the answers alone, not by anything a request held.
    """

    def __init__(
        self, total: int, tokens: bool, bar: Any, *, reasoning: str | None = None, done: str = "captioned"
    ) -> None:
        self.done = done  # the count of finished rows: "captioned", "extracted"
        self.texts: list[str | None] = [None] * total
        self.reasoning_column = reasoning
        self.reasonings: list[str | None] = [None] * total if reasoning else []
        self.errors: list[str | None] = [None] * total
        self.usage = {name: [None] * total for name in TOKEN_FIELDS} if tokens else {}
        self.counts = {
            done: 0,
            "from_cache": 0,
            "skipped": 0,
            "failed": 0,
            "not_done": 0,
            "tokens": 0,
            "cached_tokens": 0,
        }
        self.first_failure: tuple[int, RowResult] | None = None
        self.bar = bar

    def record(self, index: int, outcome: RowResult) -> None:
        counts = self.counts
        if outcome.skipped:
            counts["skipped"] += 1
        elif outcome.not_done:  # left for a later run: not a failure of the row
            counts["not_done"] += 1
            self.errors[index] = outcome.error
        elif outcome.error is not None:
            counts["failed"] += 1
            self.errors[index] = outcome.error
            self.texts[index] = (
                outcome.text
            )  # None, or what the task kept of a failed row (extract's raw reply)
            if self.first_failure is None:
                self.first_failure = (index, outcome)
        else:
            counts[self.done] += 1
            counts["from_cache"] += outcome.from_cache
            spent = "cached_tokens" if outcome.from_cache else "tokens"  # paid by an earlier run, or now
            counts[spent] += outcome.usage.get("total_tokens") or 0
            self.texts[index] = outcome.text
            if self.reasoning_column:
                self.reasonings[index] = outcome.reasoning
            for name, column in self.usage.items():
                column[index] = outcome.usage.get(name)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(
                failed=counts["failed"], cached=counts["from_cache"], tokens=counts["tokens"], refresh=False
            )

    def columns(self, out: str) -> tuple[dict[str, list], dict[str, Kind]]:
        """The new columns by name (text first), and the kinds of those holding token counts."""
        counts = {f"{out}_{name}": values for name, values in self.usage.items()}
        columns = {out: self.texts, f"{out}_error": self.errors}
        if self.reasoning_column:
            columns[self.reasoning_column] = self.reasonings
        return {**columns, **counts}, dict.fromkeys(counts, COUNT)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def summary_line(info: dict, errors: str, task: Any) -> str:
    """The one line printed after a run: what was done, cached, skipped, failed, and spent
    (`errors` names the error column, `task` is the run's `run.Task`)."""
    parts = [f"{info[task.done]} {task.done} ({info['from_cache']} from cache)"]
    if info["skipped"]:
        parts.append(f"{info['skipped']} skipped (missing)")
    if info["failed"]:
        parts.append(f"{info['failed']} failed (see the {errors} column)")
    if info.get("not_done"):
        parts.append(
            f"{info['not_done']} not done: the token plan's quota is used up (it renews at the start of "
            "its next period): run the same call again then, and only those rows are sent"
        )
    tokens = f"{info['tokens']:,} new tokens"
    if info["from_cache"]:
        tokens += f", {info['cached_tokens']:,} from the cache"  # spent by the run that cached them
    parts.append(tokens)
    return f"{task.name}: {info['rows']} rows: " + ", ".join(parts) + f", in {info['elapsed']:.1f} s."


def interrupted_line(info: dict, task: Any) -> str:
    """The line printed on an interrupt: how far it got and how to continue."""
    where = (
        f"they are cached in {info['cache']}: run the same call again to continue "
        "(only the missing rows are sent)."
        if info["cache"]
        else "cache=False, so they are not kept: use the default cache to resume."
    )
    return f"{task.name}: stopped after {info[task.done]} of {info['rows']} rows {task.done}; {where}"


def progress_bar(total: int, progress: bool, name: str = "caption") -> Any:
    """A tqdm bar (notebook or terminal), or None when `progress=False`."""
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=name, unit="row", dynamic_ncols=True)
