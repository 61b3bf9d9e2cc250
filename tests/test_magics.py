"""The magics through a real in-process IPython shell; jobs run in real loky workers."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

from ppg_notebook import PipelineWarning
from ppg_notebook.notebook.body import free_names
from ppg_notebook.notebook.display import StatusTable


class Shell:
    """The test's view of the shell: run cells, read what they printed and what ran."""

    def __init__(self, ip: Any, capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
        self.ip = ip
        self.capsys = capsys
        self.workdir = workdir
        self._seen = 0

    def run(self, source: str) -> Any:
        """Execute a cell; returns IPython's ExecutionResult (error_in_exec on failure)."""
        self.capsys.readouterr()
        result = self.ip.run_cell(source.strip() + "\n", store_history=True)
        self.output = self.capsys.readouterr()
        return result

    def ok(self, source: str) -> str:
        result = self.run(source)
        assert result.error_in_exec is None, (result.error_in_exec, self.output)
        assert result.error_before_exec is None, result.error_before_exec
        return self.output.out

    def ran(self) -> list[str]:
        """Job bodies that executed since the last call (they call mark(NAME))."""
        log = self.workdir / "runs.log"
        lines = log.read_text().splitlines() if log.exists() else []
        new, self._seen = lines[self._seen :], len(lines)
        return sorted(new)

    @property
    def ns(self) -> dict[str, Any]:
        return self.ip.user_ns

    @property
    def pipeline(self) -> Any:
        return self.ip.magics_manager.registry["PipelineMagics"].notebook.pipeline


@pytest.fixture
def sh(
    ip: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Shell]:
    monkeypatch.chdir(tmp_path)
    before = set(ip.user_ns)
    shell = Shell(ip, capsys, tmp_path)
    shell.ok("%ppg_new --dir .ppg --cores 2")
    shell.ok(
        "def mark(name):\n    with open('runs.log', 'a') as f:\n        f.write(name + '\\n')\n"
    )
    yield shell
    for name in set(ip.user_ns) - before:
        del ip.user_ns[name]


# --- value jobs ------------------------------------------------------------------------
def test_value_job_binds_its_name_and_an_unchanged_cell_computes_nothing(sh: Shell) -> None:
    # raw -> total: `total` names `raw`, so it depends on it and reads its value
    sh.ok("factor = 10")
    out = sh.ok("%%ppg_job raw\nmark('raw')\nraw = [1, 2, 3]")
    assert "raw ran (it has never run)" in out
    sh.ok("%%ppg_job total\nmark('total')\ntotal = sum(x * factor for x in raw)")
    assert sh.ns["total"] == 60
    assert sh.ran() == ["raw", "total"]

    del sh.ns["total"]
    out = sh.ok("%%ppg_job total\nmark('total')\ntotal = sum(x * factor for x in raw)")
    assert "total is up to date - loaded the stored value" in out
    assert sh.ns["total"] == 60
    assert sh.ran() == []


def test_the_last_expression_is_the_value_and_is_shown(sh: Shell) -> None:
    out = sh.ok("%%ppg_job squares\nmark('squares')\n[n * n for n in range(4)]")
    assert sh.ns["squares"] == [0, 1, 4, 9]
    assert "[0, 1, 4, 9]" in out
    out = sh.ok("%%ppg_job quiet\nquiet = 5\nprint('done')")
    assert "done" in out
    assert "Out[" not in out


def test_comments_docstrings_and_blank_lines_do_not_rerun(sh: Shell) -> None:
    sh.ok("def helper(x):\n    return x + 1")
    sh.ok("%%ppg_job value\nmark('value')\nvalue = helper(1)")
    sh.ok('def helper(x):\n    """Adds one."""\n    # really\n\n    return x + 1')
    sh.ok("%%ppg_job value\n# a comment\n\nmark('value')  # marks\nvalue = helper(1)")
    assert sh.ran() == ["value"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        # a plain global the body reads
        ("factor = 3", ["scaled"]),
        # a global read by a helper of a helper
        ("offset = 7", ["scaled"]),
        # the inner helper, which the body never names
        ("def inner(x):\n    return x - offset", ["scaled"]),
        # a method of a notebook class
        ("class Scaler:\n    def apply(self, x):\n        return x * factor * 2", ["scaled"]),
        # an unrelated global
        ("unrelated = 1", []),
        # the same value again
        ("factor = 2", []),
    ],
)
def test_globals_and_notebook_functions_are_fingerprinted(
    sh: Shell, edit: str, expected: list[str]
) -> None:
    # scaled reads: factor, outer -> inner -> offset, Scaler.apply -> factor
    sh.ok("factor = 2\noffset = 1\nunrelated = 0")
    sh.ok("def inner(x):\n    return x + offset")
    sh.ok("def outer(x):\n    return inner(x)")
    sh.ok("class Scaler:\n    def apply(self, x):\n        return x * factor")
    body = "%%ppg_job scaled\nmark('scaled')\nscaled = [Scaler().apply(outer(x)) for x in range(3)]"
    sh.ok(body)
    first = sh.ns["scaled"]
    assert sh.ran() == ["scaled"]
    sh.ok(edit)
    sh.ok(body)
    assert sh.ran() == expected
    if not expected:
        assert sh.ns["scaled"] == first


