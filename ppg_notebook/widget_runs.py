"""The DAG widget's runs (SPEC §7: Run, Rerun, Invalidate, Run all).

A run happens on the pipeline's background thread (`background.py`), one at a time per
pipeline: one asked for while another is in progress is refused (`RunInProgress`, which
the widget answers with), and so is an invalidation, which would change what that run
reads. A run's end is told to the page as a notice, naming the jobs that failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import widget_protocol as protocol
from .background import RunInProgress, runs_of
from .errors import JobsFailed, PipelineError
from .events import RunResult
from .notebook.display import seconds, some
from .notebook.kernel import NotebookPipeline
from .session import Pipeline


class RunControl:
    """Starts the widget's runs and says how they ended (`notify`)."""

    def __init__(
        self,
        pipeline: Pipeline,
        notebook: NotebookPipeline | None,
        namespace: dict[str, Any] | None,
        label: Callable[[str], str],
        notify: Callable[[protocol.Notice], None],
    ) -> None:
        self.pipeline = pipeline
        self.notebook = notebook
        self.namespace = namespace  # where a notebook's run binds its values
        self.label = label
        self.notify = notify
        self.runs = runs_of(pipeline)

    def start(
        self, targets: list[str] | None, what: str, invalidate: bool = False
    ) -> protocol.Answer:
        """Start a run of `targets` (None: all) and their upstream, invalidated first if
        asked; RunInProgress when one is running."""

        def work() -> tuple[RunResult, JobsFailed | None]:
            if invalidate and targets:
                self.pipeline.invalidate(*targets)
            if self.notebook is not None:
                report = self.notebook.run(targets or [])
                if self.namespace is not None:
                    self.notebook.bind(report, self.namespace)
                return report.result, report.failure
            try:
                return self.pipeline.run(targets), None
            except JobsFailed as e:
                return e.result, e  # type: ignore[return-value]

        self.runs.start(work, what, self._done)
        return {"message": f"started: {what}"}

    def invalidate(self, jobs: list[str], name: str) -> protocol.Answer:
        """Make `jobs` (called `name`) run on the next run; refused while one runs."""
        if self.runs.busy:
            msg = (
                f"{name} was not invalidated: a run is in progress "
                f"({self.runs.what}). Try again when it has finished"
            )
            raise RunInProgress(msg)
        self.pipeline.invalidate(*jobs)
        return {"message": f"invalidated {name}: the next run runs it again"}

    def _done(self, outcome: Any, error: BaseException | None) -> None:
        if error is not None:
            self.notify({"type": "notice", "ok": False, "text": describe(error)})
            return
        result, failure = outcome
        text = f"run finished in {seconds(result.duration)}: {result.tally()}"
        if result.errors:
            text += f" (failed: {some(list(result.errors), self.label)})"
        if failure is not None:
            text += "; click a red job for its traceback"
        self.notify({"type": "notice", "ok": failure is None, "text": text})


def describe(error: BaseException) -> str:
    """An error as the widget shows it: ours by their message, others with their type."""
    if isinstance(error, PipelineError):
        return str(error)
    return f"{type(error).__name__}: {error}"
