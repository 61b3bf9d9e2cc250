"""The states the DAG widget's page has been told, kept current from a run's events.

Each job shown has a state code (`dag_model.py`); a run's events change them (read once, by
`progress.RunEvents`) and the changes are sent coalesced: at most every `interval` seconds,
so that 10,000 tiny jobs cost a few messages a second, not one per event. The run's counts
go with them (`protocol.Progress`: running at most the workers' cores, the rest sent to
them queued), and, once it ends, the run's tally.

Fed on whichever thread runs; the widget's lock guards these states and the picture alike.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from . import dag_model
from . import widget_protocol as protocol
from .events import Event, Outcome, RunResult
from .progress import RunEvents

IDLE: protocol.Progress = {
    "active": False,
    "what": "",
    "total": 0,
    "done": 0,
    "running": 0,
    "queued": 0,
    "failed": 0,
    "tally": "",
}


class LiveStates:
    """Job id -> state code, as the page has been told or is about to be (`pending`)."""

    def __init__(
        self,
        lock: threading.RLock,
        interval: float,
        cores: int,
        send: Callable[[dict[str, str]], None],
        show_progress: Callable[[protocol.Progress], None],
    ) -> None:
        self.lock = lock
        self.interval = interval
        self.cores = cores
        self.send = send  # the changed states
        self.show_progress = show_progress
        self.states: dict[str, str] = {}
        self.pending: dict[str, str] = {}
        self.run: protocol.Progress = IDLE.copy()
        self.events = RunEvents()  # what the current run said of the jobs shown
        self.upstream_failed: set[str] = set()  # (not run: "none" says it no better)
        self._timer: threading.Timer | None = None

    def between_runs(self, job_id: str, code: str) -> str:
        """A job's code from the plan, as shown: one whose upstream failed says so."""
        if job_id in self.upstream_failed and code.startswith("none"):
            return "upstream" + code[4:]
        return code

    def replace(self, states: dict[str, str]) -> None:
        """Every job's state read afresh (the caller sends them all): during a run, what its
        events said stays. Under the lock."""
        if self.run["active"]:
            states.update({j: self.states[j] for j in self.events.seen if j in states})
        self.states = states
        self.pending.clear()

    def started(self, event: Event, what: str) -> None:
        with self.lock:
            self.events.feed(event)
            self.run = IDLE.copy()
            self.run.update(
                {"active": True, "total": min(len(self.states), event.data), "what": what}
            )
        self._schedule()

    def on_event(self, event: Event) -> None:
        """A job's event: its new code, sent soon."""
        kind, job_id = event.kind, event.job_id
        if kind not in ("queued", "running", "done"):
            return
        with self.lock:
            if job_id not in self.states:
                return  # an invariant, or a job the picture does not show yet
            self.events.feed(event)
            code = kind
            if kind == "done":
                code = dag_model.OUTCOME_CODES.get(event.data, "none*")
                if event.data is Outcome.UPSTREAM_FAILED:
                    self.upstream_failed.add(job_id)
                else:
                    self.upstream_failed.discard(job_id)
            self.pending[job_id] = code
            self.states[job_id] = code
        self._schedule()

    def _schedule(self) -> None:
        with self.lock:
            if self._timer is None:
                self._timer = threading.Timer(self.interval, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Send the state changes gathered since the last flush, and the progress."""
        with self.lock:
            self._timer = None
            changes, self.pending = self.pending, {}
            run = self.run
            if run["active"]:
                # Jobs batched behind others are sent (and said running) before they start.
                events = self.events
                running = min(len(events.running), self.cores)
                run["done"] = events.done
                run["failed"] = len(events.failed)
                run["running"] = running
                run["queued"] = len(events.queued) + len(events.running) - running
                run["total"] = max(run["total"], run["done"] + run["running"] + run["queued"])
            progress = run.copy()
        if changes:
            self.send(changes)
        self.show_progress(progress)

    def finished(self, result: RunResult) -> None:
        """The run ended: its counts of the jobs shown, and its tally."""
        with self.lock:
            self.stop()
            done = [j for j in result.outcomes if j in self.states]
            self.run.update(
                {
                    "active": False,
                    "total": len(done),
                    "done": len(done),
                    "running": 0,
                    "queued": 0,
                    "failed": sum(1 for j in done if result.outcomes[j] is Outcome.FAILED),
                    "tally": result.tally(),
                }
            )
        self.flush()

    def stop(self) -> None:
        with self.lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None