def test_a_changed_global_is_named_by_why_and_status(sh: Shell) -> None:
    sh.ok("factor = 2")
    sh.ok("%%ppg_job scaled --no-run\nscaled = factor * 2")
    sh.ok("%ppg_run scaled")
    sh.ok("factor = 3")
    sh.ok("%%ppg_job scaled --no-run\nscaled = factor * 2")
    out = sh.ok("%ppg_why scaled")
    assert "'scaled' will run: parameter 'scaled:factor' changed" in out
    table = sh.ip.run_line_magic("ppg_status", "")
    assert isinstance(table, StatusTable)
    assert "must run" in repr(table)
    assert "<table" in table._repr_html_()
    assert "parameter &#x27;scaled:factor&#x27; changed" in table._repr_html_()


# --- file jobs -------------------------------------------------------------------------
def test_quoted_paths_are_read_as_the_shell_reads_them(sh: Shell) -> None:
    sh.ok(
        "%%ppg_job spaced --out \"two words.txt\" 'it s.txt'\n"
        'a, b = out\na.write_text("a")\nb.write_text("b")'
    )
    assert Path("two words.txt").read_text() == "a"
    assert Path("it s.txt").read_text() == "b"
    result = sh.run('%%ppg_job broken --out "unclosed.txt\nout.write_text("x")')
    assert result.error_in_exec is not None or result.error_before_exec is not None
    assert "cannot read the options" in sh.output.err + sh.output.out


def test_file_jobs_get_out_and_their_name_stands_for_their_paths(sh: Shell) -> None:
    sh.ok("%%ppg_job numbers\nnumbers = [1, 2, 3]")
    sh.ok("%%ppg_job listing --out listing.txt\nmark('listing')\nout.write_text(str(numbers))")
    assert Path("listing.txt").read_text() == "[1, 2, 3]"
    assert sh.ns["listing"] == Path("listing.txt")
    sh.ok(
        "%%ppg_job halves --out a.txt b.txt\n"
        "mark('halves')\n"
        "a, b = out\n"
        "a.write_text(listing.read_text())\n"
        "b.write_text(str(len(numbers)))"
    )
    assert sh.ns["halves"] == [Path("a.txt"), Path("b.txt")]
    assert Path("a.txt").read_text() == "[1, 2, 3]"
    out = sh.ok("%ppg_why halves")
    assert "'halves (a.txt, b.txt)' is up to date" in out
    assert sh.ran() == ["halves", "listing"]
    sh.ok("%%ppg_job numbers\nnumbers = [4]")  # upstream changed: both downstream rerun
    sh.ok("%ppg_run")
    assert sh.ran() == ["halves", "listing"]
    assert Path("b.txt").read_text() == "1"


