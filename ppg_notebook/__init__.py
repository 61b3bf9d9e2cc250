"""ppg_notebook: incremental, parallel analysis pipelines, from scripts and Jupyter.

Declare jobs (pypipegraph's names), then `run()`: only what is out of date runs, in parallel
loky worker processes, and what ran is remembered on disk.
"""

from __future__ import annotations

from .errors import (
    CycleError,
    DependencyError,
    JobContractError,
    JobRedefinitionError,
    JobsFailed,
    PipelineError,
    PipelineLocked,
    PipelineWarning,
    WorkerDied,
)
from .events import Event, Outcome, RunResult
from .jobs import (
    AttributeLoadingJob,
    CachedAttributeLoadingJob,
    CachedDataLoadingJob,
    DataLoadingJob,
    FileGeneratingJob,
    FileInvariant,
    FinalJob,
    FunctionInvariant,
    Job,
    JobGeneratingJob,
    MultiFileGeneratingJob,
    ParameterInvariant,
    PlotJob,
    TempFileGeneratingJob,
    ValueJob,
)
from .session import Pipeline, get_pipeline, invalidate, new_pipeline, run, why

new_pipegraph = new_pipeline
run_pipegraph = run

__all__ = [
    "AttributeLoadingJob",
    "CachedAttributeLoadingJob",
    "CachedDataLoadingJob",
    "CycleError",
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
    "Outcome",
    "ParameterInvariant",
    "Pipeline",
    "PipelineError",
    "PipelineLocked",
    "PipelineWarning",
    "PlotJob",
    "RunResult",
    "TempFileGeneratingJob",
    "ValueJob",
    "WorkerDied",
    "get_pipeline",
    "invalidate",
    "new_pipegraph",
    "new_pipeline",
    "run",
    "run_pipegraph",
    "why",
]


def load_ipython_extension(ipython: object) -> None:
    """`%load_ext ppg_notebook`: the `%%ppg_job` and `%ppg_*` magics (IPython imported only now)."""
    from .magics import load_ipython_extension as load

    load(ipython)
