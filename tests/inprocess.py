"""A backend for the runner (see pool.LokyWorkers) that runs each batch in this process,
one at a time, in order, and keeps what it was sent (tests of scheduling read it)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import ppg_notebook as ppg
from ppg_notebook import worker, worker_batch


class _Died(Exception):
    """What the backend raises for a batch whose worker "died"."""


class InProcessWorkers:
    """The runner's backend (see pool.LokyWorkers), running batches here and now."""

    lingers = False

    def __init__(self, cores: int, kills: Callable[[list[str]], bool] = lambda ids: False):
        self.cores = cores
        self.kills = kills  # does a batch of these job ids kill its worker?
        self.batches: list[list[str]] = []

    def connect(self, workdir: str, ppg_dir: str) -> int:
        return self.cores

    def warm(self) -> None:
        pass

    def run_batch(self, context: Any, tasks: list[Any], functions: Any, abandoned: Any, spool: Any):
        ids = [t.job_id for t in tasks]
        self.batches.append(ids)
        future: Future[list[worker.Result]] = Future()
        if self.kills(ids):
            future.set_exception(_Died("a worker died"))
        else:
            future.set_result(worker_batch.run_batch(context, tasks, functions, None, None, False))
        return future

    def lost(self, error: BaseException) -> str | None:
        return "killed by the test" if isinstance(error, _Died) else None

    def stop(self) -> None:
        pass


def write_name(path: Path) -> None:
    """A job function: the file holds its own name."""
    path.write_text(path.name)


def pipeline_on(tmp_path: Path, monkeypatch: Any, workers: Any) -> Any:
    """A new pipeline in `tmp_path` whose worker jobs run on `workers`."""
    monkeypatch.chdir(tmp_path)
    pipeline = ppg.new_pipeline(cores=workers.cores, allow_redefinition=True)
    pipeline.workers = workers
    return pipeline