def test_deps_adds_input_files_and_jobs(sh: Shell) -> None:
    Path("input.txt").write_text("one")
    sh.ok("%%ppg_job first\nmark('first')\nfirst = 1")
    cell = (
        "%%ppg_job reader --deps input.txt first\nmark('reader')\nreader = open('input.txt').read()"
    )
    sh.ok(cell)
    assert sh.ns["reader"] == "one"
    sh.ok(cell)
    assert sh.ran() == ["first", "reader"]
    Path("input.txt").write_text("two")
    sh.ok(cell)
    assert sh.ns["reader"] == "two"
    assert sh.ran() == ["reader"]


def test_changing_a_cell_from_value_to_file_replaces_its_job(sh: Shell) -> None:
    sh.ok("%%ppg_job thing\nthing = 1")
    sh.ok("%%ppg_job thing --out thing.txt\nout.write_text('x')")
    ids = [r["job"] for r in sh.ip.run_line_magic("ppg_status", "").rows]
    assert ids == ["thing (thing.txt)"]
    assert (sh.workdir / "thing.txt").read_text() == "x"
    assert sh.ns["thing"] == Path("thing.txt")  # the name now stands for the file


def test_cores_reserves_cores_and_status_shows_the_last_run(sh: Shell) -> None:
    sh.ok("%%ppg_job heavy --cores 2\nimport time\ntime.sleep(0.05)\nheavy = 1")
    assert sh.pipeline.jobs["heavy"].cores_needed == 2
    [row] = sh.ip.run_line_magic("ppg_status", "").rows
    assert (row["job"], row["state"]) == ("heavy", "up to date")
    assert row["duration"] >= 0.05 and row["last_run"] is not None


def test_a_cell_whose_old_job_is_still_needed_can_be_declared_again_and_again(
    sh: Shell,
) -> None:
    sh.ok("limit = 2")
    sh.ok("%%ppg_job a --no-run\na = limit")
    sh.ok("%%ppg_job b --no-run\nb = a + 1")
    out = sh.ok("%%ppg_job a --out a.txt --no-run\nout.write_text('x')")
    assert "the previous job of 'a' (a) stays declared" in out
    sh.ok("%%ppg_job a --out a.txt --no-run\nout.write_text('y')")
    assert "a" in sh.pipeline.jobs and "a.txt" in sh.pipeline.jobs  # b still reads the old a
    sh.ok("%%ppg_job b --no-run\nb = 1")
    sh.ok("%ppg_run b")
    assert sh.ns["b"] == 1


# --- output and errors -----------------------------------------------------------------
def test_worker_output_is_shown_under_the_cell_and_kept_in_the_log(sh: Shell) -> None:
    out = sh.ok(
        "%%ppg_job chatty\nimport sys\nprint('hello from the worker')\n"
        "print('a warning', file=sys.stderr)\nchatty = 1"
    )
    assert "hello from the worker\na warning\n" in out
    logs = list((sh.workdir / ".ppg" / "logs").glob("chatty*"))
    assert logs
    assert "hello from the worker" in logs[0].read_text()
    out = sh.ok("%%ppg_job shows_upstream\nprint('down')\nshows_upstream = chatty")
    assert "--- output of" not in out  # chatty was up to date: nothing to show


def test_an_error_is_shown_with_the_users_own_lines(sh: Shell) -> None:
    sh.ok("%%ppg_job good\ngood = 41")
    sh.ok("def divide(x, by):\n    return x / by")
    result = sh.run("%%ppg_job bad\nmark('bad')\nvalues = [good, 0]\nbad = divide(1, values[1])")
    error = result.error_in_exec
    assert isinstance(error, ZeroDivisionError)
    text = "\n".join(error._render_traceback_())
    assert "job 'bad' failed in its worker process" in text
    assert 'File "<ppg_job bad>", line 3, in <module>' in text
    assert "bad = divide(1, values[1])" in text
    assert "return x / by" in text  # the helper's own line, from its cell
    assert "cellfunc.py" not in text and "ppg_notebook/worker" not in text
    # the same traceback, as kept in .ppg/errors/ (shown by the widget and the CLI)
    kept = next((sh.workdir / ".ppg" / "errors").glob("bad*")).read_text()
    assert 'Traceback (most recent call last):\n  File "<ppg_job bad>", line 3' in kept
    assert "cellfunc.py" not in kept and "ppg_notebook/worker" not in kept
    assert sh.ns["good"] == 41
    assert "bad" not in sh.ns
    out = sh.ok("%%ppg_job good\ngood = 41")
    assert "up to date" in out


