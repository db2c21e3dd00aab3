"""The run of one caption() call: worker threads that send rows, and the hand-out that feeds them.

Rows are handed out lazily (at most the in-flight limit at a time), and each image is hashed,
looked up in the cache and encoded inside its worker just before its request, so memory follows
the concurrency, not the row count. Every finished caption is committed to the cache by the
worker that received it. 429s lower the in-flight limit (`pacing.AIMDLimit`); `rpm=` spaces
request starts (`pacing.RateLimiter`).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from .. import cache as cache_module
from .. import media
from ..errors import SenseNovaError
from ..pacing import AIMDLimit, RateLimiter
from ..protocol import PARAMETERS
from .rows import TOKEN_FIELDS, Job, Outcome, Ready
from .tally import Tally

if TYPE_CHECKING:  # pragma: no cover
    from ..client import Client

__all__ = ["KEYED_PARAMS", "POLL_SECONDS", "RATE_LIMIT_REQUEUES", "Run"]

logger = logging.getLogger("sensenova_widget")

# caption()'s parameters that change what the model says, hence part of the cache key.
KEYED_PARAMS = tuple(PARAMETERS) + ("system",)
RATE_LIMIT_REQUEUES = 3  # a row still rate limited after the client's retries goes back in line
POLL_SECONDS = 0.1  # how often the main thread wakes, so an interrupt is felt promptly


def encoding_settings() -> dict[str, Any]:
    """How images are encoded now (`snw.media.MAX_SIDE`, `JPEG_QUALITY`): part of the cache key,
    since another encoding is another question to the model."""
    return {"max_side": media.MAX_SIDE, "jpeg_quality": media.JPEG_QUALITY}


class Run:
    """One caption() call: the worker body, the 429 observer, and the main thread's hand-out loop."""

    def __init__(
        self,
        *,
        client: Client,
        model: str,
        params: dict,
        cache: cache_module.ResultCache | None,
        concurrency: int,
        rpm: float | None,
    ) -> None:
        self.client = client
        self.model = model
        self.params = params
        self.keyed = {name: params[name] for name in KEYED_PARAMS if name in params}
        self.encoding = encoding_settings()  # fixed for the run: the key and the wire agree
        self.cache = cache
        self.limit = AIMDLimit(concurrency)
        self.rate = RateLimiter(rpm) if rpm else None
        self.stop = threading.Event()
        self.local = threading.local()  # the AIMD epoch a worker's current request started in
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sensenova-caption")

    # ---- in a worker thread
    def work(self, job: Job) -> Outcome:
        try:
            key, images = None, job.images
            if self.cache is not None:
                pairs = [media.keyed(value) for value in job.images]  # each image read and hashed once
                images = [held for _, held in pairs]
                key = cache_module.cache_key([hash_ for hash_, _ in pairs], job.prompt, self.model, self.keyed,
                                             endpoint=self.client.base_url, encoding=self.encoding)
                hit = self.cache.get(key)
                if hit is not None:
                    usage = {name: getattr(hit, name) for name in TOKEN_FIELDS}
                    return Outcome(text=hit.text, usage=usage, from_cache=True)
            if self.stop.is_set() or (self.rate is not None and not self.rate.wait(self.stop)):
                return Outcome(cancelled=True)
            max_side = self.encoding["max_side"]
            parts = [media.to_part(media.image(value), max_side=max_side) for value in images]
            self.local.epoch = self.limit.epoch
            reply = self.client.chat(job.prompt, images=parts, model=self.model, **self.params)
            usage = {name: (reply.usage or {}).get(name) for name in TOKEN_FIELDS}
            if key is not None:
                try:
                    self.cache.put(
                        key,
                        cache_module.CachedReply(reply.text, reply.finish_reason, **usage),
                        model=self.model,
                    )
                except sqlite3.Error as exc:  # the caption is still returned; only its saving failed
                    logger.warning("caption(): could not save a caption to %s: %s", self.cache.path, exc)
            self.limit.on_success()
            return Outcome(text=reply.text, usage=usage)
        except Exception as exc:  # recorded in the row; `on_error="raise"` re-raises it from the main thread
            message = exc.one_line() if isinstance(exc, SenseNovaError) else f"{type(exc).__name__}: {exc}"
            return Outcome(error=message.replace("\n", " "), exception=exc)
        finally:
            self.local.epoch = None

    def on_response(self, response: Any, *args: Any, **kwargs: Any) -> None:
        """A requests response hook: every HTTP attempt's status, retries included, in its own thread."""
        epoch = getattr(self.local, "epoch", None)
        if epoch is not None and response.status_code == 429:
            self.limit.on_rate_limited(epoch)

    # ---- in the main thread
    def execute(self, jobs: Iterator[Job | Ready], tally: Tally, stop_at_error: bool) -> None:
        """Hand jobs to the workers as slots free up, recording each outcome in `tally` as it
        arrives; with `stop_at_error`, hand out nothing more after the first failure."""
        in_flight: dict[Future, Job] = {}
        again: deque[Job] = deque()
        exhausted = False
        hooks = self._hooks()
        hooks.append(self.on_response)
        try:
            while True:
                while not self.stop.is_set() and len(in_flight) < self.limit.limit:
                    job = again.popleft() if again else (None if exhausted else next(jobs, None))
                    if job is None:
                        exhausted = True
                        break
                    if isinstance(job, Ready):  # a gap, or a prompt that could not be made: nothing to send
                        tally.record(job.index, job.outcome)
                        continue
                    in_flight[self.pool.submit(self.work, job)] = job
                if not in_flight:
                    return
                done, _ = wait(list(in_flight), timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                for future in done:
                    job = in_flight.pop(future)
                    outcome = future.result()
                    if outcome.cancelled:
                        continue
                    if outcome.rate_limited and job.requeues < RATE_LIMIT_REQUEUES and not self.stop.is_set():
                        job.requeues += 1
                        again.append(job)  # the limit is lower now; try it again later
                        continue
                    tally.record(job.index, outcome)
                    if outcome.error and stop_at_error:
                        self.stop.set()  # hand out nothing more; what is in flight finishes and is kept
        except BaseException:
            # An interrupt (or any error) in the main thread: stop handing out work, and keep
            # every caption that finishes in flight (a second interrupt abandons the wait; the
            # workers still commit their captions to the cache when they finish).
            self.stop.set()
            for future, job in list(in_flight.items()):
                outcome = future.result()
                if not outcome.cancelled:
                    tally.record(job.index, outcome)
            self.pool.shutdown(wait=True, cancel_futures=True)  # also a job the interrupt hit mid-submit
            raise
        finally:
            self.pool.shutdown(wait=False, cancel_futures=True)
            if self.on_response in hooks:
                hooks.remove(self.on_response)

    def _hooks(self) -> list:
        return self.client.session.hooks.setdefault("response", [])
