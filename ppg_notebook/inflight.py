"""The batches out with the workers, from being sent until they come back.

The runner says which jobs travel together (batching.py); this module owns a batch on its
way: the cores it holds, whether it was the only one in flight (which tells who killed a
worker, see triage.py), its spool directory (where its worker leaves the results of the
jobs it has finished, see worker_batch.Spool), and, when a run is interrupted, the marker that
tells a cluster's lingering workers to leave the outputs alone.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from .worker import Context, Functions, Result, Task


@dataclass(slots=True)
class Batch:
    ids: list[str]
    cores: int
    only_one: bool  # nothing else was in flight while it ran (to find who kills workers)
    spool: str | None = None  # where its worker leaves results early (worker_batch.Spool)
    taken: int = 0  # how many of its results were recorded from there

    @property
    def rest(self) -> list[str]:
        """Its jobs not recorded yet."""
        return self.ids[self.taken :]


class InFlight:
    """The batches of one run that are with the workers (`workers`: pool.LokyWorkers or
    dask_backend.DaskWorkers)."""

    def __init__(self, workers: Any, ppg_dir: str) -> None:
        self.workers = workers
        # Workers whose jobs outlive an interrupt (a cluster's) are told through this file
        # that their run was abandoned: they then leave the outputs alone.
        self.abandoned = os.path.join(ppg_dir, "abandoned", f"{os.getpid()}-{id(self):x}")
        # Results of finished jobs of batches still running (what a kill left there is
        # stale: the lock is held, nothing else writes here).
        self.spool = os.path.join(ppg_dir, "spool")
        if os.path.isdir(self.spool):
            shutil.rmtree(self.spool, ignore_errors=True)
        self.sent = 0
        self.batches: dict[Future[list[Result]], Batch] = {}
        self.reserved = 0  # cores held by the batches in flight
        self.multi = 0  # how many of them need more than one core
        self.completions: queue.SimpleQueue[Future[list[Result]]] = queue.SimpleQueue()

    def __len__(self) -> int:
        return len(self.batches)

    def room_for(self, need: int, cores: int) -> bool:
        """Whether a batch needing `need` of the workers' `cores` may be sent now: one of
        several cores waits until they are free, small ones keep two per core in flight."""
        if need > 1 or self.multi:
            return self.reserved + need <= cores
        return len(self.batches) < 2 * cores

    def send(self, context: Context, tasks: list[Task], cores: int) -> None:
        functions = Functions([task.fn for task in tasks])
        tasks = [task._replace(fn=None) for task in tasks]
        marker = self.abandoned if self.workers.lingers else None
        spool = None
        if len(tasks) > 1:
            self.sent += 1
            spool = os.path.join(self.spool, str(self.sent))
        future = self.workers.run_batch(context, tasks, functions, marker, spool)
        for other in self.batches.values():
            other.only_one = False
        ids = [task.job_id for task in tasks]
        self.batches[future] = Batch(ids, cores, only_one=not self.batches, spool=spool)
        self.reserved += cores
        if cores > 1:
            self.multi += 1
        future.add_done_callback(self.completions.put)

    def wait(self, stop: threading.Event) -> Future[list[Result]] | None:
        """The next batch that came back, or None after a short while (so that a wait
        stays interruptible by Ctrl-C, and by `stop`, which raises KeyboardInterrupt)."""
        if stop.is_set():
            msg = "the run was stopped (Pipeline.stop())"
            raise KeyboardInterrupt(msg)
        try:
            return self.completions.get(timeout=0.25)
        except queue.Empty:
            return None

    def spooled(self) -> Iterator[Result]:
        """The results that workers left for jobs of batches still running."""
        for batch in list(self.batches.values()):
            if batch.spool is None:
                continue
            while True:
                path = os.path.join(batch.spool, f"{batch.taken:06d}.pkl")
                try:
                    with open(path, "rb") as f:
                        results = pickle.load(f)
                except FileNotFoundError:
                    break
                batch.taken += len(results)
                yield from results

    def returned(self, future: Future[list[Result]]) -> Batch:
        """`future`'s batch came back: it no longer holds cores or a spool."""
        batch = self.batches.pop(future)
        if batch.spool is not None:
            shutil.rmtree(batch.spool, ignore_errors=True)
        self.reserved -= batch.cores
        if batch.cores > 1:
            self.multi -= 1
        return batch

    def finished(self) -> Iterator[Result]:
        """The results of the batches that came back and were not handled yet."""
        for future, batch in list(self.batches.items()):
            if future.done() and not future.cancelled() and future.exception() is None:
                yield from future.result()[batch.taken :]
                del self.batches[future]

    def cancel(self) -> list[str]:
        """Stop the workers and what they run (Ctrl-C): the jobs that were in flight."""
        if not self.batches:
            return []
        if self.workers.lingers:
            with contextlib.suppress(OSError):
                os.makedirs(os.path.dirname(self.abandoned), exist_ok=True)
                with open(self.abandoned, "w"):
                    pass
        for future in self.batches:
            future.cancel()
        self.workers.stop()
        ids = [job_id for batch in self.batches.values() for job_id in batch.ids]
        self.batches.clear()
        return ids
