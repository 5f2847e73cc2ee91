"""Micro-batching: concurrent requests share one model call instead of queueing for one each.

A single worker thread owns the model. It takes the first waiting request, then whatever else
is already waiting (up to `max_batch`, waiting at most `max_wait_s` for more), and runs them as
one batch. With one client nothing waits; under load, requests that arrive while a batch runs
form the next batch, so throughput grows with concurrency instead of latency.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
_STOP = object()


class MicroBatcher(Generic[T, R]):
    """Run `process(list_of_items) -> list_of_results` over batches of submitted items."""

    def __init__(
        self,
        process: Callable[[list[T]], Sequence[R]],
        max_batch: int = 32,
        max_wait_s: float = 0.0,
        name: str = "micro-batcher",
        initializer: Callable[[], None] | None = None,
    ) -> None:
        """`initializer` runs first on the worker thread: per-thread settings such as OpenMP's
        thread count belong to the thread that calls the library, not to the one that made it."""
        if max_batch < 1 or max_wait_s < 0:
            raise ValueError(f"{name}: max_batch must be >= 1 and max_wait_s >= 0")
        self.process, self.max_batch, self.max_wait_s = process, max_batch, max_wait_s
        self.batches = 0  # how many batches ran (for tests and /api/info)
        self._initializer = initializer
        self._queue: queue.Queue[object] = queue.Queue()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: T) -> Future[R]:
        if self._closed:
            raise RuntimeError("the batcher is closed")
        future: Future[R] = Future()
        self._queue.put((item, future))
        return future

    def close(self, timeout: float = 5.0) -> None:
        """Finish the queued work, then stop the worker."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join(timeout)

    def _work(self) -> None:
        if self._initializer is not None:
            self._initializer()
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch, stop = self._collect([first])
            self._run(batch)  # type: ignore[arg-type]
            if stop:
                return

    def _collect(self, batch: list[object]) -> tuple[list[object], bool]:
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch:
            try:
                remaining = deadline - time.monotonic()
                entry = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if entry is _STOP:
                return batch, True
            batch.append(entry)
        return batch, False

    def _run(self, batch: list[tuple[T, Future[R]]]) -> None:
        live = [(item, future) for item, future in batch if future.set_running_or_notify_cancel()]
        if not live:
            return
        self.batches += 1
        try:
            results = self.process([item for item, _ in live])
            if len(results) != len(live):
                raise RuntimeError(f"batch of {len(live)} gave {len(results)} results")
        except BaseException as err:  # every waiting request learns of the failure
            for _, future in live:
                future.set_exception(err)
            return
        for (_, future), result in zip(live, results, strict=True):
            future.set_result(result)
