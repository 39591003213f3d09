"""The local engine: worker processes on this machine, each loading the models once.

Workers are spawned (not forked: no copies of the parent's threads) with a pool initializer
that builds the process's BatchWorker; each then takes file after file. At most one file per
worker is handed out at a time, so when a worker process dies (a crash in a native library,
the kernel's out-of-memory killer) only the files in flight are suspects: each is tried
again alone in a fresh pool, and only one that kills its worker again is reported failed.
With one worker, files are analysed in this process.

Each worker's libraries (OpenMP, OpenBLAS, OpenCV) get this machine's cores divided by the
workers as their thread count: left at their default (every core each), two workers on two
cores ran 22 % slower (bench/analyze.py, 145 s against 113 s for the 19 talking clips).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from overlay.analysis.batch import BatchWorker, FileJob, FileOutcome, check_sessions_folder, died
from overlay.analysis.engines import EngineOptions
from overlay.analysis.recordings import AnalyzeSettings
from overlay.runtime.parent_watch import exit_with_parent

logger = logging.getLogger(__name__)

_worker: BatchWorker | None = None  # the worker process's own


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _start_worker(settings: AnalyzeSettings, threads: int) -> None:
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle: it stops the pool
    exit_with_parent()  # a parent killed outright (kill -9) must not leave workers finishing files
    import cv2

    cv2.setNumThreads(threads)
    _worker = BatchWorker(settings)


def _run_in_worker(job: FileJob) -> FileOutcome:
    assert _worker is not None, "the pool initializer builds the worker"
    return _worker.run(job)


class LocalEngine:
    def __init__(self, options: EngineOptions) -> None:
        self.settings = options.settings
        self.workers = max(1, options.workers or os.cpu_count() or 1)
        check_sessions_folder(self.settings.timeline_folder)
        self._pool: ProcessPoolExecutor | None = None
        self._saved_env: dict[str, str | None] = {}

    def run(self, jobs: Sequence[FileJob]) -> Iterator[FileOutcome]:
        if self.workers == 1 or len(jobs) <= 1:
            worker = BatchWorker(self.settings)
            for job in jobs:
                yield worker.run(job)
            return
        waiting = deque(jobs)
        suspects: deque[FileJob] = deque()  # were in flight when a worker died
        while waiting or suspects:
            if suspects:
                yield from self._run_alone(suspects.popleft())
                continue
            yield from self._run_pooled(waiting, suspects)

    def _run_pooled(self, waiting: deque[FileJob], suspects: deque[FileJob]) -> Iterator[FileOutcome]:
        """Jobs from `waiting`, one per worker at a time, until done or a worker dies."""
        pool = self._open_pool(min(self.workers, len(waiting)))
        in_flight: dict[Future[FileOutcome], FileJob] = {}
        while waiting or in_flight:
            while waiting and len(in_flight) < self.workers:
                job = waiting.popleft()
                in_flight[pool.submit(_run_in_worker, job)] = job
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                job = in_flight.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool:
                    suspects.append(job)
            if suspects:
                suspects.extend(in_flight.values())
                logger.warning(
                    "a worker process died; trying the %d files it may have held again, alone", len(suspects)
                )
                self._close_pool()
                return
        self._close_pool()

    def _run_alone(self, job: FileJob) -> Iterator[FileOutcome]:
        pool = self._open_pool(1)
        try:
            yield pool.submit(_run_in_worker, job).result()
        except BrokenProcessPool:
            yield died(job, "its worker process died analysing it (a crash, or out of memory); the other files went on")
        finally:
            self._close_pool()

    def _open_pool(self, workers: int) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        threads = max(1, (os.cpu_count() or 1) // workers)
        # Read by the libraries as a worker imports them (before any initializer runs), so set
        # in this process's environment, which spawned workers inherit, while the pool lives.
        self._saved_env = {name: os.environ.get(name) for name in THREAD_VARIABLES}
        os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_start_worker, initargs=(self.settings, threads)
        )
        return self._pool

    def _restore_env(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}

    def _close_pool(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.shutdown(wait=True, cancel_futures=True)
            self._restore_env()

    def close(self) -> None:
        """Stop at once: files in flight are dropped (they left no session: sessions appear whole)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            processes = list(getattr(pool, "_processes", {}).values())  # no public way before Python 3.14
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
            for process in processes:
                process.join(timeout=5)
            self._restore_env()


def open_engine(options: EngineOptions) -> LocalEngine:
    return LocalEngine(options)
