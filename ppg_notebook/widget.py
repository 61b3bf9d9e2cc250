"""The live DAG widget (`%ppg_dag`, `ppg_notebook.dag()`): an anywidget over one pipeline.

What crosses to the front end (`js/src/`) is typed in `widget_protocol.py`: traits `graph`
(once per picture), `progress` and `words` (what the page calls each state code:
`status.py`'s), messages `status` (state codes, coalesced by `widget_live.py`), `reply`
(the answer to each front-end command) and `notice` (a background run finished).

The commands (`COMMANDS`, a handler per name): `hello` (send me everything), `run`,
`rerun`, `invalidate` (a job, or a group's `key`: all its members), `run_all`, `details`
(`widget_details.py`), `expand` (a group), `focus` (a job), `show_all`, `refresh` (re-read
the graph and the files on disk). Runs happen on a worker thread (`widget_runs.py`), one
at a time per pipeline; a run asked for while one is in progress is refused with a reply
that says so.
"""

from __future__ import annotations

import pathlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

import anywidget
import traitlets

from . import current, dag_model, dag_static, status
from . import widget_protocol as protocol
from .errors import PipelineError
from .events import Event
from .notebook.display import seconds
from .notebook.kernel import NotebookPipeline
from .records import Record
from .session import Pipeline
from .widget_details import job_details
from .widget_live import LiveStates
from .widget_runs import RunControl, describe

STATIC = pathlib.Path(__file__).parent / "static"
GRAPH_SETTLE = 0.3  # seconds without a job declared before the graph is read again


