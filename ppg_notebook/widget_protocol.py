"""What the DAG widget's kernel side (`widget.py`) and its page (`js/src/`) say to each other.

`js/src/protocol.ts` declares the same types, field for field; tests/test_widget_protocol.py
compares the two files, so that neither side changes a message without the other.

- Synced traits (`Traits`): `graph` is set once per picture (a declared or removed job,
  Expand, Focus change it; a status change never does), `progress` while a run goes on,
  `words` once (what the page calls each state code: `status.py`'s words, not its own).
- Kernel -> page, custom messages: `Status` (state codes, `dag_model.py`, coalesced:
  a few a second however many jobs change), `Reply` (the answer to one `Command`: every
  command gets one), `Notice` (a background run finished, or a refresh failed).
- Page -> kernel: `Command`.

Imports nothing of ours: both the model (`dag_model.py`) and the widget use it.
"""

from __future__ import annotations

from typing import Literal, TypedDict

# The commands the page sends; the widget answers each with its handler (`widget.COMMANDS`).
CommandName = Literal[
    "hello",  # send me everything
    "refresh",  # re-read the graph and the files on disk
    "details",  # what the details panel shows about `job`
    "expand",  # draw the group `job` (its key) job by job
    "focus",  # show only `job` and what is up- and downstream of it
    "show_all",  # no focus, no group expanded
    "run",  # run `job` (a job, or a group's key: all its members) and its upstream
    "rerun",  # invalidate `job`, then run it
    "invalidate",  # make `job` run on the next run
    "run_all",  # run every job that must run
]


class _Command(TypedDict):
    cmd: CommandName
    req: int


class Command(_Command, total=False):
    """Page -> kernel: `job` is a job id or a group's key (`group:<pattern>`)."""

    job: str


class _Status(TypedDict):
    type: Literal["status"]
    full: bool
    states: dict[str, str]


class Status(_Status, total=False):
    """Kernel -> page: job id -> state code, every job's (`full`) or those that changed;
    with a full status, each job's last duration as shown."""

    durations: dict[str, str]


class ValuePreview(TypedDict):
    """A value job's value in short (`value_preview.py`)."""

    type: str
    shape: str
    repr: str


class Details(TypedDict):
    """What the details panel shows about one job (the answer to `details`)."""

    job: str
    label: str
    kind: str
    state: str
    outputs: list[str]
    upstream: list[str]
    downstream: list[str]
    last_run: str
    duration: str
    why: str
    reads: list[str]
    modules: list[str]
    traceback: str
    log_tail: str
    value: ValuePreview | None
    cell_id: str
    execution_count: int | None


class Answer(TypedDict, total=False):
    """What a command that succeeded says: a message for the user, the details asked for."""

    message: str
    details: Details


class _Reply(TypedDict):
    type: Literal["reply"]
    req: int | None
    cmd: str
    ok: bool


class Reply(_Reply, Answer, total=False):
    """Kernel -> page: the answer to one command (`req`, as the command said); `error`
    when not `ok`."""

    error: str


class Notice(TypedDict):
    """Kernel -> page: something the user did not ask for just now (a run ended)."""

    type: Literal["notice"]
    ok: bool
    text: str


# A drawn node: key (a job id, or `group:<pattern>`), label, kind, member job indices.
DrawnNode = tuple[str, str, str, list[int]]


class Graph(TypedDict):
    """Trait `graph`: the picture. Node `n<i>` of the DOT is `nodes[i]`; `jobs` and
    `edges` are every job shown (the page searches, links and moves with them)."""

    dot: str
    nodes: list[DrawnNode]
    jobs: list[tuple[str, str, str]]  # job id, label, kind
    edges: list[tuple[int, int]]  # job indices: upstream, downstream
    focus: str | None


class Progress(TypedDict):
    """Trait `progress`: the run going on (running: at most the workers' cores, the rest
    sent to them is queued), or the last run's counts (`tally`, `RunResult.tally`)."""

    active: bool
    what: str
    total: int
    done: int
    running: int
    queued: int
    failed: int
    tally: str


class Words(TypedDict):
    """Trait `words`: what a state code's health ("ok", "none", ...) and mark ("*": must
    run, "?": may run) are called (`status.CODE_WORDS`, in the legend's order) and what
    they mean (`status.CODE_MEANINGS`: the details panel, the legend's tooltips). A code is
    said as its health's words, then "; " and its mark's."""

    words: dict[str, str]
    meanings: dict[str, str]


class Traits(TypedDict):
    """The widget's synced traits."""

    graph: Graph
    progress: Progress
    title: str
    words: Words
