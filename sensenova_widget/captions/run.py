"""The run of one caption() or extract() call: worker threads that take rows, ask, and keep the answers.

What is asked of a row is the run's `Task`: caption() sends the prompt once (`Task`), extract()
asks for a schema and asks again with the validation error (`extract.Extraction`); the hand-out,
cache, pacing and recording around it are the same.

Each worker takes its next row itself the moment it finishes one (no hand-off through the main
thread between two requests), so a freed slot is refilled at once. Rows are taken lazily, at
most the in-flight limit at a time, and each image is hashed, looked up in the cache and encoded
inside its worker just before its request, so memory follows the concurrency, not the row
count. Every finished caption is committed to the cache by the worker that received it; the
main thread only records outcomes (and is where an interrupt lands).

429s are paced here, not by the client's retries: a refused row goes back in line for a short,
growing wait (its worker takes another row meanwhile, so a refusal holds no slot), a Retry-After
holds every start back until it has passed, and a share of refusals above what chance explains
lowers the in-flight limit (`pacing`). A used-up quota (`QuotaExceededError`) stops the hand-out
at once: what finished is kept and cached, and every row not done is recorded as such, so the
same call run later sends only those.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from itertools import chain
from typing import TYPE_CHECKING, Any, Protocol

from .. import media
from ..client.transport import RetryPolicy, parse_retry_after
from ..errors import QuotaExceededError, SenseNovaError
from ..protocol import PARAMETERS
from . import cache as cache_module
from .pacing import AIMDLimit, Pause, RateLimiter, RefusalShare, requeue_delay
from .rows import TOKEN_FIELDS, Job, Ready, RowResult
from .tally import Tally

if TYPE_CHECKING:  # pragma: no cover
    from ..client.client import Client

__all__ = ["KEYED_PARAMS", "POLL_SECONDS", "RATE_LIMIT_REQUEUES", "Answer", "Run", "Task"]

logger = logging.getLogger("sensenova_widget")

# caption()'s parameters that change what the model says, hence part of the cache key (the model
# keys it on its own).
KEYED_PARAMS = tuple(name for name, spec in PARAMETERS.items() if spec.keys_cache and name != "model")
RATE_LIMIT_REQUEUES = 12  # a row refused by a rate limit goes back in line at most this often
POLL_SECONDS = 0.1  # how often the main thread wakes, so an interrupt is felt promptly


class Answer(Protocol):
    """What a task's `ask` returns: a `client.Reply`, or anything with its four fields."""

    text: str
    reasoning: str
    finish_reason: str | None
    usage: dict | None


class Task:
    """What a run asks of each row: by default (caption()) its prompt, once.

    `name` labels the threads, the progress bar and the printed lines; `done` the count of
    finished rows; `key` what else decides an answer (part of the cache key). `ask` sends and
    returns the answer to keep, or raises (the row's error); an exception with a `raw`
    attribute leaves that text in the row. The run paced the start of a row's first request; a
    task that sends more calls `pace()` before each of them, so they too keep to `rpm` and wait
    out a Retry-After (they hold the row's slot, so the in-flight limit is kept already).
    """

    name = "caption"
    done = "captioned"
    key: Mapping[str, Any] = {}

    def ask(
        self,
        client: Client,
        prompt: str,
        parts: list[dict],
        *,
        model: str,
        params: dict,
        pace: Callable[[], None],
    ) -> Answer:
        return client.chat(prompt, images=parts, model=model, **params)


CAPTION = Task()


