"""Runs off the caller's thread: at most one at a time per pipeline.

The DAG widget and `%ppg_run --background` start runs here, so the kernel's main thread
stays free to execute cells and to handle further widget clicks while jobs run. A second run
asked for while one is in progress is refused with `RunInProgress` (not queued): a queued
"Rerun" would invalidate a job the running run may be about to record, and a refusal tells
the user plainly what happened.

It also keeps what the run going on has said so far (its events, the last one of each job),
so that a widget shown during a run starts with what is running, not with the states of the
last refresh.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

from .errors import PipelineError
from .events import Event
from .session import Pipeline


class RunInProgress(PipelineError):
    """A run was asked for while another run of the same pipeline is still in progress."""


class BackgroundRuns:
    """The background run of one pipeline, if any."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.what = ""  # what the current run is, for people
        self._events_lock = threading.Lock()
        self._started: Event | None = None  # the run going on (any thread's), if any
        self._last: dict[str, Event] = {}  # job id -> its last event in that run

    def on_event(self, event: Event) -> None:
        """A listener of the pipeline: keep the events of the run going on."""
        with self._events_lock:
            if event.kind == "run_started":
                self._started, self._last = event, {}
            elif event.kind == "run_finished":
                self._started, self._last = None, {}
            elif self._started is not None and event.job_id:
                self._last[event.job_id] = event

    def in_progress(self) -> tuple[Event | None, list[Event]]:
        """The `run_started` event of the run going on (None: no run) and each job's
        last event in it since."""
        with self._events_lock:
            return self._started, list(self._last.values())

    @property
    def busy(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(
        self,
        work: Callable[[], Any],
        what: str,
        on_done: Callable[[Any, BaseException | None], None] | None = None,
    ) -> threading.Thread:
        """Call `work()` on a new thread, then `on_done(result, error)` on that thread.

        Raises RunInProgress when a run is in progress.
        """
        with self._lock:
            if self.busy:
                msg = (
                    f"a run is already in progress ({self.what}); this one was not started. "
                    f"Try again when it has finished"
                )
                raise RunInProgress(msg)
            self.what = what
            thread = threading.Thread(
                target=self._main, args=(work, on_done), name="ppg-run", daemon=True
            )
            self._thread = thread
            thread.start()
        return thread

    def _main(
        self, work: Callable[[], Any], on_done: Callable[[Any, BaseException | None], None] | None
    ) -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = work()
        except BaseException as e:
            error = e
        if on_done is not None:
            on_done(result, error)

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


_RUNS: weakref.WeakKeyDictionary[Pipeline, BackgroundRuns] = weakref.WeakKeyDictionary()
_RUNS_LOCK = threading.Lock()


def runs_of(pipeline: Pipeline) -> BackgroundRuns:
    """The one BackgroundRuns of `pipeline` (shared by its widgets and magics)."""
    with _RUNS_LOCK:
        runs = _RUNS.get(pipeline)
        if runs is None:
            runs = _RUNS[pipeline] = BackgroundRuns()
            pipeline.listeners.append(runs.on_event)
        return runs
