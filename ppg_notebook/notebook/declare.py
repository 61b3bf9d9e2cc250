"""A `%%ppg_job` cell's job declared: validated first, then declared or re-declared.

`Declarations` validates a cell (name, outputs, dependencies, captured globals) before
touching the pipeline, so that a rejected cell leaves every other job as it was; then it
declares — or re-declares, replacing — the cell's job with one invariant per notebook
global the body reads. What is done with the jobs once declared (naming, running,
binding, explaining) is kernel.py's.

Decisions where SPEC §6 is silent:
- A file job's name is bound, in the notebook and in other bodies, to its output path(s).
- A body may not read its own job's previous value (`x = x + 1` in job `x`): that would make
  the job out of date after every run.
- Captured globals are per job: `factor` read by job `total` is the invariant
  `total:factor`, so changing `factor` marks out of date exactly the jobs whose cells were
  executed with another value, and `why` names the global.
- A cell that now declares a different kind of job or other outputs replaces its old job;
  the old one is kept (with a note) only while another job still depends on it.
- `--values A B` (`values=`): the cell is one `MultiValueJob` named like the cell, and
  each listed variable of the body is a value of its own: bound in the notebook by its
  name, and a dependency of a later body that reads it through its `ValuePart`, so that
  body reruns only when a value it reads changed. The cell's own name is not bound (it
  would be the values again); a body reading it is told to read the values by name.
  `--values` and `--out` exclude each other: a job either keeps values or writes files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import current, ids, plotstate
from ..codewalk import TRACK_ALL
from ..errors import DependencyError
from ..invariants import (
    FunctionInvariant,
    ModuleReadsInvariant,
    ParameterInvariant,
    StyleInvariant,
)
from ..jobs import FileGeneratingJob, Job, MultiFileGeneratingJob, as_path_list
from ..session import Pipeline
from ..userfiles import normalize_path
from ..values import MultiValueJob, ValueJob
from .body import Body, CellError, analyse
from .capture import Captured, capture_globals, check_picklable, modules_read
from .cellfunc import Binding, binding, carrier, file_function, value_function, values_function
from .options import OUT, name_problem


@dataclass
class CellJob:
    """What one `%%ppg_job` cell declared."""

    name: str
    job: Job
    invariants: list[str] = field(default_factory=list)  # ids of its captured globals
    shows_result: bool = False
    notes: list[str] = field(default_factory=list)  # said once, when it was declared
    values: tuple[str, ...] = ()  # the names of its values (--values)
    # The notebook cell that declared it, when known: the front end's cell id and the
    # execution count its prompt shows (the widget's "Go to cell").
    cell_id: str = ""
    execution_count: int | None = None

    @property
    def is_file(self) -> bool:
        return not self.job.policy.stores

    def product(self) -> dict[str, Any]:
        """The notebook names the cell binds: its name to the stored value or the output
        Path(s), or (--values) each value's name to it."""
        if self.values:
            return self.job.values  # type: ignore[attr-defined]
        if self.is_file:
            return {self.name: as_path_list(self.job)}
        return {self.name: self.job.value}  # type: ignore[attr-defined]


