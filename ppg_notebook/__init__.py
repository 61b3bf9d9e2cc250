"""ppg_notebook: incremental, parallel analysis pipelines, from scripts and Jupyter.

Declare jobs (pypipegraph's names), then `run()`: only what is out of date runs, in parallel
loky worker processes, and what ran is remembered on disk.
"""

from __future__ import annotations

from typing import Any

from .errors import (
    CycleError,
    DamagedValue,
    DependencyError,
    JobContractError,
    JobRedefinitionError,
    JobsFailed,
    PipelineError,
    PipelineLocked,
    PipelineWarning,
    StaleModule,
    WorkerDied,
)
from .events import Event, Outcome, RunResult
from .invariants import FileInvariant, FunctionInvariant, ParameterInvariant
from .jobs import (
    AttributeLoadingJob,
    CachedAttributeLoadingJob,
    CachedDataLoadingJob,
    DataLoadingJob,
    FileGeneratingJob,
    FinalJob,
    Job,
    JobGeneratingJob,
    MultiFileGeneratingJob,
    TempFileGeneratingJob,
)
from .session import Pipeline, get_pipeline, invalidate, new_pipeline, run, why
from .values import MultiValueJob, PlotJob, ValueJob, ValuePart

new_pipegraph = new_pipeline
run_pipegraph = run

__all__ = [
    "AttributeLoadingJob",
    "CachedAttributeLoadingJob",
    "CachedDataLoadingJob",
    "CellJobs",
    "CycleError",
    "DamagedValue",
    "DataLoadingJob",
    "DependencyError",
    "Event",
    "FileGeneratingJob",
    "FileInvariant",
    "FinalJob",
    "FunctionInvariant",
    "Job",
    "JobContractError",
    "JobGeneratingJob",
    "JobRedefinitionError",
    "JobsFailed",
    "MultiFileGeneratingJob",
    "MultiValueJob",
    "Outcome",
    "ParameterInvariant",
    "Pipeline",
    "PipelineError",
    "PipelineLocked",
    "PipelineWarning",
    "PlotJob",
    "RunResult",
    "StaleModule",
    "TempFileGeneratingJob",
    "ValueJob",
    "ValuePart",
    "WorkerDied",
    "dag",
    "get_pipeline",
    "invalidate",
    "new_pipegraph",
    "new_pipeline",
    "run",
    "run_pipegraph",
    "why",
]


def __getattr__(name: str) -> Any:
    # The notebook machinery an exported script uses is imported on first use: every worker
    # process imports this package, and should not pay for it.
    if name == "CellJobs":
        from .notebook.script import CellJobs

        return CellJobs
    msg = f"module 'ppg_notebook' has no attribute {name!r}"
    raise AttributeError(msg)


def load_ipython_extension(ipython: object) -> None:
    """`%load_ext ppg_notebook`: the `%%ppg_job` and `%ppg_*` magics (IPython imported only now)."""
    from .notebook.magics import load_ipython_extension as load

    load(ipython)


def dag(pipeline: Pipeline | None = None) -> Any:
    """The live DAG widget of `pipeline` (default: the current one); display it in Jupyter.

    anywidget is imported only now, so scripts that never show a graph do not pay for it.
    """
    from .widget import PipelineWidget

    return PipelineWidget(pipeline)
