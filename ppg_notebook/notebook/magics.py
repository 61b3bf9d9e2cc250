"""The IPython magics: `%%ppg_job` and the `%ppg_*` line magics. Parse, declare, delegate.

Declaring and running is `kernel.NotebookPipeline`'s; what is shown is
`display`'s. Bad input becomes a UsageError (one clear message, no traceback); a
job that fails is raised as the user's own exception, rendered with the user's own lines.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.display import display

from .. import current, housekeeping
from ..background import runs_of
from ..errors import PipelineError
from ..events import Outcome
from ..pool import LokyWorkers
from ..progress import LiveProgress
from ..session import new_pipeline
from ..warmup import Warmer
from . import export, options
from .display import StatusTable, failure_lines, summary
from .kernel import NotebookPipeline, RunReport

F = TypeVar("F", bound=Callable[..., Any])


def grammar(magic: str) -> Callable[[F], F]:
    """The arguments of `magic` (options.py) as IPython's `@argument`s, which give the
    magic its help text (`%%ppg_job?`); below `@magic_arguments()`."""

    def add(fn: F) -> F:
        for flags, settings in reversed(options.GRAMMAR[magic]):
            fn = argument(*flags, **settings)(fn)
        return fn

    return add


@contextlib.contextmanager
def bad_options() -> Iterator[None]:
    """Options that cannot be read (options.py) are a UsageError: one line, no traceback."""
    try:
        yield
    except options.OptionsError as e:
        raise UsageError(str(e)) from None


@magics_class
class PipelineMagics(Magics):
    """The magics of `%load_ext ppg_notebook`; one pipeline per kernel."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self._notebook: NotebookPipeline | None = None

    @property
    def _shell(self) -> Any:
        """The shell the magics were loaded into (IPython types `shell` as optional)."""
        return self.shell

    @property
    def notebook(self) -> NotebookPipeline:
        """The kernel's one pipeline, shared with the plain API (`ppg.FileGeneratingJob`
        and friends): the current one, or one created in `.ppg/` of the current directory
        on first use. After `ppg.new_pipeline()` in the kernel, the magics use that one."""
        pipeline = current.peek()
        if self._notebook is None or (
            pipeline is not None and pipeline is not self._notebook.pipeline
        ):
            if pipeline is not None:
                pipeline.allow_redefinition = True  # (cells are executed again and again)
            self._notebook = NotebookPipeline(pipeline)
        return self._notebook

    def _workers(self) -> Any:
        """The workers the kernel's pipeline uses (before it exists: those it will use,
        the loky pool of the default size; the pipeline is created on first use, in the
        directory the kernel is in then)."""
        pipeline = self._notebook.pipeline if self._notebook else current.peek()
        return pipeline.workers if pipeline is not None else LokyWorkers(os.cpu_count() or 1)

    def _busy(self) -> bool:
        pipeline = self._notebook.pipeline if self._notebook else current.peek()
        return pipeline is not None and runs_of(pipeline).busy

    def _reserved(self) -> set[str]:
        magics = self._shell.magics_manager.magics
        return {*magics["line"], *magics["cell"], *self._shell.user_ns_hidden}

    # --- %%ppg_job -------------------------------------------------------------------
    @magic_arguments()
    @grammar("ppg_job")
    @cell_magic
    def ppg_job(self, line: str, cell: str) -> Any:
        """Declare the cell body as a job of the kernel's pipeline, then run it.

        Without --out the job's value is the body's variable NAME, else its last
        expression; after the run NAME holds it. With --values A B, the job keeps the
        body's variables A and B instead, each bound after the run and each a dependency
        of its own for later bodies that read it. With --out, `out` is the output Path (a
        list for several) inside the body. Names of other jobs the body reads are
        dependencies, bound to their values (or output paths).
        """
        with bad_options():
            args = options.JobOptions.parse(line)
        notebook = self.notebook
        try:
            declared = notebook.declare(
                args.name,
                cell,
                namespace=self._shell.user_ns,
                outs=args.out,
                values=args.values,
                deps=args.deps,
                cores=args.cores,
                reserved=self._reserved(),
            )
        except PipelineError as e:
            raise UsageError(str(e)) from None
        declared.cell_id, declared.execution_count = self._cell_of_execution()
        for note in declared.notes:
            print(note)
        if args.no_run:
            print(f"ppg: declared {args.name}; run it with %ppg_run {args.name}")
            return None
        with notebook.pipeline.code.holding():  # what it reads was looked at just now
            report = self._run([args.name])
        outcome = report.result.outcomes.get(declared.job.job_id)
        if declared.shows_result and outcome in (Outcome.RAN, Outcome.UP_TO_DATE):
            return self._shell.user_ns[args.name]
        return None

    def _cell_of_execution(self) -> tuple[str, int | None]:
        """The executing cell: the id JupyterLab 4 and Notebook 7 send in the request's
        metadata, and the count its prompt shows."""
        kernel: Any = getattr(self.shell, "kernel", None)
        parent = kernel.get_parent() if hasattr(kernel, "get_parent") else {}
        cell_id = (parent or {}).get("metadata", {}).get("cellId", "")
        count = getattr(self.shell, "execution_count", None)  # (already the next cell's)
        return str(cell_id or ""), count - 1 if isinstance(count, int) else None

    # --- line magics -----------------------------------------------------------------
    @magic_arguments()
    @grammar("ppg_run")
    @line_magic
    def ppg_run(self, line: str) -> None:
        """Run the named jobs and what they depend on (all jobs without names)."""
        with bad_options():
            args = options.parse("ppg_run", line)
        if args.background:
            self._run_background(args.names)
            return
        self._run(args.names)

    @line_magic
    def ppg_dag(self, line: str) -> Any:
        """Show the pipeline as a live graph: states, details, Run / Rerun / Invalidate."""
        if line.strip():
            msg = "%ppg_dag takes no arguments"
            raise UsageError(msg)
        # Imported here, not at the top: anywidget costs ~0.2 s, paid only by who shows it.
        from ..widget import PipelineWidget

        try:
            return PipelineWidget(notebook=self.notebook, namespace=self._shell.user_ns)
        except PipelineError as e:
            raise UsageError(str(e)) from None

    @line_magic
    def ppg_status(self, line: str) -> StatusTable:
        """Every job: its state, why it must run, when it last ran and for how long."""
        if line.strip():
            msg = "%ppg_status takes no arguments"
            raise UsageError(msg)
        try:
            return StatusTable(self.notebook.status())
        except PipelineError as e:
            raise UsageError(str(e)) from None

    @line_magic
    def ppg_du(self, line: str) -> None:
        """Space each job of the kernel's pipeline takes, biggest first."""
        if line.strip():
            msg = "%ppg_du takes no arguments"
            raise UsageError(msg)
        try:
            found = housekeeping.usage(self.notebook.pipeline.dir)
        except PipelineError as e:
            raise UsageError(str(e)) from None
        print("\n".join(housekeeping.usage_lines(found, limit=50)))

    @magic_arguments()
    @grammar("ppg_gc")
    @line_magic
    def ppg_gc(self, line: str) -> None:
        """Remove what the jobs this kernel's last run did not declare left behind (run the
        whole notebook first, so that every job is declared)."""
        with bad_options():
            args = options.parse("ppg_gc", line)
        try:
            done = housekeeping.collect(
                self.notebook.pipeline.dir,
                dry_run=args.dry_run,
                older_than=args.older_than,
                outputs=args.outputs,
            )
        except PipelineError as e:
            raise UsageError(str(e)) from None
        print("\n".join(housekeeping.collected_lines(done)))

    @magic_arguments()
    @grammar("ppg_why")
    @line_magic
    def ppg_why(self, line: str) -> None:
        """Say whether the job will run on the next run, and why."""
        with bad_options():
            args = options.parse("ppg_why", line)
        try:
            print(self.notebook.why(args.name))
        except PipelineError as e:
            raise UsageError(str(e)) from None

    @magic_arguments()
    @grammar("ppg_invalidate")
    @line_magic
    def ppg_invalidate(self, line: str) -> None:
        """Make jobs run again next time (their dependants rerun if the output changes)."""
        with bad_options():
            args = options.parse("ppg_invalidate", line)
        try:
            ids = self.notebook.invalidate(args.names)
        except PipelineError as e:
            raise UsageError(str(e)) from None
        shown = ", ".join(self.notebook.display_name(i) for i in ids)
        print(f"ppg: invalidated {shown}: next %ppg_run, or executing the cell, runs it again")

    @magic_arguments()
    @grammar("ppg_export")
    @line_magic
    def ppg_export(self, line: str) -> None:
        """Write the cells executed in this kernel as a plain script declaring the same jobs.

        Setup cells (imports, parameters, functions) are kept, each job cell as it was last
        executed; run after the notebook, the script recomputes nothing.
        """
        with bad_options():
            args = options.parse("ppg_export", line)
        history = self._shell.history_manager.input_hist_raw[1:]
        script = export.export(export.history_cells(history), results=args.results)
        try:
            with open(args.path, "w", encoding="utf-8") as f:
                f.write(script.text)
        except OSError as e:
            msg = f"cannot write {args.path}: {e.strerror or e}"
            raise UsageError(msg) from None
        for note in script.notes:
            print(f"note: {note}")
        print(f"ppg: wrote {args.path} ({len(script.jobs)} jobs); run it with python {args.path}")

    @magic_arguments()
    @grammar("ppg_new")
    @line_magic
    def ppg_new(self, line: str) -> None:
        """Start a new pipeline for this kernel (jobs declared so far are left behind)."""
        with bad_options():
            args = options.NewOptions.parse(line)
        try:
            pipeline = new_pipeline(
                dir=args.dir,
                cores=args.cores,
                backend=args.backend,
                scheduler=args.scheduler,
                allow_redefinition=True,
                track=args.track,
            )
        except (ValueError, PipelineError) as e:
            raise UsageError(str(e)) from None
        self._notebook = NotebookPipeline(pipeline)
        print(f"ppg: new pipeline in {pipeline.dir} ({pipeline.cores} cores, {args.backend})")

    # --- running and showing ---------------------------------------------------------
    def _run(self, names: list[str]) -> RunReport:
        notebook = self.notebook
        runs = runs_of(notebook.pipeline)
        if runs.busy:
            msg = (
                f"a background run is in progress ({runs.what}); wait until it has finished "
                f"(%ppg_dag shows its progress), then run again"
            )
            raise UsageError(msg)
        try:
            targets = notebook.resolve(names) if names else []
            with LiveProgress(
                notebook.pipeline, notebook.display_name, targets, _progress_line(), _append
            ) as progress:
                report = notebook.run(names)
        except PipelineError as e:
            raise UsageError(str(e)) from None
        result = report.result
        for job_id, log in result.logs.items():
            shown = progress.streamed.get(job_id)
            if shown is not None:
                log = _after(log, shown)
                if not log:
                    continue  # all of it was shown while it ran
            elif job_id not in report.targets:
                print(f"--- output of {notebook.display_name(job_id)} ---")
            print(log, end="" if log.endswith("\n") else "\n")
        notebook.bind(report, self._shell.user_ns)
        if report.failure is not None:
            _raise_failure(notebook, report)
        values = {
            job_id
            for job_id in report.targets
            if (cell := notebook.cell_of(job_id)) is not None and not cell.is_file
        }
        progress.end(summary(result, report.targets, notebook.display_name, values))
        return report

    def _run_background(self, names: list[str]) -> None:
        notebook = self.notebook
        namespace = self._shell.user_ns
        try:
            notebook.resolve(names)  # unknown names are refused now, not in the thread

            def done(report: RunReport | None, error: BaseException | None) -> None:
                if report is None:
                    print(f"ppg: the background run failed: {type(error).__name__}: {error}")
                    return
                notebook.bind(report, namespace)
                line = summary(report.result, report.targets, notebook.display_name)
                print(f"ppg: the background run finished: {line.removeprefix('ppg: ')}")
                for job_id, error in report.result.errors.items():
                    name = notebook.display_name(job_id)
                    print(f"  {name} failed: {type(error).__name__}: {error}")

            what = " ".join(["%ppg_run --background", *names])
            runs_of(notebook.pipeline).start(lambda: notebook.run(names), what, done)
        except PipelineError as e:
            raise UsageError(str(e)) from None
        print("ppg: running in the background; the notebook stays usable (%ppg_dag shows progress)")


