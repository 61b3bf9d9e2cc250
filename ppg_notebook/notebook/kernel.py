"""A kernel's pipeline and the jobs its `%%ppg_job` cells declare (no IPython needed).

`NotebookPipeline` is the pipeline of one kernel (or of an exported script) seen by the
names of its cells: it declares their jobs (declare.py), resolves the names people use
(a cell's name, a value's name, a job id or an output path) to jobs, runs them, binds
their values in the notebook namespace and explains them.

Decisions where SPEC §6 is silent:
- After a run, the jobs asked for and every cell job that ran have their names bound to
  their new values; a failed job leaves the notebook's old binding alone, as a failing cell
  does.
- Commands (`%ppg_run`, `%ppg_why`, `%ppg_invalidate`) take a value's name (`--values`)
  for the job that keeps it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import DamagedValue, JobsFailed, PipelineWarning
from ..events import Outcome, RunResult
from ..kinds import NOWHERE
from ..session import Pipeline, new_pipeline
from ..userfiles import normalize_path
from .body import CellError
from .declare import CellJob, Declarations


@dataclass
class RunReport:
    """What a run did, for display: the engine's result, and its failure if any."""

    result: RunResult
    targets: list[str]  # job ids asked for ([] for all)
    failure: JobsFailed | None = None


class NotebookPipeline(Declarations):
    """The pipeline of one kernel, and the cell jobs declared in it."""

    def __init__(self, pipeline: Pipeline | None = None) -> None:
        super().__init__(pipeline or new_pipeline(dir=".ppg", allow_redefinition=True))

    # --- naming jobs -----------------------------------------------------------------
    def display_name(self, job_id: str) -> str:
        """A job as users know it: its cell's name, with the file for file jobs."""
        cell = self.cell_of(job_id)
        if cell is None:
            return job_id
        return cell.name if cell.name == job_id else f"{cell.name} ({', '.join(cell.job.paths)})"

    def resolve(self, names: list[str]) -> list[str]:
        """Job ids of cell names, their values' names (--values: the job keeping the
        value), job ids or output paths; CellError lists the known jobs."""
        ids = []
        for name in names:
            owner = self._owner(name)
            if owner is not None:
                ids.append(self.cells[owner].job.job_id)
            elif name in self.cells:
                ids.append(self.cells[name].job.job_id)
            elif name in self.pipeline.jobs:
                ids.append(name)
            else:
                absolute = normalize_path(name, self.pipeline.workdir)[1]
                producer = self.pipeline.producers.get(absolute)
                if producer is None:
                    msg = f"unknown job {name!r}; known jobs: {self.known()}"
                    raise CellError(msg)
                ids.append(producer)
        return ids

    def is_job(self, job_id: str) -> bool:
        """A job that runs (not an invariant standing for a global or an input file)."""
        job = self.pipeline.jobs.get(job_id)
        return job is not None and job.where != NOWHERE

    def known(self) -> str:
        names = [self.display_name(j) for j in self.pipeline.jobs if self.is_job(j)]
        return ", ".join(sorted(names)) or "none (execute a %%ppg_job cell first)"

    # --- running ---------------------------------------------------------------------
    def run(self, names: list[str] | None = None) -> RunReport:
        """Run the named jobs and their upstream (all jobs if `names` is empty)."""
        targets = self.resolve(names) if names else []
        report = self._run(targets)
        if self._damaged(report):  # removed: their jobs run again
            report = self._run(targets)
        return report

    def _run(self, targets: list[str]) -> RunReport:
        try:
            result = self.pipeline.run(targets or None)
        except JobsFailed as e:
            result = e.result  # type: ignore[assignment]
            return RunReport(result, targets, e)
        return RunReport(result, targets)

    def _damaged(self, report: RunReport) -> bool:
        """Load the values `bind` will bind; False if all could be read."""
        damaged = False
        for cell in self._wanted(report):
            if not cell.is_file:
                try:
                    cell.product()
                except DamagedValue as e:
                    warnings.warn(str(e), PipelineWarning, stacklevel=2)
                    damaged = True
        return damaged

    def bind(self, report: RunReport, namespace: dict[str, Any]) -> None:
        """Bind the names of the jobs asked for, and of every cell job that ran."""
        for cell in self._wanted(report):
            namespace.update(cell.product())

    def _wanted(self, report: RunReport) -> Iterator[CellJob]:
        for cell in self.cells.values():
            job_id = cell.job.job_id
            outcome = report.result.outcomes.get(job_id)
            wanted = job_id in report.targets or outcome is Outcome.RAN
            if wanted and outcome in (Outcome.RAN, Outcome.UP_TO_DATE):
                yield cell

    # --- explaining ------------------------------------------------------------------
    def why(self, name: str) -> str:
        job_id = self.resolve([name])[0]
        text = self.pipeline.why(job_id)
        engine_name = repr(job_id)  # the engine names file jobs by their path(s)
        if text.startswith(engine_name):
            text = repr(self.display_name(job_id)) + text[len(engine_name) :]
        return text

    def invalidate(self, names: list[str]) -> list[str]:
        ids = self.resolve(names)
        self.pipeline.invalidate(*ids)
        return ids

    def status(self) -> list[dict[str, Any]]:
        rows = self.pipeline.status()
        for row in rows:
            row["job"] = self.display_name(row["job"])
        return rows