class Declarations:
    """The cell jobs declared in one pipeline, by cell name, and declaring them."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.cells: dict[str, CellJob] = {}

    def declare(
        self,
        name: str,
        body: str,
        *,
        namespace: dict[str, Any],
        outs: Sequence[str] | None = None,
        deps: Sequence[str] | None = None,
        cores: int = 1,
        reserved: set[str] | frozenset[str] = frozenset(),
        parsed: Body | None = None,
        captured: Captured | None = None,
        values: list[str] | tuple[str, ...] = (),
    ) -> CellJob:
        """Declare (or replace) the job of cell `name`; raises CellError before any change.

        `values`: the body's variables the job keeps, each a value of its own (--values).
        `parsed` and `captured`: the body analysed, and the globals it reads looked up, if
        done already (a script does both where its job function stands, then declares all
        jobs at once).
        """
        outs = list(outs or [])
        values = tuple(values)
        self._check_name(name, reserved)
        self._check_values(name, values, outs, reserved)
        if cores < 1:
            msg = f"job {name!r}: --cores must be at least 1, not {cores}"
            raise CellError(msg)
        previous = self.cells.get(name)
        out_ids, out_paths = self._check_outs(name, outs, previous)
        job_id = self._id_for(name, out_ids)
        self._check_id(name, job_id)
        if parsed is None:
            parsed = analyse(name, body, value_job=not outs and not values)
        bindings, upstream = self._upstream(name, parsed.free, values)
        extra = self._extra_deps(name, list(deps or []))
        bound_here = {*upstream, OUT} if outs else set(upstream)
        if captured is None:
            self.pipeline.code.new_epoch()  # the user's modules as they are now
            names = [n for n in parsed.free if n not in bound_here]
            captured = capture_globals(name, names, namespace, parsed, self.pipeline.code)
        check_picklable(name, captured)

        code = carrier(parsed, captured.values)
        notes = []
        replaced = previous is not None and previous.job.job_id == job_id
        if previous is not None and not replaced:
            notes = self._retire(previous, set(out_paths))
        current.set_current(self.pipeline)
        invariants = [
            ParameterInvariant(f"{name}:{key}", value, live=True).job_id
            for key, value in sorted(captured.parameters.items())
        ]
        invariants += [
            FunctionInvariant(f"{name}:{key}", fn, main_values=TRACK_ALL).job_id
            for key, fn in sorted(captured.functions.items())
        ]
        invariants += [
            ModuleReadsInvariant(f"{name}:{key}", parsed.code, {key: module}).job_id
            for key, module in sorted(captured.modules.items())
        ]
        if captured.imports:  # what the body's own imports bring in
            invariants.append(ModuleReadsInvariant(f"{name}:imports", parsed.code, {}).job_id)
        if plotstate.uses_pyplot(modules_read(captured, parsed)):
            invariants.append(StyleInvariant(f"{name}:matplotlib style").job_id)
        if values:
            fn = values_function(code, bindings, name, values)
            job: Job = MultiValueJob(name, values, fn, cores_needed=cores)
        elif outs:
            fn = file_function(code, bindings)
            if len(outs) == 1:
                job = FileGeneratingJob(outs[0], fn, cores_needed=cores)
            else:
                job = MultiFileGeneratingJob(outs, fn, cores_needed=cores)
        else:
            assert parsed.result is not None
            fn = value_function(code, bindings, parsed.result)
            job = ValueJob(name, fn, cores_needed=cores)
        job.depends_on(*upstream.values(), *extra, *invariants, *captured.jobs.values())
        # (a retired job took its invariants along; a kept one still needs them)
        if previous is not None and replaced:
            stale_parts = [p for v, p in self._parts(previous).items() if v not in values]
            for stale in [*stale_parts, *(set(previous.invariants) - set(invariants))]:
                self.pipeline.remove_job(stale)
        cell = CellJob(name, job, invariants, parsed.shows_result and not values, notes, values)
        self.cells[name] = cell
        return cell

    def _check_values(
        self,
        name: str,
        values: tuple[str, ...],
        outs: list[str],
        reserved: set[str] | frozenset[str],
    ) -> None:
        """`--values`: names that can become notebook variables, kept by no other cell."""
        if values and outs:
            msg = (
                f"job {name!r}: --values and --out exclude each other: a job keeps values "
                f"(bound in the notebook) or writes files (--out). Split the cell in two"
            )
            raise CellError(msg)
        for value in values:
            problem = name_problem(value)
            if problem is None and value in reserved:
                problem = "is already used by IPython (a magic or one of its own variables)"
            if problem is None and (value == name or values.count(value) > 1):
                problem = "is listed twice (or is the job's own name)"
            if problem is None and value in self.cells:
                problem = "is already the name of a job"
            owner = self._owner(value)
            if problem is None and owner is not None and owner != name:
                problem = f"is already kept by the cell of job {owner!r}"
            if problem:
                msg = f"job {name!r}: --values {value!r} {problem}. Use another variable name"
                raise CellError(msg)
        previous = self.cells.get(name)
        if previous is not None and previous.values:
            stale = {v: p for v, p in self._parts(previous).items() if v not in values}
            self._check_unused(name, stale)
        if name in self.cells or self._owner(name) is None:
            return
        msg = f"the job name {name!r} is already a value of job {self._owner(name)!r}"
        raise CellError(msg)

    def _owner(self, value: str) -> str | None:
        """The cell keeping the value `value` (--values), if any."""
        for cell in self.cells.values():
            if value in cell.values:
                return cell.name
        return None

    def _parts(self, cell: CellJob) -> dict[str, str]:
        """Value name -> the id of its ValuePart, for a cell with --values."""
        return {v: cell.job.part(v).job_id for v in cell.values}  # type: ignore[attr-defined]

    def _check_unused(self, name: str, parts: dict[str, str]) -> None:
        """Refuses to drop values (their parts, by name) that another job still reads."""
        for value, part in parts.items():
            users = self._users([part])
            if users:
                msg = (
                    f"job {name!r} would no longer keep {value!r}, which job "
                    f"{self._label(users[0])} reads. Keep it in --values, or change that "
                    f"cell first"
                )
                raise CellError(msg)

    def _users(self, ids: list[str]) -> list[str]:
        """The jobs, other than `ids`, that depend on any of `ids`."""
        wanted = set(ids)
        return [
            other
            for other, job in self.pipeline.jobs.items()
            if other not in wanted and wanted.intersection(job.upstream)
        ]

    def _check_name(self, name: str, reserved: set[str] | frozenset[str]) -> None:
        problem = name_problem(name)
        if problem is None and name in reserved:
            problem = "is already used by IPython (a magic or one of its own variables)"
        if problem:
            msg = (
                f"the job name {name!r} {problem}. Job names become notebook variables: "
                f"use a name like `raw_data` or `summary`"
            )
            raise CellError(msg)

    def _check_outs(
        self, name: str, outs: list[str], previous: CellJob | None
    ) -> tuple[list[str], list[str]]:
        """Output ids and absolute paths of the new job; refuses paths another job writes."""
        ids: list[str] = []
        paths = []
        mine = previous.job.job_id if previous else None
        for path in outs:
            rel, absolute = normalize_path(path, self.pipeline.workdir)
            if rel in ids:
                msg = f"job {name!r}: --out lists {path!r} twice"
                raise CellError(msg)
            owner = self.pipeline.producers.get(absolute)
            if owner is not None and owner != mine:
                msg = (
                    f"job {name!r} cannot write {path!r}: job {self._label(owner)} already "
                    f"writes it, and each file must have exactly one job that writes it. "
                    f"Choose another path, or read that file by naming "
                    f"{self._label(owner)} in the body"
                )
                raise CellError(msg)
            ids.append(rel)
            paths.append(absolute)
        return ids, paths

    def _id_for(self, name: str, out_ids: list[str]) -> str:
        return ids.files(out_ids) if out_ids else name

    def _check_id(self, name: str, job_id: str) -> None:
        """Refuses the id of another cell's job (a file job is known by its path)."""
        owner = self.cell_of(job_id)
        if owner is not None and owner.name != name:
            msg = (
                f"job {name!r} would be known as {job_id!r}, which is already job "
                f"{owner.name!r}: a file job is known by its path, a value job by its name, "
                f"and each id names one job. Choose another path (e.g. {job_id + '.txt'!r}) "
                f"or another name"
            )
            raise CellError(msg)

    def _upstream(
        self, name: str, free: tuple[str, ...], values: tuple[str, ...]
    ) -> tuple[tuple[Binding, ...], dict[str, Job]]:
        """The cell jobs (and values of cells) the body names: how each is bound in the
        body, and the jobs (a value's ValuePart) it depends on."""
        own = [n for n in (name, *values) if n in free]
        if own:
            msg = (
                f"the body of job {name!r} reads {own[0]!r} before assigning it: a job cannot "
                f"depend on its own previous value. Compute it from other jobs or globals"
            )
            raise CellError(msg)
        bindings = []
        upstream: dict[str, Job] = {}
        for n in free:
            found = self._upstream_job(name, n)
            if found is not None:
                bindings.append(found[0])
                upstream[n] = found[1]
        return tuple(bindings), upstream

    def _upstream_job(self, name: str, n: str) -> tuple[Binding, Job] | None:
        """How the name `n` a body reads is bound, and its job, if it is a job's."""
        owner = self._owner(n)
        cell = self.cells.get(owner if owner is not None else n)
        if cell is None:
            return None
        job = cell.job
        if job.job_id not in self.pipeline.jobs or self.pipeline.jobs[job.job_id] is not job:
            return None  # replaced by a job declared without the magic
        workdir = self.pipeline.workdir
        if owner is not None:
            part = job.part(n)  # type: ignore[attr-defined]
            return binding(n, "value", part.outputs, workdir), part
        if cell.values:
            msg = (
                f"the body of job {name!r} reads {n!r}, a job that keeps several values "
                f"({', '.join(cell.values)}): read the values it needs by their names"
            )
            raise CellError(msg)
        kind = "files" if job.policy.several_files else "file" if cell.is_file else "value"
        paths = job.paths if cell.is_file else job.outputs
        return binding(n, kind, paths, workdir), job

    def _extra_deps(self, name: str, deps: list[str]) -> list[Any]:
        """`--deps`: cell job names, job ids, or input files (which must exist or be made)."""
        found: list[Any] = []
        for dep in deps:
            if dep == name:
                msg = f"job {name!r} cannot depend on itself"
                raise CellError(msg)
            owner = self._owner(dep)
            if owner is not None:
                found.append(self.cells[owner].job.part(dep))  # type: ignore[attr-defined]
                continue
            if dep in self.cells:
                found.append(self.cells[dep].job)
                continue
            if dep in self.pipeline.jobs:
                found.append(dep)
                continue
            absolute = normalize_path(dep, self.pipeline.workdir)[1]
            if absolute in self.pipeline.producers or os.path.exists(absolute):
                found.append(dep)
                continue
            known = ", ".join(sorted(self.cells)) or "none yet"
            if dep.isidentifier():
                msg = (
                    f"job {name!r}: --deps {dep!r} is not a known job (known jobs: {known}) "
                    f"and no file of that name exists. Execute the cell of that job first, "
                    f"or fix the name"
                )
            else:
                msg = (
                    f"job {name!r}: --deps {dep!r}: no job writes that file and it does not "
                    f"exist (looked for {absolute}); create it, execute the cell of the job "
                    f"that writes it first, or fix the path. Known jobs: {known}"
                )
            raise CellError(msg)
        return found

    def _retire(self, previous: CellJob, new_outputs: set[str]) -> list[str]:
        """Forget the job a cell declared before, unless another job depends on it."""
        old = previous.job
        parts = list(self._parts(previous).values())
        try:
            users = self._users([*parts, old.job_id])
            if users:  # (checked first: its values' parts go with it, or none does)
                shown = ", ".join(repr(u) for u in users)
                msg = f"job {old.job_id!r} is still needed: {shown} depend(s) on it"
                raise DependencyError(msg)
            for part in parts:
                self.pipeline.remove_job(part)
            self.pipeline.remove_job(old.job_id)
        except DependencyError as e:
            if new_outputs & set(old.outputs):
                msg = f"cannot replace job {previous.name!r}: {e}"
                raise CellError(msg) from None
            return [
                f"note: the previous job of {previous.name!r} ({old.job_id}) stays declared: "
                f"{e}. Execute their cells again to make them use the new one"
            ]
        for stale in previous.invariants:
            self.pipeline.remove_job(stale)
        return []

    # --- naming jobs -----------------------------------------------------------------
    def _label(self, job_id: str) -> str:
        cell = self.cell_of(job_id)
        return repr(cell.name) if cell is not None else repr(job_id)

    def cell_of(self, job_id: str) -> CellJob | None:
        for cell in self.cells.values():
            if cell.job.job_id == job_id:
                return cell
        return None
