"""What each kind of job does: one record per kind, in one table (`KINDS`).

Every job class points at its record (`Job.policy`); the runner, the plan, the rules and
the displays ask the record where a job runs, when, and what it keeps, instead of testing
the kind's name. The name is what users see (`job.kind`: the widget's details, the rows
of `Pipeline.status()`, SPEC §2). Imports nothing of ours.
"""

from __future__ import annotations

from dataclasses import dataclass

# Where a job's function runs.
WORKER = "worker"
MAIN = "main"
NOWHERE = "nowhere"  # invariants: nothing runs, they only have a fingerprint

# What the worker does with a job's function (see worker_task.py).
TASK_FILE = "file"
TASK_VALUE = "value"
TASK_VALUES = "values"
TASK_DUMP = "dump"
TASK_PLOT = "plot"


@dataclass(frozen=True)
class Kind:
    """What the jobs of one kind do."""

    name: str  # `job.kind`, as users see it
    where: str  # WORKER, MAIN or NOWHERE
    task: str = TASK_FILE  # what a worker does with the function (a job of WORKER)
    lazy: bool = False  # runs only when a dependant runs
    always: bool = False  # runs every run
    last: bool = False  # runs after every other job, when any of them ran
    generates: bool = False  # declares jobs when it runs, which run in the same run
    value: bool = False  # keeps its function's return value on disk: `job.value`
    values: bool = False  # keeps several values on disk, each on its own: `job.values`
    several_files: bool = False  # writes several files: its id names them all
    code: bool = False  # an invariant standing for the user's code, piece by piece
    part: bool = False  # one value of a job, as an input of its own (not an invariant)
    named: str = ""  # an input of this kind named to people: "parameter 'x'" ("": by its id)

    @property
    def stores(self) -> bool:
        """Whether it keeps values on disk (one, or several)."""
        return self.value or self.values


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("file", WORKER),
        Kind("multifile", WORKER, several_files=True),
        Kind("tempfile", WORKER, lazy=True),
        Kind("cachecalc", WORKER, TASK_DUMP),
        Kind("value", WORKER, TASK_VALUE, value=True),
        Kind("values", WORKER, TASK_VALUES, values=True),
        Kind("plot", WORKER, TASK_PLOT),
        Kind("load", MAIN, lazy=True),
        Kind("attribute", MAIN, lazy=True),
        Kind("loadcached", MAIN, lazy=True),
        Kind("generating", MAIN, always=True, generates=True),
        Kind("final", MAIN, last=True),
        Kind("function", NOWHERE, code=True, named="function"),
        Kind("parameter", NOWHERE, named="parameter"),
        Kind("input", NOWHERE, named="input file"),
        Kind("part", NOWHERE, part=True),
    )
}
