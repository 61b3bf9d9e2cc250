"""`%%ppg_job` cells declared from a plain script: what an exported notebook runs on.

An exported script (see export.py) keeps each job cell's body as a string and hands it to
`CellJobs.job`, which takes it through the same steps as executing the cell in a kernel
(`cells.analyse`, `cells.capture`, `NotebookPipeline.declare`). That is what makes the
script's jobs *the same jobs* as the notebook's: same ids, same code fingerprints, same
per-job invariants for the globals a body reads, so results computed by one are used by
the other.

`job()` captures the globals a body reads where it stands in the script (as a cell
captures them when it is executed); `declare()` declares all jobs at once, in order, into a
pipeline made with the command line's `--dir`, `--cores` and `--backend`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import cells
from .errors import PipelineError
from .events import Event
from .notebook import NotebookPipeline
from .notebook_display import failure_lines, summary
from .session import new_pipeline


@dataclass(frozen=True)
class _Cell:
    name: str
    body: str
    outs: tuple[str, ...]
    deps: tuple[str, ...]
    cores: int
    captured: cells.Captured


class CellJobs:
    """The job cells of a notebook, declared by a script; `run()` is its command line."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace
        self.cells: list[_Cell] = []

    def job(
        self,
        name: str,
        body: str,
        *,
        out: Sequence[str] = (),
        deps: Sequence[str] = (),
        cores: int = 1,
    ) -> None:
        """A `%%ppg_job NAME [--out ...] [--deps ...] [--cores N]` cell with this body.

        The body's first line break (after the opening quotes) is not part of it.
        """
        body = body.removeprefix("\n")
        parsed = cells.analyse(name, body, value_job=not out)
        jobs = {cell.name for cell in self.cells}
        bound = {n for n in parsed.free if n in jobs}
        if out:
            bound.add(cells.OUT)
        captured = cells.capture([n for n in parsed.free if n not in bound], self.namespace)
        self.cells = [cell for cell in self.cells if cell.name != name]
        self.cells.append(_Cell(name, body, tuple(out), tuple(deps), cores, captured))

    def declare(
        self, dir: str = ".ppg", cores: int | None = None, backend: str = "loky"
    ) -> NotebookPipeline:
        """A new pipeline with every job declared (nothing runs)."""
        notebook = NotebookPipeline(
            new_pipeline(dir=dir, cores=cores, backend=backend, allow_redefinition=True)
        )
        for cell in self.cells:
            notebook.declare(
                cell.name,
                cell.body,
                namespace=self.namespace,
                outs=list(cell.outs),
                deps=list(cell.deps),
                cores=cell.cores,
                captured=cell.captured,
            )
        return notebook

    def run(
        self,
        dir: str = ".ppg",
        cores: int | None = None,
        backend: str = "loky",
        *,
        dry_run: bool = False,
        listener: Callable[[Event], None] | None = None,
    ) -> int:
        """Declare the jobs, then run what must run (or, `dry_run`, say what would and why).

        Prints a summary, and each failed job's traceback to stderr; returns the exit status
        (1 if a job failed, 2 if the pipeline could not be declared or run).
        """
        try:
            notebook = self.declare(dir, cores, backend)
            if dry_run:
                print("\n".join(plan_lines(notebook)))
                return 0
            if listener is not None:
                notebook.pipeline.listeners.append(listener)
            report = notebook.run()
        except (PipelineError, ValueError) as e:
            print(f"ppg: {e}", file=sys.stderr)
            return 2
        result = report.result
        for job_id in result.errors:
            label = repr(notebook.display_name(job_id))
            lines = failure_lines(job_id, label, result)
            print("\n".join(lines), file=sys.stderr)
        print(summary(result, [], notebook.display_name, counted=notebook.is_job))
        return 1 if result.errors else 0


def plan_lines(notebook: NotebookPipeline) -> list[str]:
    """What the next run would do, job by job: 'will run', 'may run' or 'up to date', and why."""
    lines = []
    for job_id, reason in notebook.pipeline.plan().items():
        if not notebook.is_job(job_id):
            continue
        name = notebook.display_name(job_id)
        if reason is None:
            lines.append(f"up to date  {name}")
        elif reason.rule == 0:
            lines.append(f"on demand   {name}: {reason.text}")
        else:
            verb = "may run " if reason.maybe else "will run"
            lines.append(f"{verb}    {name}: {reason.text}")
    return lines or ["no jobs declared"]