def test_a_failed_upstream_is_shown_under_the_cell_that_needed_it(sh: Shell) -> None:
    sh.ok("%%ppg_job base --no-run\nbase = 1 / 0")
    result = sh.run("%%ppg_job top\ntop = base + 1")
    text = "\n".join(result.error_in_exec._render_traceback_())
    assert "top did not run: job 'base' failed in its worker process" in text
    assert "base = 1 / 0" in text


# --- bad input: a clear message, nothing else disturbed ----------------------------------
@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%ppg_job total --deps nope\ntotal = 1", "'nope' is not a known job (known jobs: "),
        ("%%ppg_job total --deps missing.csv\ntotal = 1", "no job writes that file"),
        ("%%ppg_job 2fast\nx = 1", "is not a valid Python identifier"),
        ("%%ppg_job sum\nsum = 1", "would shadow the Python builtin"),
        ("%%ppg_job timeit\ntimeit = 1", "already used by IPython"),
        ("%%ppg_job total\nx = 1", "neither assigns 'total' nor ends with an expression"),
        ("%%ppg_job total\ntotal = str(lock)", "reads the notebook global 'lock'"),
        ("%%ppg_job total\ntotal = use_lock()", "'lock' (a _thread.lock), which the notebook"),
        ("%%ppg_job total --out taken.txt\nout.write_text('x')", "job 'owner' already writes"),
        ("%%ppg_job other --out total\nout.write_text('x')", "would be known as 'total', which"),
        ("%%ppg_job total\ntotal = total + 1", "reads 'total' before assigning it"),
        ("%%ppg_job total\ntotal = (", "'(' was never closed"),
    ],
)
def test_bad_input_is_refused_before_anything_changes(sh: Shell, cell: str, message: str) -> None:
    sh.ok("import threading\nlock = threading.Lock()\ndef use_lock():\n    return str(lock)")
    sh.ok("%%ppg_job owner --out taken.txt\nout.write_text('mine')")
    sh.ok("%%ppg_job total\ntotal = 1")
    jobs = dict(sh.pipeline.jobs)
    producers = dict(sh.pipeline.producers)
    result = sh.run(cell)
    error = result.error_in_exec or result.error_before_exec
    assert isinstance(error, (UsageError, SyntaxError))
    assert message in str(error)
    assert sh.pipeline.jobs == jobs
    assert sh.pipeline.producers == producers
    out = sh.ok("%ppg_run")
    assert "nothing to do" in out
    assert sh.ns["total"] == 1


def test_unpicklable_global_message_says_how_to_pass_it(sh: Shell) -> None:
    sh.ok("import threading\nlock = threading.Lock()")
    error = sh.run("%%ppg_job total\ntotal = str(lock)").error_in_exec
    assert "cannot be sent to a worker process" in str(error)
    assert "Create it inside the job's body instead" in str(error)


# --- line magics -----------------------------------------------------------------------
def test_invalidate_then_run(sh: Shell) -> None:
    sh.ok("%%ppg_job a\nmark('a')\na = 1")
    sh.ok("%%ppg_job b\nmark('b')\nb = a + 1")
    assert sh.ran() == ["a", "b"]
    out = sh.ok("%ppg_invalidate a")
    assert "invalidated a" in out
    assert "'a' will run: it was invalidated" in sh.ok("%ppg_why a")
    out = sh.ok("%ppg_run")
    assert sh.ran() == ["a"]  # same output: b stays up to date
    assert "ran: a" in out


def test_no_run_declares_and_ppg_run_binds(sh: Shell) -> None:
    out = sh.ok("%%ppg_job later --no-run\nmark('later')\nlater = 3")
    assert "declared later" in out
    assert "later" not in sh.ns
    assert sh.ran() == []
    sh.ok("%ppg_run later")
    assert sh.ns["later"] == 3
    assert sh.ran() == ["later"]


