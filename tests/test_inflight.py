"""The batches out with the workers (inflight.py): the cores they hold, who was alone in
flight, the results a worker left early in its batch's spool, and Ctrl-C."""

from __future__ import annotations

import os
import pickle
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from ppg_notebook.inflight import InFlight
from ppg_notebook.worker import Result, Task


class PendingWorkers:
    """Batches stay in flight until the test finishes their futures."""

    def __init__(self, lingers: bool = False) -> None:
        self.lingers = lingers
        self.sent: list[tuple[list[str], Any, Any]] = []  # (ids, abandoned marker, spool)
        self.futures: list[Future[list[Result]]] = []
        self.stopped = False

    def run_batch(self, context: Any, tasks: list[Task], functions: Any, abandoned, spool):
        self.sent.append(([t.job_id for t in tasks], abandoned, spool))
        future: Future[list[Result]] = Future()
        self.futures.append(future)
        return future

    def stop(self) -> None:
        self.stopped = True


def _task(job_id: str) -> Task:
    return Task(job_id, "file", lambda: None, (), (), False, False, False, None, "log")


def _result(job_id: str) -> Result:
    return Result(job_id, True, 0.0, 0.1, [], "fp-" + job_id, None, "", [], "")


def _flights(tmp_path: Path, lingers: bool = False) -> tuple[InFlight, PendingWorkers]:
    workers = PendingWorkers(lingers)
    return InFlight(workers, str(tmp_path / ".ppg")), workers


def test_small_batches_keep_two_per_core_in_flight(tmp_path: Path) -> None:
    flights, _ = _flights(tmp_path)
    for i in range(4):
        assert flights.room_for(1, 2)
        flights.send(None, [_task(f"j{i}")], 1)
    assert len(flights) == 4 and flights.reserved == 4
    assert not flights.room_for(1, 2)  # (two per core: four on two cores)
    assert flights.room_for(1, 3)


def test_a_job_of_several_cores_waits_until_they_are_free(tmp_path: Path) -> None:
    flights, workers = _flights(tmp_path)
    flights.send(None, [_task("small")], 1)
    assert not flights.room_for(2, 2)  # one core is taken
    assert flights.room_for(1, 2)
    flights.returned(workers.futures[0])
    assert flights.reserved == 0 and len(flights) == 0
    assert flights.room_for(2, 2)
    flights.send(None, [_task("big")], 2)
    assert flights.reserved == 2 and flights.multi == 1
    # While it runs, small ones count cores too: none is free.
    assert not flights.room_for(1, 2)
    flights.returned(workers.futures[1])
    assert flights.reserved == 0 and flights.multi == 0
    assert flights.room_for(1, 2)


def test_only_one_turns_false_once_a_second_batch_is_sent(tmp_path: Path) -> None:
    flights, workers = _flights(tmp_path)
    flights.send(None, [_task("a")], 1)
    first = flights.batches[workers.futures[0]]
    assert first.only_one
    flights.send(None, [_task("b")], 1)
    second = flights.batches[workers.futures[1]]
    assert not first.only_one and not second.only_one
    flights.returned(workers.futures[0])
    flights.returned(workers.futures[1])
    flights.send(None, [_task("c")], 1)
    assert flights.batches[workers.futures[2]].only_one  # (alone again)


def test_only_a_batch_of_several_jobs_gets_a_spool_and_loses_it_when_it_returns(
    tmp_path: Path,
) -> None:
    flights, workers = _flights(tmp_path)
    flights.send(None, [_task("alone")], 1)
    flights.send(None, [_task("a"), _task("b")], 1)
    assert workers.sent[0][2] is None
    spool = workers.sent[1][2]
    assert spool == os.path.join(tmp_path, ".ppg", "spool", "1")
    os.makedirs(spool)
    flights.returned(workers.futures[1])
    assert not os.path.exists(spool)


def _leave(spool: str, first: int, results: list[Result]) -> None:
    """What worker.Spool writes: the results from the `first`th on, in one pickle."""
    os.makedirs(spool, exist_ok=True)
    with open(os.path.join(spool, f"{first:06d}.pkl"), "wb") as f:
        pickle.dump(results, f)


def test_spooled_yields_what_the_worker_left_once_and_the_rest_comes_with_the_batch(
    tmp_path: Path,
) -> None:
    flights, workers = _flights(tmp_path)
    flights.send(None, [_task(j) for j in "abcd"], 1)
    spool = workers.sent[0][2]
    assert list(flights.spooled()) == []  # (nothing left yet)
    _leave(spool, 0, [_result("a")])
    _leave(spool, 1, [_result("b"), _result("c")])
    assert [r.job_id for r in flights.spooled()] == ["a", "b", "c"]
    batch = flights.batches[workers.futures[0]]
    assert batch.taken == 3 and batch.rest == ["d"]
    assert list(flights.spooled()) == []  # (not taken twice)
    workers.futures[0].set_result([_result(j) for j in "abcd"])
    assert [r.job_id for r in flights.finished()] == ["d"]
    assert len(flights) == 0


def test_cancel_stops_the_workers_and_returns_what_was_in_flight(tmp_path: Path) -> None:
    flights, workers = _flights(tmp_path)
    assert flights.cancel() == [] and not workers.stopped  # (nothing in flight)
    flights.send(None, [_task("a"), _task("b")], 1)
    flights.send(None, [_task("c")], 1)
    assert workers.sent[0][1] is None  # (loky's workers die with the run: no marker)
    assert sorted(flights.cancel()) == ["a", "b", "c"]
    assert workers.stopped and len(flights) == 0
    assert all(f.cancelled() for f in workers.futures)
    assert not os.path.exists(flights.abandoned)


def test_cancel_tells_lingering_workers_the_run_was_abandoned(tmp_path: Path) -> None:
    flights, workers = _flights(tmp_path, lingers=True)
    flights.send(None, [_task("a")], 1)
    assert workers.sent[0][1] == flights.abandoned
    assert not os.path.exists(flights.abandoned)
    assert flights.cancel() == ["a"]
    assert os.path.isfile(flights.abandoned) and workers.stopped


def test_a_stale_spool_from_a_killed_run_is_removed(tmp_path: Path) -> None:
    _leave(str(tmp_path / ".ppg" / "spool" / "1"), 0, [_result("old")])
    flights, _ = _flights(tmp_path)
    flights.send(None, [_task("a"), _task("b")], 1)
    assert list(flights.spooled()) == []


def test_wait_returns_the_batch_that_came_back_and_stop_interrupts(tmp_path: Path) -> None:
    flights, workers = _flights(tmp_path)
    stop = threading.Event()
    flights.send(None, [_task("a")], 1)
    workers.futures[0].set_result([_result("a")])
    assert flights.wait(stop) is workers.futures[0]
    assert flights.wait(stop) is None  # (a short while, nothing came back)
    stop.set()
    with pytest.raises(KeyboardInterrupt, match="stopped"):
        flights.wait(stop)