class Run:
    """One caption()/extract() call: the workers' loop, the 429 observer, and the main thread's recording.

    Shared state (the rows iterator, the rows to try again, how many are in flight) is guarded by
    one condition; a worker waits on it only when the limit is reached or nothing is left to take.
    """

    def __init__(
        self,
        *,
        client: Client,
        model: str,
        params: dict,
        cache: cache_module.ResultCache | None,
        concurrency: int,
        rpm: float | None,
        stop_at_error: bool = False,
        task: Task = CAPTION,
    ) -> None:
        self.task = task
        self.client = client
        self.model = model
        self.params = params
        self.keyed = {  # plain values: NumPy's 0.5 and 0.5 are one key
            name: PARAMETERS[name].for_any_model.plain(params[name])
            for name in KEYED_PARAMS
            if params.get(name) is not None
        } | dict(task.key)
        # How images are encoded (the client's MediaOptions): part of the cache key, since another
        # encoding is another question to the model; fixed for the run, so the key and the wire agree.
        self.media = client.media
        self.encoding = self.media.image_encoding()
        self.cache = cache
        self.concurrency = concurrency
        self.stop_at_error = stop_at_error
        self.limit = AIMDLimit(concurrency)
        self.refusals = RefusalShare(window=max(10, 2 * concurrency))
        self.pause = Pause()
        self.rate = RateLimiter(rpm) if rpm else None
        # The client's retries for everything but 429s, which this run paces itself.
        self.asked = {**params, "retry": RetryPolicy(client.max_retries, rate_limits=False)}
        self.quota: QuotaExceededError | None = None  # set when the plan's quota ran out
        self._unsent: list[Job] = []  # rows handed out but not sent (or refused) once stopped by the quota
        self.stop = threading.Event()
        self.local = threading.local()  # the AIMD epoch a worker's current request started in
        self._state = threading.Condition()
        self._in_flight = 0
        self._again: deque[Job] = deque()
        self._exhausted = False
        self._outcomes: queue.SimpleQueue[tuple[int, RowResult] | None] = queue.SimpleQueue()
        self._crash: BaseException | None = None

    # ---- in a worker thread
    def work(self, job: Job) -> RowResult:
        """One row: its images keyed and looked up in the cache, else encoded, sent and cached."""
        try:
            key, images = None, job.images
            if self.cache is not None:
                pairs = [media.keyed(value) for value in job.images]  # each image read and hashed once
                images = [held for _, held in pairs]
                key = cache_module.cache_key(
                    [hash_ for hash_, _ in pairs],
                    job.prompt,
                    self.model,
                    self.keyed,
                    endpoint=self.client.base_url,
                    encoding=self.encoding,
                )
                hit = self.cache.get(key)
                if hit is not None:
                    usage = {name: getattr(hit, name) for name in TOKEN_FIELDS}
                    return RowResult(text=hit.text, reasoning=hit.reasoning, usage=usage, from_cache=True)
            if (
                self.stop.is_set()
                or not self.pause.wait(self.stop)
                or (self.rate is not None and not self.rate.wait(self.stop))
            ):
                return RowResult(cancelled=True)
            parts = [media.to_part(media.image(value), options=self.media) for value in images]
            self.local.epoch = self.limit.epoch
            reply = self.task.ask(
                self.client, job.prompt, parts, model=self.model, params=self.asked, pace=self.pace
            )
            usage = {name: (reply.usage or {}).get(name) for name in TOKEN_FIELDS}
            if key is not None:
                kept = cache_module.CachedReply(
                    reply.text, reply.finish_reason, **usage, reasoning=reply.reasoning
                )
                self._keep(key, kept)
            self.limit.on_success()
            return RowResult(text=reply.text, reasoning=reply.reasoning, usage=usage)
        except Exception as exc:  # recorded in the row; `on_error="raise"` re-raises it from the main thread
            message = exc.one_line() if isinstance(exc, SenseNovaError) else f"{type(exc).__name__}: {exc}"
            raw = getattr(exc, "raw", None)
            return RowResult(error=message.replace("\n", " "), exception=exc, text=raw)
        finally:
            self.local.epoch = None

    def pace(self) -> None:
        """Before a row's further request (a task's follow-up): wait out a Retry-After and keep
        to `rpm`, as every start does. Once the run is stopped it waits no more: the row in hand
        is finished, like every row in flight."""
        self.pause.wait(self.stop)
        if self.rate is not None:
            self.rate.wait(self.stop)
        self.local.epoch = self.limit.epoch  # a 429 to this request is a signal of the epoch it starts in

    def _keep(self, key: str, reply: cache_module.CachedReply) -> None:
        try:
            self.cache.put(key, reply, model=self.model)
        except sqlite3.Error as exc:  # the caption is still returned; only its saving failed
            logger.warning("%s(): could not save an answer to %s: %s", self.task.name, self.cache.path, exc)

    def on_response(self, response: Any, *args: Any, **kwargs: Any) -> None:
        """A requests response hook: every HTTP attempt's status, retries included, in its own thread."""
        epoch = getattr(self.local, "epoch", None)
        if epoch is None:
            return
        refused = response.status_code == 429
        if refused:
            wait = parse_retry_after(response.headers.get("retry-after"))
            if wait:
                self.pause.hold(wait)
        if self.refusals.note(refused):
            self.limit.on_rate_limited(epoch)

    def serve(self, rows: Iterator[Job | Ready]) -> None:
        """A worker's life: take a row, do it, pass its outcome on; end when nothing is left."""
        try:
            while (job := self._take(rows)) is not None:
                self._finish(job, self.work(job))
        except BaseException as exc:  # e.g. the rows iterator failed: the main thread re-raises it
            self._crash = self._crash or exc
            self.halt()
        finally:
            self._outcomes.put(None)  # this worker has ended

    def _take(self, rows: Iterator[Job | Ready]) -> Job | None:
        with self._state:
            while not self.stop.is_set():
                wait = None
                if self._in_flight < self.limit.limit:
                    job = self._due_again() or self._next_row(rows)
                    if isinstance(job, Ready):  # a gap, or a prompt that could not be made: nothing to send
                        self._outcomes.put((job.index, job.outcome))
                        continue
                    if job is not None:
                        self._in_flight += 1
                        return job
                    if not self._again:  # nothing left; a row that comes back is retried by its own worker
                        self._state.notify()  # the next waiting worker ends too, and wakes the next
                        return None
                    wait = max(0.0, min(j.not_before for j in self._again) - time.monotonic())
                self._state.wait(wait)
            return None

    def _due_again(self) -> Job | None:
        """The first refused row whose wait is over (under the lock), else None."""
        now = time.monotonic()
        for job in self._again:
            if job.not_before <= now:
                self._again.remove(job)
                return job
        return None

    def _next_row(self, rows: Iterator[Job | Ready]) -> Job | Ready | None:
        if not self._exhausted:
            row = next(rows, None)  # under the lock: a generator is not thread-safe
            if row is not None:
                return row
            self._exhausted = True
        return None

    def _finish(self, job: Job, outcome: RowResult) -> None:
        with self._state:
            self._in_flight -= 1
            if isinstance(outcome.exception, QuotaExceededError) or (outcome.cancelled and self.quota):
                self.quota = self.quota or outcome.exception  # type: ignore[assignment]
                self._unsent.append(job)  # recorded as not done once the workers ended
                self.stop.set()  # nothing more is sent: the quota lasts until the plan renews
                self._state.notify_all()
            elif outcome.rate_limited and job.requeues < RATE_LIMIT_REQUEUES and not self.stop.is_set():
                job.requeues += 1
                job.not_before = time.monotonic() + requeue_delay(job.requeues)
                self._again.append(job)  # in line again after a short wait, holding no slot
            elif not outcome.cancelled:
                self._outcomes.put((job.index, outcome))
                if outcome.error is not None and self.stop_at_error:
                    self.stop.set()  # hand out nothing more; what is in flight finishes and is kept
                    self._state.notify_all()
            self._state.notify()  # a slot is free (or the limit grew by one): one waiting worker may go

    def halt(self) -> None:
        """Hand out nothing more; the workers finish what they hold (and cache it) and end."""
        with self._state:
            self.stop.set()
            self._state.notify_all()

    # ---- in the main thread
    def execute(self, rows: Iterator[Job | Ready], tally: Tally) -> None:
        """Start the workers and record each outcome in `tally` as it arrives, until all ended.

        An interrupt (or any error) here stops the hand-out and keeps every caption that finishes
        in flight before re-raising; a second interrupt abandons that wait (the workers still
        commit their captions to the cache when they finish)."""
        workers = [
            threading.Thread(target=self.serve, args=(rows,), name=f"sensenova-{self.task.name}-{n}")
            for n in range(self.concurrency)
        ]
        hooks = self.client.session.hooks.setdefault("response", [])
        hooks.append(self.on_response)
        ended = 0
        try:
            for worker in workers:
                worker.start()
            while ended < len(workers):
                ended += self._record(tally)
        except BaseException:
            self.halt()
            started = sum(worker.ident is not None for worker in workers)
            while ended < started:
                ended += self._record(tally)
            raise
        finally:
            if self.on_response in hooks:
                hooks.remove(self.on_response)
        if self._crash is not None:
            raise self._crash
        if self.quota is not None:
            self._record_not_done(rows, tally)

    def _record_not_done(self, rows: Iterator[Job | Ready], tally: Tally) -> None:
        """After a quota stop: every row not finished is recorded as not done (a row with nothing
        to send keeps its own outcome), so the result says how many are left."""
        quota = self.quota
        error = (
            f"not done: {quota.one_line() if quota else 'stopped'}; run the same call again once "
            "the plan renews: finished rows come from the cache, only these are sent"
        )
        pending = chain(self._unsent, self._again, () if self._exhausted else rows)
        for job in pending:
            if isinstance(job, Ready):
                tally.record(job.index, job.outcome)
            else:
                tally.record(job.index, RowResult(error=error, exception=quota, not_done=True))
        self._unsent, self._again = [], deque()

    def _record(self, tally: Tally) -> int:
        """Record the next outcome (waking at least every POLL_SECONDS); 1 when a worker ended."""
        try:
            item = self._outcomes.get(timeout=POLL_SECONDS)
        except queue.Empty:
            return 0
        if item is None:
            return 1
        tally.record(*item)
        return 0