def test_line_magics_refuse_unknown_names(sh: Shell) -> None:
    sh.ok("%%ppg_job known\nknown = 1")
    for line in ("%ppg_run nope", "%ppg_why nope", "%ppg_invalidate nope"):
        error = sh.run(line).error_in_exec
        assert isinstance(error, UsageError)
        assert "unknown job 'nope'; known jobs: known" in str(error)


def test_ppg_new_starts_another_pipeline(sh: Shell) -> None:
    sh.ok("%%ppg_job one\none = 1")
    out = sh.ok("%ppg_new --dir other --cores 1")
    assert "new pipeline in" in out and "1 cores" in out
    assert repr(sh.ip.run_line_magic("ppg_status", "")) == "no jobs declared yet"
    sh.ok("%%ppg_job one\nmark('one')\none = 1")
    assert (sh.workdir / "other" / "history").exists()
    assert sh.ran() == ["one"]
    error = sh.run("%ppg_new --backend carrier-pigeon").error_in_exec
    assert isinstance(error, UsageError)
    assert "unknown backend 'carrier-pigeon'" in str(error)


# --- cell analysis (pure) --------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "free"),
    [
        ("y = x + 1", ["x"]),
        ("x = x + 1", ["x"]),  # read before it is bound: the notebook's x
        ("x = 1\ny = x", []),
        ("x += 1", ["x"]),
        ("for i in items:\n    total = i", ["items"]),
        ("def f(a):\n    return a * k\nr = f(2)", ["k"]),
        ("def f():\n    return later\nlater = 1", []),  # bound by the body, read at call time
        ("r = [v * w for v in vs]", ["vs", "w"]),
        ("import math\nr = math.pi", []),
        ("class C:\n    size = base\nr = C()", ["base"]),
        ("r = (lambda q=d: q + e)()", ["d", "e"]),
        ("try:\n    pass\nexcept E as err:\n    r = err", ["E"]),
        ("if (n := count) > 1:\n    r = n", ["count"]),
    ],
)
def test_free_names(body: str, free: list[str]) -> None:
    assert sorted(free_names(ast.parse(body), body)) == sorted(free)


def test_a_module_on_a_path_added_after_the_workers_started_reaches_them(
    sh: Shell, tmp_path: Path
) -> None:
    sh.ok("%%ppg_job warm\nwarm = 1")  # the workers run now, with the sys.path of then
    lib = tmp_path / "later_lib"
    lib.mkdir()
    (lib / "later_helpers.py").write_text("def triple(x):\n    return 3 * x\n")
    sh.ok(f"import sys\nsys.path.insert(0, {str(lib)!r})\nfrom later_helpers import triple")
    try:
        sh.ok("%%ppg_job tripled\ntripled = triple(2)")
        assert sh.ns["tripled"] == 6
    finally:
        sh.ok(f"sys.path.remove({str(lib)!r})")
        sh.ok("sys.modules.pop('later_helpers', None)")


def test_a_global_changed_in_place_after_the_cell_reruns_its_job(sh: Shell) -> None:
    sh.ok("data = [1, 2]")
    sh.ok("%%ppg_job total\nmark('total')\ntotal = sum(data)")
    assert sh.ran() == ["total"]
    sh.ok("data.append(3)")  # no cell re-executed: the job's worker would get [1, 2, 3]
    out = sh.ok("%ppg_run total")
    assert sh.ran() == ["total"], out
    assert sh.ns["total"] == 6
    assert "parameter 'total:data' changed" in out


