"""Progress in the output of the cell that started a run (SPEC §7b).

A run that takes longer than a second shows one line that is updated in place (`running
align_sample_B · 2.1 s · 14/120 done · about 30 s left`, the time left estimated from the
durations in the history) and, as they print it, what the running jobs print: workers
write it through to a `.live` file beside the job's log (worker_task.LiveLog), read here.
Fed by the run's events; draws from a thread of its own, since the kernel's main thread
is busy running.

The line is an output of the cell (a display), which the kernel cannot take away again:
cleared, it would stay in the saved notebook as an empty output. So it ends as the run's
summary line (`end`), or, when the run ends in an error, as its final count; a run shorter
than a second shows no line and prints its summary.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from . import statedir
from .events import Event, Outcome
from .notebook.display import seconds, some

SHOW_AFTER = 1.0  # seconds: quicker runs show only their summary
_TICK = 0.25
_STREAMED_AT_MOST = 64  # running jobs whose output is looked for, per look


class RunEvents:
    """What one run's events said so far: the one reading of them, for the cell's live line
    (`LiveProgress`), the widget's toolbar and states and the command line's bar, each of
    which shows it in its own way. Not locked: a reader fed from the runner's thread locks.

    A job is queued (sent for), then running (sent to a worker: a job batched behind others
    shows as running early), then done with an `Outcome`; `run_started` starts afresh.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._start(0)

    def _start(self, total: int) -> None:
        self.total = total  # jobs in the run, as `run_started` said
        self.queued: set[str] = set()  # sent for, not running yet
        self.running: dict[str, float] = {}  # job id -> since when, in the order they started
        self.outcomes: Counter[Outcome] = Counter()  # the jobs done, by outcome
        self.ran: list[str] = []
        self.failed: list[str] = []
        self.seen: set[str] = set()  # the jobs with an event in this run

    def feed(self, event: Event) -> None:
        kind, job_id = event.kind, event.job_id
        if kind == "run_started":
            self._start(int(event.data or 0))
            return
        if kind not in ("queued", "running", "done"):
            return
        self.seen.add(job_id)
        if kind == "queued":  # (again, after a worker died: waiting again)
            self.running.pop(job_id, None)
            self.queued.add(job_id)
        elif kind == "running":
            self.queued.discard(job_id)
            self.running.setdefault(job_id, self._clock())
        else:
            self.queued.discard(job_id)
            self.running.pop(job_id, None)
            self.outcomes[event.data] += 1
            if event.data is Outcome.RAN:
                self.ran.append(job_id)
            elif event.data is Outcome.FAILED:
                self.failed.append(job_id)

    @property
    def done(self) -> int:
        """The jobs done, in any outcome."""
        return self.outcomes.total()

    @property
    def finished(self) -> int:
        """The jobs done that the run needed (a loading job no dependant needed is not)."""
        return self.done - self.outcomes[Outcome.NOT_NEEDED]

    @property
    def pending(self) -> set[str]:
        """Queued or running: not done."""
        return self.queued | self.running.keys()


class LiveProgress:
    def __init__(
        self,
        pipeline: Any,
        label: Callable[[str], str],
        targets: list[str],
        show: Callable[[str], None],
        out: Callable[[str], None],
    ) -> None:
        self.pipeline = pipeline
        self.label = label
        self.targets = set(targets)
        self.show = show  # replaces the progress line
        self.out = out  # appends text to the cell's output
        self.streamed: dict[str, str] = {}  # job id -> what was shown of its output
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._started = time.monotonic()
        self._events = RunEvents()
        self._offsets: dict[str, int] = {}
        self._shown = False
        self._thread = threading.Thread(target=self._loop, name="ppg-progress", daemon=True)

    def __enter__(self) -> LiveProgress:
        self.pipeline.listeners.append(self.on_event)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.pipeline.listeners.remove(self.on_event)
        if self._shown:  # true to the end, should `end` not be called (an error)
            with self._lock:
                finished, total = self._counts()
            elapsed = seconds(time.monotonic() - self._started)
            self.show(f"ppg: {finished}/{total} done in {elapsed}")

    def end(self, summary: str) -> None:
        """Show the run's summary line: in the progress line's place if there is one
        (after `__exit__`), else printed."""
        if self._shown:
            self.show(summary)
        else:
            self.out(summary + "\n")

    def on_event(self, event: Event) -> None:
        with self._lock:
            self._events.feed(event)

    def _counts(self) -> tuple[int, int]:
        """(jobs finished, of how many); under the lock."""
        finished = self._events.finished
        return finished, max(self._events.total, finished)

    # --- drawing (its own thread) ------------------------------------------------------
    def _loop(self) -> None:
        while not self._done.wait(_TICK):
            if time.monotonic() - self._started < SHOW_AFTER:
                continue
            self._stream()
            self.show(self.line())
            self._shown = True

    def line(self) -> str:
        now = time.monotonic()
        with self._lock:
            running = sorted(self._events.running.items(), key=lambda item: item[1])
            finished, total = self._counts()
            pending = self._events.pending
        parts = []
        if running:
            names = some([job_id for job_id, _ in running], self.label, 2)
            parts.append(f"running {names} · {seconds(now - running[0][1])}")
        parts.append(f"{finished}/{total} done")
        left = self._time_left(pending, total - finished, running, now)
        if left is not None:
            parts.append(f"about {seconds(left)} left")
        return "ppg: " + " · ".join(parts)

    def _time_left(
        self, pending: set[str], remaining: int, running: list[tuple[str, float]], now: float
    ) -> float | None:
        """From how long each job took last time (the records the run read, not read again
        here); None if none of the jobs waiting is known."""
        records = self.pipeline.records_of_run
        known = {}
        for job_id in pending:
            duration = (records.get(job_id) or {}).get("d")
            if duration is not None:
                known[job_id] = float(duration)
        if not known or remaining <= 0:
            return None
        mean = sum(known.values()) / len(known)
        since = dict(running)
        work = 0.0
        for job_id in pending:
            expected = known.get(job_id, mean)
            work += max(expected - (now - since[job_id]), 0.0) if job_id in since else expected
        work += max(remaining - len(pending), 0) * mean
        return work / max(self.pipeline.cores, 1)

    def _stream(self) -> None:
        """Show what the running jobs printed since the last look (of the oldest ones:
        thousands of tiny jobs sent in batches all count as running)."""
        with self._lock:
            running = list(self._events.running)[:_STREAMED_AT_MOST]
        for job_id in running:
            path = statedir.log_file(self.pipeline.dir, job_id) + statedir.LIVE
            offset = self._offsets.get(job_id, 0)
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    f.seek(offset)
                    text = f.read()
                    self._offsets[job_id] = f.tell()
            except OSError:
                continue
            if text:
                if job_id not in self.streamed and job_id not in self.targets:
                    self.out(f"--- output of {self.label(job_id)} ---\n")
                self.streamed[job_id] = self.streamed.get(job_id, "") + text
                self.out(text)
