"""The Ray engine: one actor per CPU slot of a Ray cluster, each a BatchWorker with the models loaded once.

`--address ADDR` joins a running cluster (`ray start --head` on one machine, `ray start
--address ...` on the others); without it a cluster of this machine's own is started for
the batch and stopped after (`address="local"`: never one the user happens to run). Every
node needs emotion-overlay[ray] installed, the input files at the same paths and the
sessions folder shared (NFS, say): each actor checks it can write there before any file is
handed out, and the batch is refused in one line if one cannot.

Results stream back as they finish (`ray.wait`), one job per actor at a time, so a slow
file never holds others back. An actor that dies (its node lost, out of memory) costs the
file it held ("failed", and a new actor takes its place), never the batch.

Privacy: Ray's servers listen on the network (that is what a cluster is for; Ray maps
127.0.0.1 to the machine's address), so the cluster started here requires a token, random
per batch and passed through the environment, never a command line; Ray's usage statistics
are turned off before Ray is imported.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from overlay.analysis.batch import BatchWorker, FileJob, FileOutcome, check_sessions_folder, died, worker_id
from overlay.analysis.engines import EngineOptions
from overlay.analysis.recordings import AnalyzeSettings
from overlay.errors import OverlayError

logger = logging.getLogger(__name__)


class AnalysisActor:
    """What runs in each Ray actor (made remote by RayEngine, so this module imports without Ray)."""

    def __init__(self, settings: AnalyzeSettings) -> None:
        self._settings = settings
        self._worker = BatchWorker(settings)

    def check(self) -> str:
        """Where this actor runs, once it has checked the sessions folder (an OverlayError if it cannot write there)."""
        check_sessions_folder(self._settings.timeline_folder)
        return worker_id()

    def run(self, job: FileJob) -> FileOutcome:
        return self._worker.run(job)


def _import_ray(start_cluster: bool) -> Any:
    """Ray, with usage statistics off and, for a cluster started here, token authentication on
    (Ray reads both when it is imported)."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # no usage report to Anyscale, from this process or its children
    if start_cluster:
        os.environ.setdefault("RAY_AUTH_MODE", "token")
        os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    try:
        import ray
    except ImportError:
        raise OverlayError(
            "--engine ray needs Ray: pip install 'emotion-overlay[ray]' (on every machine of the cluster)"
        ) from None
    return ray


class RayEngine:
    def __init__(self, options: EngineOptions) -> None:
        self._started_here = options.address is None
        self._ray = ray = _import_ray(self._started_here)
        self.settings = options.settings
        try:
            if self._started_here:
                ray.init(
                    address="local",
                    num_cpus=options.workers or os.cpu_count() or 1,
                    include_dashboard=False,
                    log_to_driver=False,  # workers' output never reaches our stdout
                    logging_level=logging.WARNING,
                )
            else:
                ray.init(address=options.address, log_to_driver=False, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as err:
            where = "start a local Ray cluster" if self._started_here else f"reach the Ray cluster at {options.address}"
            raise OverlayError(f"cannot {where} ({_first_line(err)}); check `ray status` there") from None
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < 1:
            self.close()
            raise OverlayError("the Ray cluster has no CPUs free for workers; add nodes or free some")
        if options.workers and options.workers > cpus:
            logger.warning("--jobs %d: the cluster has %d CPUs; running %d actors", options.workers, cpus, cpus)
        self.workers = min(options.workers or cpus, cpus)
        self._remote = ray.remote(num_cpus=1, max_restarts=0)(AnalysisActor)
        self._actors: list[Any] = []

    def _start_actors(self, count: int) -> list[Any]:
        actors = [self._remote.remote(self.settings) for _ in range(count)]
        try:
            where = self._ray.get([actor.check.remote() for actor in actors])
        except self._ray.exceptions.RayTaskError as err:
            raise OverlayError(_first_line(err.cause if err.cause is not None else err)) from None
        except self._ray.exceptions.RayActorError as err:
            raise OverlayError(f"a Ray worker could not start ({_first_line(err)}); check the cluster's logs") from None
        logger.info("Ray actors: %s", ", ".join(where))
        self._actors += actors
        return actors

    def run(self, jobs: Sequence[FileJob]) -> Iterator[FileOutcome]:
        ray = self._ray
        # Workers run in another folder (and on other machines): they get absolute paths, and
        # the outcomes name each file as it was given.
        given = {dataclasses.replace(job, path=job.path.absolute()): str(job.path) for job in jobs}
        waiting = deque(given)
        idle = self._start_actors(min(self.workers, len(jobs))) if jobs else []
        in_flight: dict[Any, tuple[FileJob, Any]] = {}
        while waiting or in_flight:
            while waiting and idle:
                job, actor = waiting.popleft(), idle.pop()
                in_flight[actor.run.remote(job)] = (job, actor)
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                job, actor = in_flight.pop(ref)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayActorError as err:
                    logger.warning("the Ray actor analysing %s died (%s); starting another", job.path, _first_line(err))
                    outcome = died(job, "its Ray worker died analysing it (node lost, or out of memory)")
                    ray.kill(actor, no_restart=True)
                    actor = self._start_actors(1)[0]
                idle.append(actor)
                yield dataclasses.replace(outcome, file=given[job])

    def close(self) -> None:
        ray = self._ray
        for actor in self._actors:
            ray.kill(actor, no_restart=True)
        self._actors = []
        if ray.is_initialized():
            ray.shutdown()  # also stops the cluster when it was started here


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def open_engine(options: EngineOptions) -> RayEngine:
    return RayEngine(options)