class PipelineWidget(anywidget.AnyWidget):
    """The graph of a pipeline, coloured by each job's state, with run buttons."""

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    graph = traitlets.Dict().tag(sync=True)
    progress = traitlets.Dict().tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    words = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        pipeline: Pipeline | None = None,
        *,
        notebook: NotebookPipeline | None = None,
        namespace: dict[str, Any] | None = None,
        flush_interval: float = 0.1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if pipeline is None:
            pipeline = notebook.pipeline if notebook is not None else current.get()
        self.pipeline = pipeline
        self.notebook = notebook
        self.namespace = namespace
        self.flush_interval = flush_interval
        self.run_control = RunControl(pipeline, notebook, namespace, self.label, self.send)
        self.runs = self.run_control.runs
        self.model: dag_model.GraphModel | None = None
        self.view: dag_model.GraphView | None = None
        self.expanded: set[str] = set()  # group keys drawn job by job
        self.focus: str | None = None
        self._reasons: dict[str, Any] = {}  # the plan of the last refresh
        self._records: Mapping[str, Any] = {}  # the history as the last refresh read it
        self._graph_timer: threading.Timer | None = None
        self._picture: Any = None  # the display handle of the static picture, once shown
        self._lock = threading.RLock()
        self.live = LiveStates(
            self._lock,
            flush_interval,
            pipeline.cores,
            lambda changes: self._send_status(changes, full=False),
            self._show_progress,
        )
        self.title = pipeline.dir
        page_words: protocol.Words = {
            "words": dict(status.CODE_WORDS),
            "meanings": dict(status.CODE_MEANINGS),
        }
        self.words = dict(page_words)
        self.progress = dict(self.live.run)
        self.on_msg(self._on_msg)
        pipeline.listeners.append(self._on_event)
        pipeline.graph_listeners.append(self._on_graph_changed)
        self.refresh()
        self._catch_up()

    # --- the graph and the states between runs -----------------------------------------
    def label(self, job_id: str) -> str:
        return self.notebook.display_name(job_id) if self.notebook else job_id

    def refresh(self) -> None:
        """Re-read the graph (a new layout only if the picture changed) and every job's
        state, looking at the files on disk again (an output deleted by hand must run)."""
        upstream, order = self.pipeline._graph()
        kinds = {job_id: self.pipeline.jobs[job_id].kind for job_id in order}
        model = dag_model.build(upstream, order, kinds, self.label)
        records = self.pipeline.history.load()
        plan = self.pipeline._plan(None, records)
        states: dict[str, str] = {}
        durations: dict[str, str] = {}
        for job_id in model.nodes:
            code = status.code(plan.get(job_id), records.get(job_id))
            states[job_id] = self.live.between_runs(job_id, code)
            duration = (records.get(job_id) or {}).get("d")
            if duration is not None:
                durations[job_id] = seconds(duration)
        with self._lock:
            self._reasons = plan
            self._records = records
            self._show(model)
            self.live.replace(states)
            self._send_status(states, full=True, durations=durations)
            if self._picture is not None:
                self._picture.update({"text/html": self.picture()}, raw=True)

    # --- saved notebooks -------------------------------------------------------------
    def __repr__(self) -> str:
        """Also the widget output's text/plain, which shows below the picture where the
        widget cannot be drawn (nbviewer, GitHub, an untrusted notebook)."""
        jobs = len(self.model.nodes) if self.model is not None else 0
        return f"PipelineWidget({self.title!r}, {jobs} jobs)"

    def picture(self) -> str:
        """A static HTML picture of the graph with its states (`dag_static.py`)."""
        with self._lock:
            if self.model is None or self.view is None:
                return ""
            return dag_static.picture(self.model, self.view, self.states, self.title)

    def _ipython_display_(self) -> None:
        """Two outputs: the static picture (for nbviewer, GitHub and a notebook reopened
        without a kernel, where JupyterLab has no widget model to draw) and the live widget,
        which hides the picture while it runs."""
        from IPython.display import display

        self._picture = display({"text/html": self.picture()}, raw=True, display_id=True)
        bundle = self._repr_mimebundle_()
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        display(data, metadata=metadata, raw=True)

    def _show(self, model: dag_model.GraphModel | None = None) -> None:
        """Send the picture of `model` (or the current one) as expanded and focused now."""
        with self._lock:
            model = model or self.model
            if model is None:
                return
            if self.focus not in model.nodes:
                self.focus = None
            view = model.view(frozenset(self.expanded), self.focus)
            changed = self.model is None or model.shape_key != self.model.shape_key
            self.model = model
            if changed or view != self.view:
                self.view = view
                self.graph = dict(view.to_json(model))

    def _on_graph_changed(self, job_id: str) -> None:
        """A job was declared, replaced or removed: refresh once the declaring is over."""
        with self._lock:
            if self._graph_timer is not None:
                self._graph_timer.cancel()
            self._graph_timer = threading.Timer(GRAPH_SETTLE, self._graph_refresh)
            self._graph_timer.daemon = True
            self._graph_timer.start()

    def _graph_refresh(self) -> None:
        with self._lock:
            self._graph_timer = None
        try:
            self.refresh()
        except RuntimeError:  # the jobs changed while being read: they are still changing
            self._on_graph_changed("")
        except Exception as e:
            self.send({"type": "notice", "ok": False, "text": describe(e)})

    def _send_status(
        self, states: dict[str, str], full: bool, durations: dict[str, str] | None = None
    ) -> None:
        message: protocol.Status = {"type": "status", "full": full, "states": states}
        if durations is not None:
            message["durations"] = durations
        self.send(message)

    def _catch_up(self) -> None:
        """Shown during a run (`%ppg_run --background`, then `%ppg_dag`): take in what the
        run said before this widget listened, but for the jobs it has heard of since."""
        started, events = self.runs.in_progress()
        if started is None:
            return
        with self._lock:
            if not self.live.run["active"]:
                self._on_event(started)
            for event in events:
                if event.job_id not in self.live.events.seen:
                    self._on_event(event)

    # --- run events, coalesced (`widget_live.py`) -----------------------------------------
    @property
    def states(self) -> dict[str, str]:
        """Job id -> state code, as the page has been told or is about to be."""
        return self.live.states

    def _on_event(self, event: Event) -> None:
        """Called by the runner, on whichever thread runs."""
        if event.kind == "run_started":
            self.live.started(event, self.runs.what if self.runs.busy else "a run")
        elif event.kind == "run_finished":
            self.live.finished(event.data)
            # The plan (amber borders) changed with the run; re-reading it takes a moment
            # with thousands of jobs, so it happens off the thread that ran the jobs.
            refresh = threading.Thread(target=self._safe_refresh, name="ppg-widget-refresh")
            refresh.daemon = True
            refresh.start()
        else:
            self.live.on_event(event)

    def flush(self) -> None:
        """Send the state changes gathered since the last flush, and the progress."""
        self.live.flush()

    def _show_progress(self, progress: protocol.Progress) -> None:
        if progress != self.progress:
            self.progress = dict(progress)

    def _safe_refresh(self) -> None:
        try:
            self.refresh()
        except Exception as e:
            self.send({"type": "notice", "ok": False, "text": describe(e)})

    # --- commands from the front end -----------------------------------------------------
    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and "cmd" in content:
            self.handle(content)

    def handle(self, content: dict[str, Any]) -> protocol.Reply:
        """Answer one front-end command (`protocol.Command`, as it came: unchecked) with a
        result or an error record; returns the reply sent."""
        cmd = content.get("cmd")
        reply: protocol.Reply = {
            "type": "reply",
            "req": content.get("req"),
            "cmd": str(cmd),
            "ok": True,
        }
        try:
            handler = COMMANDS.get(cmd) if isinstance(cmd, str) else None
            if handler is None:
                msg = f"unknown command {cmd!r}"
                raise ValueError(msg)
            reply.update(handler(self, content))
        except Exception as e:
            reply["ok"] = False
            reply["error"] = describe(e)
        self.send(reply)
        return reply

    def _job(self, content: dict[str, Any]) -> str:
        """The job a command names, which must still be in the pipeline."""
        job_id = content.get("job")
        if not job_id or job_id not in self.pipeline.jobs:
            msg = f"there is no job {job_id!r} in this pipeline (any more); refresh the graph"
            raise PipelineError(msg)
        return job_id

    def _targets(self, content: dict[str, Any]) -> tuple[list[str], str]:
        """The jobs a command acts on (a job, or a group's members) and how to name them."""
        key = content.get("job")
        for d in self.view.drawn if self.view else ():
            if d.is_group and d.key == key:
                assert self.model is not None
                return [self.model.nodes[m] for m in d.members], d.label
        job_id = self._job(content)
        return [job_id], self.label(job_id)

    def start_run(
        self, targets: list[str] | None, what: str, invalidate: bool = False
    ) -> protocol.Answer:
        """Start a run on the background thread; RunInProgress when one is running."""
        return self.run_control.start(targets, what, invalidate)

    # --- details ---------------------------------------------------------------------
    def details(self, job_id: str) -> protocol.Details:
        """What the details panel shows about one job (`widget_details.py`): from what the
        last refresh read, no history read and no graph resolved again."""
        with self._lock:
            model = self.model or dag_model.build({}, [], {})
            reason = self._reasons.get(job_id)
            record: Record = self._records.get(job_id) or Record()
            state = self.states.get(job_id, "")
        return job_details(
            self.pipeline,
            job_id,
            model=model,
            reason=reason,
            record=record,
            state=state,
            label=self.label,
            notebook=self.notebook,
            namespace=self.namespace,
        )

    # --- lifetime --------------------------------------------------------------------
    def close(self) -> None:
        self.live.stop()
        with self._lock:
            if self._graph_timer is not None:
                self._graph_timer.cancel()
            self._graph_timer = None
        if self._on_event in self.pipeline.listeners:
            self.pipeline.listeners.remove(self._on_event)
        if self._on_graph_changed in self.pipeline.graph_listeners:
            self.pipeline.graph_listeners.remove(self._on_graph_changed)
        super().close()