def test_a_module_the_body_imports_itself_is_followed(sh: Shell, tmp_path: Path) -> None:
    import os
    import sys

    module = tmp_path / "cellmod.py"
    module.write_text("def f(x):\n    return x + 1\n\n\ndef g(x):\n    return x\n")
    sys.path.insert(0, str(tmp_path))
    try:
        body = "%%ppg_job bumped\nmark('bumped')\nimport cellmod\nbumped = cellmod.f(1)"
        sh.ok(body)
        assert sh.ran() == ["bumped"] and sh.ns["bumped"] == 2
        module.write_text(module.read_text().replace("return x\n", "return -x\n"))
        os.utime(module, ns=(0, module.stat().st_mtime_ns + 10**9))
        sh.ok(body)  # g changed, which the job does not use
        assert sh.ran() == []
        module.write_text(module.read_text().replace("x + 1", "x + 2"))
        os.utime(module, ns=(0, module.stat().st_mtime_ns + 10**9))
        out = sh.ok(body)
        assert sh.ran() == ["bumped"] and sh.ns["bumped"] == 3, out
        assert "cellmod.f changed" in out
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("cellmod", None)


def test_a_failed_upstream_is_not_run_again_by_each_cell_that_depends_on_it(sh: Shell) -> None:
    sh.ok("threshold = -1")
    failing = (
        "%%ppg_job search\nmark('search')\n"
        "if threshold < 0:\n    raise ValueError('bad grid')\nsearch = 1"
    )
    assert sh.run(failing).error_in_exec is not None
    assert sh.ran() == ["search"]
    for name in ("best", "scores"):
        result = sh.run(f"%%ppg_job {name}\nmark('{name}')\n{name} = search + 1")
        assert result.error_in_exec is not None
        shown = sh.output.out + sh.output.err
        assert "ValueError: bad grid" in shown, shown
        assert "failed earlier in this session" in shown
        assert sh.ran() == []  # neither the search nor the cell ran again
    # Asked for itself, it runs again: the cell executed again, or %ppg_run NAME.
    assert sh.run(failing).error_in_exec is not None
    assert sh.ran() == ["search"]
    assert sh.run("%ppg_run search").error_in_exec is not None
    assert sh.ran() == ["search"]
    sh.ok("threshold = 1")  # fixed: the cell executed again picks up the new value
    sh.ok(failing)
    sh.ok("%ppg_run best")
    assert sh.ran() == ["best", "search"] and sh.ns["best"] == 2


def test_a_damaged_stored_value_of_a_cell_is_said_and_recomputed(sh: Shell) -> None:
    sh.ok("%%ppg_job raw\nmark('raw')\nraw = [1, 2, 3]")
    (stored,) = (sh.workdir / ".ppg" / "cache" / "values").glob("raw-*.joblib")
    st = stored.stat()
    stored.write_bytes(b"\x80\x04garbage" + b"\0" * (st.st_size - 9))  # size and time kept
    os.utime(stored, ns=(st.st_atime_ns, st.st_mtime_ns))
    del sh.ns["raw"]
    with pytest.warns(PipelineWarning, match="ValueJob 'raw': the stored value .* cannot be read"):
        sh.ok("%%ppg_job raw\nmark('raw')\nraw = [1, 2, 3]")
    assert sh.ns["raw"] == [1, 2, 3]
    assert sh.ran() == ["raw", "raw"]


def test_a_background_run_ends_naming_its_failed_jobs_and_their_errors(sh: Shell) -> None:
    from ppg_notebook.background import runs_of

    sh.ok("%%ppg_job good --no-run\nmark('good')\ngood = 1")
    sh.ok("%%ppg_job bad --no-run\nmark('bad')\nbad = good + 1\nraise ValueError('no data')")
    sh.ok("%ppg_run --background")
    runs_of(sh.pipeline).join(60)
    out = sh.capsys.readouterr().out
    assert "ppg: the background run finished: ran: good; failed: bad; 1 ran · 1 failed" in out
    assert "ppg: ppg:" not in out and "finished: ppg" not in out
    assert "bad failed: ValueError: no data" in out


def test_every_summary_counts_in_one_vocabulary(sh: Shell) -> None:
    sh.ok("%%ppg_job a --no-run\nmark('a')\na = 1")
    sh.ok("%%ppg_job b --no-run\nmark('b')\nb = a + 1")
    assert "ran: a, b; 2 ran [" in sh.ok("%ppg_run")
    assert "nothing to do: 2 up to date [" in sh.ok("%ppg_run")
    out = sh.ok("%%ppg_job c\nmark('c')\nc = b * 10")
    assert "c ran (it has never run); 1 ran · 2 up to date [" in out


