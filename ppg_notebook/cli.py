"""`ppg-notebook`: a notebook's pipeline from the terminal (run, status, du, gc, export).

A thin layer over notebook/export.py and notebook/script.py: `run`, `status`, `du` and `gc`
turn the notebook into the script `export` would write and execute its setup cells and job
declarations in this process as a kernel started for the notebook would (in its directory,
with that directory on `sys.path`), so that the jobs are the notebook's own. Bad input is
one line on stderr and exit status 2; a failed job is exit status 1.

`status` with a notebook says what would run and why. Without one it reports what the
history in `--dir` knows (each job's last outcome, when and how long) and whether the
outputs each job wrote are still as written; whether code or inputs changed can only be
told from the notebook.
"""

from __future__ import annotations

import argparse
import builtins
import linecache
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import housekeeping, ids, status
from .errors import PipelineError
from .events import Event, Outcome
from .facts import recorded_outputs_problem
from .history import History
from .notebook.display import StatusTable, failed_why, seconds, uses, when
from .notebook.export import RESULTS, ExportError, Script, export, notebook_cells
from .notebook.script import CellJobs
from .progress import RunEvents
from .records import Record

_PACKAGE_DIRS = ("site-packages", "dist-packages")


class CommandError(Exception):
    """What the user asked cannot be done; the message is shown as one line."""


# --- reading a notebook ----------------------------------------------------------------
def read_notebook(path: str, results: str = "omit") -> Script:
    notebook = Path(path)
    if notebook.suffix != ".ipynb":
        msg = f"{path}: expected a Jupyter notebook (.ipynb)"
        raise CommandError(msg)
    try:
        text = notebook.read_text(encoding="utf-8")
    except OSError as e:
        msg = f"cannot read {path}: {e.strerror or e}"
        raise CommandError(msg) from None
    try:
        return export(notebook_cells(text), title=notebook.name, results=results)
    except ExportError as e:
        raise CommandError(f"{path}: {e}") from None


def load_jobs(path: str, script: Script) -> CellJobs:
    """Execute the notebook's setup cells and job declarations as the notebook's kernel
    would: in its directory, which is also where its own modules are imported from."""
    folder = Path(path).resolve().parent
    os.chdir(folder)
    importing_from(str(folder))
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    filename = f"{path} (exported)"
    # Job functions are read back from their source (notebook/jobdefs.py): keep it where `inspect`
    # looks (no modification time: linecache then never drops it as a stale file).
    lines = script.declarations.splitlines(keepends=True)
    linecache.cache[filename] = (len(script.declarations), None, lines, filename)
    try:
        code = compile(script.declarations, filename, "exec", dont_inherit=True)
        exec(code, namespace)
    except Exception as e:
        msg = f"{path}: the notebook's setup code failed: {type(e).__name__}: {e}"
        raise CommandError(msg) from None
    return namespace[script.collector]


def importing_from(folder: str) -> None:
    """Put the notebook's folder on `sys.path` where a kernel started for it has its working
    directory: IPython puts `''` before the first `site-packages` (after the standard library),
    unless `''` is there already or Python runs with `-P` (`PYTHONSAFEPATH`). A `utils.py`
    beside the notebook is then `import utils`, here and in the workers (which get this
    process's `sys.path` with every run)."""
    if getattr(sys.flags, "safe_path", False) or "" in sys.path or folder in sys.path:
        return
    at = next(
        (i for i, p in enumerate(sys.path) if os.path.basename(p) in _PACKAGE_DIRS),
        0,
    )
    sys.path.insert(at, folder)


def without_launch_directory() -> None:
    """`python -m ppg_notebook` puts the directory it was started in first on `sys.path`; a
    kernel has not got it (ipykernel's launcher removes it), so that a module there does not
    stand in for one beside the notebook."""
    if getattr(sys.flags, "safe_path", False) or not sys.path:
        return
    if sys.path[0] == "" or Path(sys.path[0]) == Path.cwd():
        del sys.path[0]


# --- commands ------------------------------------------------------------------------
def run_command(args: argparse.Namespace, console: Console) -> int:
    script = read_notebook(args.notebook)
    defaults = script.defaults
    cells = load_jobs(args.notebook, script)
    progress = _RunProgress(console)
    with progress:
        status = cells.run(
            args.dir or defaults.dir,
            args.cores or defaults.cores,
            args.backend or defaults.backend,
            args.scheduler or defaults.scheduler,
            listener=progress.on_event,
        )
    if progress.failed:
        console.print(f"[red]failed:[/red] {', '.join(progress.failed)}", highlight=False)
    return status


