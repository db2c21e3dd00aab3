"""The run of one caption() call: worker threads that take rows, send them, and keep the answers.

Each worker takes its next row itself the moment it finishes one (no hand-off through the main
thread between two requests), so a freed slot is refilled at once. Rows are taken lazily, at
most the in-flight limit at a time, and each image is hashed, looked up in the cache and encoded
inside its worker just before its request, so memory follows the concurrency, not the row
count. Every finished caption is committed to the cache by the worker that received it; the
main thread only records outcomes (and is where an interrupt lands). 429s lower the in-flight
limit (`pacing.AIMDLimit`); `rpm=` spaces request starts (`pacing.RateLimiter`).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .. import cache as cache_module
from .. import media
from ..errors import SenseNovaError
from ..pacing import AIMDLimit, RateLimiter
from ..protocol import PARAMETERS
from .rows import TOKEN_FIELDS, Job, Ready, RowResult
from .tally import Tally

if TYPE_CHECKING:  # pragma: no cover
    from ..client import Client

__all__ = ["KEYED_PARAMS", "POLL_SECONDS", "RATE_LIMIT_REQUEUES", "Run", "encoding_settings"]

logger = logging.getLogger("sensenova_widget")

# caption()'s parameters that change what the model says, hence part of the cache key (the model
# keys it on its own).
KEYED_PARAMS = tuple(name for name, spec in PARAMETERS.items() if spec.keys_cache and name != "model")
RATE_LIMIT_REQUEUES = 3  # a row still rate limited after the client's retries goes back in line
POLL_SECONDS = 0.1  # how often the main thread wakes, so an interrupt is felt promptly


def encoding_settings() -> dict[str, Any]:
    """How images are encoded now (`snw.media.MAX_SIDE`, `JPEG_QUALITY`): part of the cache key,
    since another encoding is another question to the model."""
    return {"max_side": media.MAX_SIDE, "jpeg_quality": media.JPEG_QUALITY}


class Run:
    """One caption() call: the workers' loop, the 429 observer, and the main thread's recording.

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
    ) -> None:
        self.client = client
        self.model = model
        self.params = params
        self.keyed = {  # plain values: NumPy's 0.5 and 0.5 are one key
            name: PARAMETERS[name].plain(params[name])
            for name in KEYED_PARAMS
            if params.get(name) is not None
        }
        self.encoding = encoding_settings()  # fixed for the run: the key and the wire agree
        self.cache = cache
        self.concurrency = concurrency
        self.stop_at_error = stop_at_error
        self.limit = AIMDLimit(concurrency)
        self.rate = RateLimiter(rpm) if rpm else None
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
            if self.stop.is_set() or (self.rate is not None and not self.rate.wait(self.stop)):
                return RowResult(cancelled=True)
            max_side = self.encoding["max_side"]
            parts = [media.to_part(media.image(value), max_side=max_side) for value in images]
            self.local.epoch = self.limit.epoch
            reply = self.client.chat(job.prompt, images=parts, model=self.model, **self.params)
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
            return RowResult(error=message.replace("\n", " "), exception=exc)
        finally:
            self.local.epoch = None

    def _keep(self, key: str, reply: cache_module.CachedReply) -> None:
        try:
            self.cache.put(key, reply, model=self.model)
        except sqlite3.Error as exc:  # the caption is still returned; only its saving failed
            logger.warning("caption(): could not save a caption to %s: %s", self.cache.path, exc)

    def on_response(self, response: Any, *args: Any, **kwargs: Any) -> None:
        """A requests response hook: every HTTP attempt's status, retries included, in its own thread."""
        epoch = getattr(self.local, "epoch", None)
        if epoch is not None and response.status_code == 429:
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
                if self._in_flight < self.limit.limit:
                    job = self._again.popleft() if self._again else self._next_row(rows)
                    if isinstance(job, Ready):  # a gap, or a prompt that could not be made: nothing to send
                        self._outcomes.put((job.index, job.outcome))
                        continue
                    if job is None:  # nothing left; a row that comes back is retried by its own worker
                        self._state.notify()  # the next waiting worker ends too, and wakes the next
                        return None
                    self._in_flight += 1
                    return job
                self._state.wait()
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
            if outcome.rate_limited and job.requeues < RATE_LIMIT_REQUEUES and not self.stop.is_set():
                job.requeues += 1
                self._again.append(job)  # the limit is lower now; try it again later
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
            threading.Thread(target=self.serve, args=(rows,), name=f"sensenova-caption-{n}")
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