def _progress_line() -> Any:
    """Show a line in the cell's output, replaced by each later one ("" clears it)."""
    handle = None

    def show(text: str) -> None:
        nonlocal handle
        if handle is None:
            if text:
                handle = display({"text/plain": text}, raw=True, display_id=True)
        else:
            handle.update({"text/plain": text}, raw=True)

    return show


def _append(text: str) -> None:
    print(text, end="", flush=True)


def _after(log: str, shown: str) -> str:
    """What of a job's log (its tail) was not shown while it ran: the log after its
    longest start that ends what was shown."""
    cut = min(len(log), len(shown))
    while cut and not shown.endswith(log[:cut]):
        cut = log.rfind(shown[-1], 0, cut - 1) + 1  # (only where the last character is)
    return log[cut:]


def _raise_failure(notebook: NotebookPipeline, report: RunReport) -> None:
    """Raise the failed job's own exception, shown as its traceback in the user's lines."""
    result = report.result
    failed = list(result.errors)
    cause = ""
    if len(report.targets) == 1 and report.targets[0] not in result.errors:
        cause = f"{notebook.display_name(report.targets[0])} did not run"
    lines: list[str] = []
    for job_id in failed:
        if lines:
            lines.append("")
        label = repr(notebook.display_name(job_id))
        lines.extend(failure_lines(job_id, label, result, cause))
    error = result.errors[failed[0]]
    lines.extend(["", summary(result, report.targets, notebook.display_name)])
    try:
        error._render_traceback_ = lambda: lines  # type: ignore[attr-defined]
    except AttributeError:
        raise UsageError("\n".join(lines)) from None
    raise error


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext ppg_notebook`: register the magics; jobs declared with the plain API
    from now on join the kernel's pipeline (the one the magics use)."""
    magics = PipelineMagics(ipython)
    ipython.register_magics(magics)
    current.set_factory(lambda: magics.notebook.pipeline)
    warmer = Warmer(magics._workers, magics._busy)
    warmer.start()
    ipython.events.register("post_run_cell", warmer.after_cell)