def _declared_by(args: argparse.Namespace) -> tuple[str, set[str] | None]:
    """The pipeline directory, and the jobs that count as declared: all the notebook's
    (declared without running anything) when one is given, else None (the last run's)."""
    if not args.notebook:
        return args.dir or ".ppg", None
    script = read_notebook(args.notebook)
    cells = load_jobs(args.notebook, script)
    try:
        notebook = cells.declare(args.dir or script.defaults.dir, 1, script.defaults.backend)
    except (PipelineError, ValueError) as e:
        raise CommandError(str(e)) from None
    return notebook.pipeline.dir, set(notebook.pipeline.jobs)


def status_command(args: argparse.Namespace, console: Console) -> int:
    if args.notebook:
        script = read_notebook(args.notebook)
        cells = load_jobs(args.notebook, script)
        ppg_dir = args.dir or script.defaults.dir
        try:
            notebook = cells.declare(ppg_dir, 1, script.defaults.backend)
            rows = notebook.status()
        except (PipelineError, ValueError) as e:
            raise CommandError(str(e)) from None
        _print_status(console, rows, f"pipeline in {notebook.pipeline.dir}")
        return 0
    ppg_dir = Path(args.dir or ".ppg")
    if not (ppg_dir / "history").exists():
        msg = f"no pipeline history in {ppg_dir}/ (run the pipeline first, or pass --dir)"
        raise CommandError(msg)
    try:
        history = History(str(ppg_dir / "history"))
        records = history.load()
    except PipelineError as e:
        raise CommandError(str(e)) from None
    stored = os.path.join(os.path.abspath(ppg_dir), "cache")
    rows = [
        _history_row(job_id, record, stored, history)
        for job_id, record in sorted(records.items())
        if not ids.is_invariant(job_id)
    ]
    note = "from the history only (outputs checked; pass the notebook to check code and inputs)"
    _print_status(console, rows, note)
    return 0


def _history_row(job_id: str, record: Record, stored: str, history: History) -> dict[str, Any]:
    """A job's row as far as its record tells: its last outcome, and whether the outputs
    it wrote are still there as written."""
    outcomes = {"ok": status.SUCCEEDED, "failed": status.FAILED}
    state = outcomes.get(record.get("o", ""), status.MUST_RUN)
    why = record.get("e", "") if state == status.FAILED else ""
    if state == status.SUCCEEDED:
        problem = recorded_outputs_problem(record, stored)
        if problem:
            state, why = status.MUST_RUN, problem
    return {
        "job": job_id,
        "kind": "",
        "state": state,
        "why": why,
        "last_run": record.get("t"),
        "duration": record.get("d"),
        "error": record.get("e", ""),
        "reads": sorted(record.get("r", ())),
        "modules": history.modules(record),
    }


def export_command(args: argparse.Namespace, console: Console) -> int:
    script = read_notebook(args.notebook, results=args.results)
    output = Path(args.output)
    try:
        output.write_text(script.text, encoding="utf-8")
    except OSError as e:
        msg = f"cannot write {output}: {e.strerror or e}"
        raise CommandError(msg) from None
    for note in script.notes:
        console.print(f"note: {note}", highlight=False, markup=False)
    console.print(f"wrote {output} ({len(script.jobs)} jobs)", highlight=False, markup=False)
    return 0


def _print_status(console: Console, rows: list[dict[str, Any]], caption: str) -> None:
    if not rows:
        console.print(repr(StatusTable([])))
        return
    table = Table(caption=caption)
    for column in ("job", "state", "why", "uses", "last run", "duration"):
        table.add_column(column, overflow="fold")
    colours = {
        status.UP_TO_DATE: "green",
        status.SUCCEEDED: "green",
        status.FAILED: "red",
        status.MUST_RUN: "yellow",
    }
    for row in rows:
        state = row["state"]
        colour = colours.get(state, "")
        shown = f"[{colour}]{state}[/{colour}]" if colour else state
        last_run = when(row.get("last_run"))
        duration = seconds(row["duration"])
        table.add_row(row["job"], shown, failed_why(row), uses(row), last_run, duration)
    console.print(table)


