"""Where a batch's workers run: the contract every engine follows, and the registry of engines.

An engine takes the batch's FileJobs and yields one FileOutcome per job, in the order they
finish (so the caller prints and records each at once). What a worker does with a job is
the same everywhere (overlay.analysis.batch.BatchWorker: models loaded once per worker,
every exception a "failed" outcome); an engine only decides where workers live and gets
jobs to them:

- `local`: worker processes on this machine (`--jobs N`, default one per core);
- `ray`: one actor per CPU slot of a Ray cluster (`--address`, or a cluster of this
  machine's own started for the batch), for when one machine is not enough.

ENGINES maps each name (`--engine NAME`) to the one module of that engine, which has
`open_engine(options) -> BatchEngine`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:  # the registry is read by the argument parser: it must import fast
    from overlay.analysis.batch import FileJob, FileOutcome
    from overlay.analysis.recordings import AnalyzeSettings


@dataclass(frozen=True)
class EngineOptions:
    settings: AnalyzeSettings
    workers: int | None = None  # None: one per core (local) or per CPU of the cluster (ray)
    address: str | None = None  # ray: a running cluster's address; None: start one here


class BatchEngine(Protocol):
    workers: int  # how many files it analyses at once

    def run(self, jobs: Sequence[FileJob]) -> Iterator[FileOutcome]:
        """One outcome per job, as each finishes; jobs are never lost to a worker's death."""
        ...

    def close(self) -> None:
        """Stop the workers (and a cluster the engine started); idempotent."""
        ...


@dataclass(frozen=True)
class EngineSpec:
    module: str
    help: str


ENGINES: Final = {
    "local": EngineSpec("overlay.analysis.engines.local", "worker processes on this machine (default)"),
    "ray": EngineSpec(
        "overlay.analysis.engines.ray_cluster", "actors on a Ray cluster (pip install emotion-overlay[ray])"
    ),
}


def open_engine(name: str, options: EngineOptions) -> BatchEngine:
    """Start the engine registered as `name` (an OverlayError, one line, when it cannot)."""
    engine: BatchEngine = importlib.import_module(ENGINES[name].module).open_engine(options)
    return engine
