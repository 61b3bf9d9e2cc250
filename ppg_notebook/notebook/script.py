"""`%%ppg_job` cells declared from a plain script: what an exported notebook runs on.

An exported script (see export.py) writes each job cell as a function decorated with
`CellJobs.job`. The function is never called: its body is read back from the script as
the cell it stands for (jobdefs.py) and taken through the same steps as executing the cell
in a kernel (`body.analyse`, `capture.capture`, `NotebookPipeline.declare`). That is what
makes the script's jobs *the same jobs* as the notebook's: same ids, same code
fingerprints, same per-job invariants for the globals a body reads, so results computed by
one are used by the other.

`job` captures the globals a body reads where the function stands in the script (as a
cell captures them when it is executed) and checks its parameters: exactly the jobs whose
results the body reads, declared above it, and `out` for a file job; `declare()` declares
all jobs at once, in order, into a pipeline made with the command line's `--dir`,
`--cores`, `--backend` and `--scheduler`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .. import status
from ..codewalk import CodeWalker
from ..errors import PipelineError
from ..events import Event
from ..session import new_pipeline
from ..userfiles import UserFiles
from . import jobdefs
from .body import Body, CellError, analyse
from .capture import Captured, capture_globals
from .display import failure_lines, summary
from .kernel import NotebookPipeline
from .options import OUT

F = TypeVar("F", bound=Callable[..., Any])
Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


@dataclass(frozen=True)
class _Cell:
    found: jobdefs.FunctionBody
    outs: tuple[str, ...]
    deps: tuple[str, ...]
    cores: int
    values: tuple[str, ...]
    parsed: Body
    captured: Captured

    @property
    def name(self) -> str:
        return self.found.name


class CellJobs:
    """The job cells of a notebook, declared by a script; `run()` is its command line."""

    def __init__(self, track: Sequence[str] = ()) -> None:
        """`track`: paths beyond the working directory whose modules are the user's code
        (the notebook's `%ppg_new --track`)."""
        self.cells: list[_Cell] = []
        self.track = tuple(track)
        self.walker = CodeWalker(UserFiles.of(os.getcwd(), self.track))

    def job(
        self,
        fn: F | None = None,
        /,
        *,
        out: Paths = (),
        deps: Paths = (),
        cores: int = 1,
        values: Sequence[str] = (),
    ) -> Any:
        """Decorator declaring a `%%ppg_job` cell as a function (see jobdefs.py).

        `@cells.job` is a value job named like the function; `@cells.job(out=PATH)` (or a
        list of paths) a file job, `deps` what `--deps` lists, `cores` what `--cores` says,
        `values` what `--values` lists (the function then ends with `return` of them).
        The function is returned as it is.
        """
        outs, extra, kept = _strings(out), _strings(deps), tuple(values)

        def declare(fn: F) -> F:
            self._add(fn, outs, extra, cores, kept)
            return fn

        return declare if fn is None else declare(fn)

    def _add(
        self, fn: Any, outs: list[str], deps: list[str], cores: int, values: tuple[str, ...]
    ) -> None:
        value_job = not outs and not values
        found = jobdefs.cell_body(fn, value_job=value_job, values=values)
        name = found.name
        parsed = analyse(name, found.body, value_job=value_job, where=found.where)
        where = jobdefs.located(name, found.where.filename, fn.__code__.co_firstlineno)
        if any(cell.name == name for cell in self.cells):
            msg = f"{where}: a job of that name is defined above already; rename one of them"
            raise CellError(msg)
        jobs = {n for cell in self.cells for n in cell.values or (cell.name,)}
        reads = [n for n in parsed.free if n in jobs]
        _check_params(where, found.params, reads, jobs, outs, OUT in parsed.free)
        bound = {*reads, OUT} if outs else set(reads)
        names = [n for n in parsed.free if n not in bound]
        captured = capture_globals(name, names, fn.__globals__, parsed, self.walker)
        unread = [p for p in found.params if p in jobs and p not in reads and p not in deps]
        cell = _Cell(found, tuple(outs), (*deps, *unread), cores, values, parsed, captured)
        self.cells.append(cell)

    def declare(
        self,
        dir: str = ".ppg",
        cores: int | None = None,
        backend: str = "loky",
        scheduler: str | None = None,
    ) -> NotebookPipeline:
        """A new pipeline with every job declared (nothing runs)."""
        pipeline = new_pipeline(
            dir=dir,
            cores=cores,
            backend=backend,
            scheduler=scheduler,
            allow_redefinition=True,
            track=self.track,
        )
        notebook = NotebookPipeline(pipeline)
        for cell in self.cells:
            notebook.declare(
                cell.name,
                cell.found.body,
                namespace={},
                outs=list(cell.outs),
                deps=list(cell.deps),
                cores=cell.cores,
                values=cell.values,
                parsed=cell.parsed,
                captured=cell.captured,
            )
        return notebook

    def run(
        self,
        dir: str = ".ppg",
        cores: int | None = None,
        backend: str = "loky",
        scheduler: str | None = None,
        *,
        dry_run: bool = False,
        listener: Callable[[Event], None] | None = None,
    ) -> int:
        """Declare the jobs, then run what must run (or, `dry_run`, say what would and why).

        Prints a summary, and each failed job's traceback to stderr; returns the exit status
        (1 if a job failed, 2 if the pipeline could not be declared or run).
        """
        try:
            notebook = self.declare(dir, cores, backend, scheduler)
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
        print(summary(result, [], notebook.display_name))
        return 1 if result.errors else 0


def plan_lines(notebook: NotebookPipeline) -> list[str]:
    """What the next run would do, job by job: 'will run', 'may run' or 'up to date', and why."""
    lines = []
    for job_id, reason in notebook.pipeline.plan().items():
        if not notebook.is_job(job_id):
            continue
        name = notebook.display_name(job_id)
        if reason is None:
            lines.append(f"{status.UP_TO_DATE:<11} {name}")
        elif reason.on_demand:
            lines.append(f"{status.ON_DEMAND:<11} {name}: {reason.text}")
        else:
            lines.append(f"{status.verb(reason):<11} {name}: {reason.text}")
    return lines or ["no jobs declared"]


def _strings(paths: Paths) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    return [os.fspath(p) for p in paths]


def _check_params(
    where: str,
    params: tuple[str, ...],
    reads: list[str],
    jobs: set[str],
    outs: list[str],
    reads_out: bool,
) -> None:
    """The parameters are the jobs whose results the body reads, and `out` for a file job."""
    missing = [n for n in reads if n not in params]
    if outs and reads_out and OUT not in params:
        missing.append(OUT)
    if missing:
        wanted = ", ".join(dict.fromkeys([*params, *missing]))
        what = ", ".join(repr(n) for n in missing)
        msg = (
            f"{where}: the body reads {what} but the function does not take "
            f"{'them' if len(missing) > 1 else 'it'} as a parameter; parameters name the "
            f"jobs whose results a job reads (and `{OUT}`, a file job's output): "
            f"write the function as `def ...({wanted}):`"
        )
        raise CellError(msg)
    for param in params:
        if param == OUT and not outs:
            msg = (
                f"{where}: `{OUT}` is the output of a file job, and this is a value job; give "
                f"the job its file with @….job(out=PATH), or rename the parameter"
            )
            raise CellError(msg)
        if param != OUT and param not in jobs:
            known = ", ".join(sorted(jobs)) or "none"
            msg = (
                f"{where}: its parameter {param!r} is not a job defined above it (jobs above: "
                f"{known}); parameters name the jobs whose results a job reads"
            )
            raise CellError(msg)