class _RunProgress:
    """A live progress bar of a run, fed by the pipeline's events."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task = self.progress.add_task("ppg", total=None)
        self.events = RunEvents()

    @property
    def failed(self) -> list[str]:
        return self.events.failed

    def __enter__(self) -> _RunProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def on_event(self, event: Event) -> None:
        self.events.feed(event)
        if event.kind == "run_started":
            self.progress.update(self.task, total=event.data)
        elif event.kind == "done" and event.data is Outcome.RAN:
            self.progress.console.print(f"ran {event.job_id}", highlight=False, markup=False)
        running = list(self.events.running)
        shown = ", ".join(running[:3]) + (" ..." if len(running) > 3 else "")
        self.progress.update(
            self.task,
            completed=self.events.done,
            description=f"running {shown}" if shown else "ppg",
        )


# --- the command line ------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="ppg-notebook",
        description="Run, inspect and export the pipeline of a notebook's %%ppg_job cells.",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="run a notebook's pipeline headless",
        description="Run what must run of a notebook's jobs (its setup cells run first), in "
        "the notebook's directory and importing the modules beside it, as its kernel would, "
        "with a progress display. Exit status 1 if a job failed.",
    )
    run.add_argument("notebook", metavar="NOTEBOOK.ipynb")
    run.add_argument("--cores", type=int, help="worker processes (default: the notebook's)")
    run.add_argument("--dir", help="state directory, relative to the notebook (default: .ppg)")
    run.add_argument("--backend", help="execution backend: loky (default) or dask")
    run.add_argument("--scheduler", help="dask scheduler address, with --backend dask")
    status = commands.add_parser(
        "status",
        help="each job's state, why it must run, last duration",
        description="A table of the jobs: their state, why they must run, when they last "
        "ran and for how long. With a notebook, what the next run would do and why; without "
        "one, what the history in --dir records.",
    )
    status.add_argument("notebook", nargs="?", metavar="NOTEBOOK.ipynb")
    status.add_argument(
        "--dir", help="state directory (default: .ppg; relative to the notebook, if one is given)"
    )
    exporting = commands.add_parser(
        "export",
        help="write a notebook's pipeline as a plain Python script",
        description="Write a standalone script with the notebook's setup code and jobs; it "
        "shares results with the notebook (same jobs, same fingerprints).",
    )
    exporting.add_argument("notebook", metavar="NOTEBOOK.ipynb")
    exporting.add_argument("-o", "--output", required=True, metavar="SCRIPT.py")
    exporting.add_argument(
        "--results",
        choices=RESULTS,
        default="omit",
        help="cells that are neither jobs nor setup: left out (default) or kept as comments",
    )
    du = commands.add_parser(
        "du",
        help="space used per job, biggest first",
        description="Space each job takes (stored value, log, error file, outputs, history "
        "record), biggest first, marking the jobs the most recent run did not declare.",
    )
    _declared_options(du)
    gc = commands.add_parser(
        "gc",
        help="remove what jobs no longer declared left behind",
        description="Remove the stored values, logs, error files and history records of the "
        "jobs that the most recent run did not declare (never anything of a declared job). "
        "Run the whole pipeline (or notebook) first, so that it declares all its jobs.",
    )
    _declared_options(gc)
    gc.add_argument("--dry-run", action="store_true", help="say what would be removed")
    gc.add_argument(
        "--older-than", type=float, metavar="DAYS", help="only jobs that last ran before that"
    )
    gc.add_argument("--outputs", action="store_true", help="their output files too")
    return top


def _declared_options(command: argparse.ArgumentParser) -> None:
    """du's and gc's: which jobs count as declared, and where the pipeline is."""
    command.add_argument(
        "notebook",
        nargs="?",
        metavar="NOTEBOOK.ipynb",
        help="count all of the notebook's jobs as declared (not only the last run's)",
    )
    command.add_argument(
        "--dir", help="state directory (default: .ppg; relative to the notebook, if one is given)"
    )


def du_command(args: argparse.Namespace, console: Console) -> int:
    ppg_dir, declared = _declared_by(args)
    try:
        found = housekeeping.usage(ppg_dir, declared)
    except PipelineError as e:
        raise CommandError(str(e)) from None
    for line in housekeeping.usage_lines(found):
        console.print(line, markup=False)
    return 0


def gc_command(args: argparse.Namespace, console: Console) -> int:
    ppg_dir, declared = _declared_by(args)
    try:
        done = housekeeping.collect(
            ppg_dir,
            dry_run=args.dry_run,
            older_than=args.older_than,
            outputs=args.outputs,
            declared=declared,
        )
    except PipelineError as e:
        raise CommandError(str(e)) from None
    for line in housekeeping.collected_lines(done):
        console.print(line, markup=False)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    console = Console(highlight=False)
    commands = {
        "run": run_command,
        "status": status_command,
        "export": export_command,
        "du": du_command,
        "gc": gc_command,
    }
    try:
        return commands[args.command](args, console)
    except CommandError as e:
        print(f"ppg-notebook: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ppg-notebook: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    without_launch_directory()
    sys.exit(main())