# --- the commands the page sends (`protocol.CommandName`), by name ------------------------
Command = Callable[[PipelineWidget, dict[str, Any]], protocol.Answer]


def _hello(w: PipelineWidget, content: dict[str, Any]) -> protocol.Answer:
    w.refresh()
    return {"message": ""}


def _refresh(w: PipelineWidget, content: dict[str, Any]) -> protocol.Answer:
    w.refresh()
    return {"message": f"refreshed: {len(w.states)} jobs, states read from disk again"}


def _details(w: PipelineWidget, content: dict[str, Any]) -> protocol.Answer:
    return {"message": "", "details": w.details(w._job(content))}


def _expand(w: PipelineWidget, content: dict[str, Any]) -> protocol.Answer:
    key = content.get("job")
    if not isinstance(key, str) or not key.startswith("group:"):
        msg = f"{key!r} is not a group of jobs; refresh the graph"
        raise PipelineError(msg)
    w.expanded.add(key)
    w._show()
    return {"message": ""}


def _focus(w: PipelineWidget, content: dict[str, Any]) -> protocol.Answer:
    w.focus = w._job(content)
    w._show()
    return {"message": ""}


def _show_all(w: PipelineWidget, content: dict[str, Any]) -> protocol.Answer:
    w.focus = None
    w.expanded.clear()
    w._show()
    return {"message": ""}


def _run(w: PipelineWidget, content: dict[str, Any]) -> protocol.Answer:
    jobs, name = w._targets(content)
    return w.start_run(jobs, f"running {name} and its upstream")


def _run_all(w: PipelineWidget, content: dict[str, Any]) -> protocol.Answer:
    return w.start_run(None, "running all jobs")


def _rerun(w: PipelineWidget, content: dict[str, Any]) -> protocol.Answer:
    jobs, name = w._targets(content)
    return w.start_run(jobs, f"rerunning {name}", invalidate=True)


def _invalidate(w: PipelineWidget, content: dict[str, Any]) -> protocol.Answer:
    answer = w.run_control.invalidate(*w._targets(content))
    w.refresh()
    return answer


COMMANDS: dict[str, Command] = {
    "hello": _hello,
    "refresh": _refresh,
    "details": _details,
    "expand": _expand,
    "focus": _focus,
    "show_all": _show_all,
    "run": _run,
    "rerun": _rerun,
    "invalidate": _invalidate,
    "run_all": _run_all,
}