def test_a_running_jobs_prints_are_shown_while_it_runs_with_its_progress(
    sh: Shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job waits until the kernel has shown its first print: it can only finish
    if its output reached the cell while it was still running."""
    from ppg_notebook.notebook import magics

    shown = sh.workdir / "shown.flag"

    def append(text: str) -> None:
        if "step one" in text:
            shown.touch()
        original(text)

    original = magics._append
    monkeypatch.setattr(magics, "_append", append)
    sh.ok(f"flag = {str(shown)!r}")
    out = sh.ok(
        "%%ppg_job slow\nimport os, time\nprint('step one', flush=True)\n"
        "deadline = time.time() + 20\n"
        "while not os.path.exists(flag) and time.time() < deadline:\n    time.sleep(0.05)\n"
        "print('step two')\nslow = os.path.exists(flag)"
    )
    assert sh.ns["slow"] is True, out
    assert out.count("step one") == 1 and out.count("step two") == 1
    assert "ppg: running slow · " in out and "0/1 done" in out


def test_why_names_the_failed_upstream_job_of_a_job_that_never_ran(sh: Shell) -> None:
    sh.ok("%%ppg_job bad --no-run\nraise ValueError('no data')\nbad = 1")
    sh.run("%%ppg_job report\nreport = bad + 1")  # fails: bad failed
    out = sh.ok("%ppg_why report")
    assert "'report' will run: it has never run" in out
    assert "an upstream job failed: 'bad' (ValueError: no data); fix it, then run again" in out


def test_ppg_du_and_ppg_gc_in_the_kernel(sh: Shell) -> None:
    sh.ok("%%ppg_job old\nold = list(range(1000))")
    sh.ok("%ppg_new --dir .ppg --cores 2")  # a kernel restart: `old` is not declared now
    sh.ok("%%ppg_job kept\nkept = 1")
    du = sh.ok("%ppg_du")
    assert any(line.split()[-3:] == ["old", "not", "declared"] for line in du.splitlines()), du
    assert "would remove old" in sh.ok("%ppg_gc --dry-run")
    assert "removed old" in sh.ok("%ppg_gc")
    assert "old" not in sh.ok("%ppg_du")
    assert sh.ns["kept"] == 1


# --- --values: one job, several results ------------------------------------------------
SPLIT = """%%ppg_job split --values X_train X_test y_train y_test
from sklearn.model_selection import train_test_split
mark('split')
X = [[i, i * scale] for i in range(10)]
y = [i % 2 for i in range(10)]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
"""


def test_values_binds_every_name_and_each_is_a_dependency_of_its_own(sh: Shell) -> None:
    # split -> X_train -> n_train;  split -> y_test -> n_test  (one job, four values)
    sh.ok("scale = 1")
    out = sh.ok(SPLIT)
    assert "split ran (it has never run)" in out
    assert [len(sh.ns[n]) for n in ("X_train", "X_test", "y_train", "y_test")] == [7, 3, 7, 3]
    assert "split" not in sh.ns  # the values are the results, not the job's name
    sh.ok("%%ppg_job n_train\nmark('n_train')\nn_train = sum(x[1] for x in X_train)")
    sh.ok("%%ppg_job n_test\nmark('n_test')\nn_test = sum(y_test)")
    assert sh.ran() == ["n_test", "n_train", "split"]
    assert sh.ns["n_train"] == sum(x[1] for x in sh.ns["X_train"])
    # another scale changes X_train and X_test only: n_test, reading y_test, does not rerun
    sh.ok("scale = 3")
    sh.ok(SPLIT.replace("--values", "--no-run --values"))
    why = sh.ok("%ppg_why n_test")
    assert "'n_test' may run: job 'split' (its value 'y_test') will run first" in why
    sh.ok("%ppg_run")
    assert sh.ran() == ["n_train", "split"]
    assert sh.ns["n_train"] == sum(x[1] for x in sh.ns["X_train"])
    assert sh.ns["X_train"][0][1] == 3 * sh.ns["X_train"][0][0]


def test_values_names_stand_for_their_job_in_the_line_magics(sh: Shell) -> None:
    sh.ok("%%ppg_job pair --values low high\nmark('pair')\nlow, high = 1, 9")
    assert "'pair' is up to date" in sh.ok("%ppg_why high")
    assert "invalidated pair" in sh.ok("%ppg_invalidate low")
    sh.ok("%ppg_run high")
    assert sh.ran() == ["pair", "pair"]
    rows = sh.ip.run_line_magic("ppg_status", "").rows
    assert [(r["job"], r["state"]) for r in rows] == [("pair", "up to date")]


def test_a_value_the_body_did_not_assign_is_named_with_how_to_fix_it(sh: Shell) -> None:
    result = sh.run("%%ppg_job pair --values low high\nlow = 1")
    text = "\n".join(result.error_in_exec._render_traceback_())
    assert "the body of job 'pair' did not assign 'high', which --values lists" in text
    assert "assign it in the cell, or remove it from --values" in text
    assert "low" not in sh.ns


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%ppg_job two --values a --out f.txt\na = 1", "--values and --out exclude each other"),
        ("%%ppg_job two --values a a\na = 1", "--values 'a' is listed twice"),
        ("%%ppg_job two --values 3a\nx = 1", "--values '3a' is not a valid Python identifier"),
        ("%%ppg_job two --values low\nlow = 2", "'low' is already kept by the cell of job 'pair'"),
        ("%%ppg_job low\nlow = 2", "the job name 'low' is already a value of job 'pair'"),
        ("%%ppg_job two\ntwo = pair", "reads 'pair', a job that keeps several values (low, high)"),
        ("%%ppg_job pair --values low high\nlow = high = low + 1", "reads 'low' before assign"),
    ],
)
def test_bad_values_are_refused_before_anything_changes(sh: Shell, cell: str, message: str) -> None:
    sh.ok("%%ppg_job pair --values low high\nlow, high = 1, 9")
    jobs = dict(sh.pipeline.jobs)
    result = sh.run(cell)
    error = result.error_in_exec or result.error_before_exec
    assert isinstance(error, UsageError), error
    assert message in str(error)
    assert sh.pipeline.jobs == jobs
    assert "nothing to do" in sh.ok("%ppg_run")


def test_a_value_a_later_job_reads_cannot_be_dropped_from_values(sh: Shell) -> None:
    sh.ok("%%ppg_job pair --values low high\nlow, high = 1, 9")
    sh.ok("%%ppg_job top\ntop = high + 1")
    error = sh.run("%%ppg_job pair --values low\nlow = 1").error_in_exec
    assert "would no longer keep 'high', which job 'top' reads" in str(error)
    sh.ok("%%ppg_job pair --values low high extra\nlow, high, extra = 1, 9, 0")
    assert sh.ns["extra"] == 0
    sh.ok("%%ppg_job top\ntop = low + 1")
    sh.ok("%%ppg_job pair --values low\nlow = 1")  # nothing reads high any more
    assert "value:pair.high" not in sh.pipeline.jobs


def test_the_progress_line_says_the_time_left_from_the_last_duration(sh: Shell) -> None:
    body = "%%ppg_job slow\nimport time\ntime.sleep(1.6)\nslow = 1"
    first = sh.ok(body)
    assert "ppg: running slow · " in first and " left" not in first  # (no duration known)
    sh.ok("%ppg_invalidate slow")
    again = sh.ok("%ppg_run slow")
    assert "0/1 done · about " in again and " left" in again


def test_a_summary_names_a_few_jobs_and_counts_the_rest() -> None:
    from ppg_notebook.events import Outcome, RunResult
    from ppg_notebook.notebook.display import summary

    named: list[str] = []

    def label(job_id: str) -> str:
        named.append(job_id)
        return job_id.upper()

    result = RunResult(outcomes={f"j{i}": Outcome.RAN for i in range(1000)})
    line = summary(result, [], label)
    assert "ran: J0, J1, J2, J3, J4 and 995 more; 1000 ran [" in line
    assert len(named) == 5  # (naming a job can be slow: only those shown are named)
