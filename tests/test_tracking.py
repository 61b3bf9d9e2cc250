"""What a job actually used (SPEC §3a), end to end in real subprocesses: the user's own
modules its code reaches, and the files it reads at run time.

    utils.py:  clean_rows ──> THRESHOLD      other
    pipeline:  cleaned.txt  (clean_rows, reads data/samples.csv with pandas)
               config.txt   (json.load(open("config.json")))
               unrelated.txt (utils.other)
               plain.txt    (neither)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).parent / "ppg-notebook")

UTILS = '''
THRESHOLD = 1


def clean_rows(frame):
    """Rows whose value is above the threshold."""
    return frame[frame.value > THRESHOLD]


def other():
    return "other"
'''

PIPELINE = """
import json

import pandas as pd

import utils
from utils import clean_rows

ppg.new_pipeline(cores=2)


def cleaned(path):
    mark("cleaned")
    frame = clean_rows(pd.read_csv("data/samples.csv"))
    path.write_text(",".join(str(v) for v in frame.value))


def config(path):
    mark("config")
    with open("config.json") as fh:
        path.write_text(str(json.load(fh)["scale"]))


def unrelated(path):
    mark("unrelated")
    path.write_text(utils.other())


ppg.FileGeneratingJob("cleaned.txt", cleaned)
ppg.FileGeneratingJob("config.txt", config)
ppg.FileGeneratingJob("unrelated.txt", unrelated)
ppg.FileGeneratingJob("plain.txt", write("plain"))
run_and_report()
for job in ("cleaned.txt", "config.txt"):
    print("@@WHY " + json.dumps([job, ppg.why(job)]))
"""


def _whys(run) -> dict[str, str]:  # type: ignore[no-untyped-def]
    found = {}
    for line in run.stdout.splitlines():
        if line.startswith("@@WHY "):
            job, text = json.loads(line[len("@@WHY ") :])
            found[job] = text
    return found


@pytest.fixture
def project(script):  # type: ignore[no-untyped-def]
    (script.dir / "utils.py").write_text(UTILS)
    (script.dir / "data").mkdir()
    (script.dir / "data" / "samples.csv").write_text("value\n0\n2\n3\n")
    (script.dir / "config.json").write_text('{"scale": 2}')
    script.write(PIPELINE)
    first = script.run().ok()
    assert sorted(first.runs) == ["cleaned", "config", "plain", "unrelated"], first.describe()
    assert (script.dir / "cleaned.txt").read_text() == "2,3"
    return script


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new))


def test_nothing_reruns_and_why_lists_what_each_job_used(project) -> None:  # type: ignore[no-untyped-def]
    second = project.run().ok()
    assert second.runs == [], second.describe()
    whys = _whys(second)
    assert whys["cleaned.txt"].splitlines() == [
        "'cleaned.txt' is up to date",
        "  files it read at run time: data/samples.csv",
        "  code followed into: utils",
    ]
    assert "files it read at run time: config.json" in whys["config.txt"]
    assert "warning" not in second.stderr.lower(), second.stderr


@pytest.mark.parametrize(
    ("edit", "expected", "reason"),
    [
        pytest.param(
            ("frame.value > THRESHOLD", "frame.value >= THRESHOLD"),
            ["cleaned"],
            "its code changed: utils.clean_rows changed",
            id="the-helper",
        ),
        pytest.param(
            ("THRESHOLD = 1", "THRESHOLD = 2"),
            ["cleaned"],
            "its code changed: utils.THRESHOLD changed",
            id="a-module-value-the-helper-reads",
        ),
        pytest.param(
            ('return "other"', 'return "another"'),
            ["unrelated"],
            "its code changed: utils.other changed",
            id="another-function-of-the-module",
        ),
        pytest.param(
            ('"""Rows whose value is above the threshold."""', "# rows above it"),
            [],
            None,
            id="a-docstring-and-a-comment",
        ),
    ],
)
def test_editing_the_users_module_reruns_exactly_the_jobs_that_use_it(
    project, edit: tuple[str, str], expected: list[str], reason: str | None
) -> None:  # type: ignore[no-untyped-def]
    _edit(project.dir / "utils.py", *edit)
    run = project.run().ok()
    assert sorted(run.runs) == expected, run.describe()
    if reason is not None:
        job = expected[0] + ".txt"
        assert run.result["reasons"][job] == reason
    assert project.run().ok().runs == []


def test_a_data_file_read_by_path_is_an_input(project) -> None:  # type: ignore[no-untyped-def]
    data = project.dir / "data" / "samples.csv"
    os.utime(data)  # touched, same content: nothing reruns
    assert project.run().ok().runs == []

    data.write_text("value\n0\n5\n")
    run = project.run().ok()
    assert run.runs == ["cleaned"], run.describe()
    assert run.result["reasons"]["cleaned.txt"] == (
        "it read data/samples.csv at run time, which changed"
    )
    assert (project.dir / "cleaned.txt").read_text() == "5"

    (project.dir / "config.json").write_text('{"scale": 3}')
    run = project.run().ok()
    assert run.runs == ["config"], run.describe()
    assert (project.dir / "config.txt").read_text() == "3"


def test_a_removed_data_file_reruns_its_job(project) -> None:  # type: ignore[no-untyped-def]
    (project.dir / "config.json").unlink()
    run = project.run()
    assert run.result is not None, run.describe()
    assert run.result["reasons"]["config.txt"] == (
        "it read config.json at run time, which was removed"
    )
    assert "FileNotFoundError" in run.result["failed"]["config.txt"]


OTHER_OUTPUT = """
ppg.new_pipeline(cores=1)


def produce(path):
    mark("produce")
    path.write_text(Path("source.txt").read_text())


def consume(path):
    mark("consume")
    path.write_text("seen: " + Path("produced.txt").read_text())


ppg.FileGeneratingJob("produced.txt", produce)
ppg.FileGeneratingJob("consumed.txt", consume)
run_and_report()
"""


def test_reading_another_jobs_output_without_depending_on_it_is_a_warning(script) -> None:  # type: ignore[no-untyped-def]
    (script.dir / "source.txt").write_text("one")
    (script.dir / "produced.txt").write_text("one")  # (an earlier run left it)
    script.write(OTHER_OUTPUT)
    first = script.run().ok()
    assert "job 'consumed.txt' read 'produced.txt', which job 'produced.txt' writes" in (
        first.stderr
    ), first.stderr
    assert "Declare the dependency" in first.stderr
    assert script.run().ok().runs == []
    # It is tracked nevertheless: when that output changes, the reader reruns.
    (script.dir / "source.txt").write_text("two")
    second = script.run().ok()
    assert sorted(second.runs) == ["produce"], second.describe()
    third = script.run().ok()
    assert third.runs == ["consume"], third.describe()
    assert (script.dir / "consumed.txt").read_text() == "seen: two"


WRITES = """
ppg.new_pipeline(cores=1)


def messy(path):
    Path("stray.csv").write_text("not declared")
    with open("messy.log", "a") as log:  # appending, as a log does: not reported
        log.write("ran\\n")
    tmp = Path(str(path) + ".partial")
    tmp.write_text("done")
    os.replace(tmp, path)  # written under another name, then renamed: not reported


ppg.FileGeneratingJob("messy.txt", messy)
run_and_report()
"""


def test_writing_an_undeclared_file_is_a_warning(script) -> None:  # type: ignore[no-untyped-def]
    script.write(WRITES)
    run = script.run().ok()
    assert "job 'messy.txt' wrote 'stray.csv'" in run.stderr, run.stderr
    assert "messy.log" not in run.stderr
    assert "partial" not in run.stderr
    assert (script.dir / "messy.txt").read_text() == "done"


OPTIONS = """
ppg.new_pipeline(cores=1, track_reads={track_reads})


def ignoring(path):
    mark("ignoring")
    path.write_text(Path("noise/a.txt").read_text() + Path("signal.txt").read_text())


ppg.FileGeneratingJob("ignoring.txt", ignoring).ignore_reads("noise")
run_and_report()
"""


@pytest.mark.parametrize("track_reads", [True, False])
def test_ignore_reads_and_track_reads_false(script, track_reads: bool) -> None:  # type: ignore[no-untyped-def]
    (script.dir / "noise").mkdir()
    (script.dir / "noise" / "a.txt").write_text("a")
    (script.dir / "signal.txt").write_text("s")
    script.write(OPTIONS.format(track_reads=track_reads))
    assert script.run().ok().runs == ["ignoring"]
    (script.dir / "noise" / "a.txt").write_text("b")
    assert script.run().ok().runs == []
    (script.dir / "signal.txt").write_text("t")
    assert script.run().ok().runs == (["ignoring"] if track_reads else [])


TRACKED = """
import sys

sys.path.insert(0, {lib!r})
from shared_helpers import double

ppg.new_pipeline(cores=1{track})


def doubled(path):
    mark("doubled")
    path.write_text(str(double(21)))


ppg.FileGeneratingJob("doubled.txt", doubled)
run_and_report()
"""


@pytest.mark.parametrize("tracked", [True, False])
def test_a_module_outside_the_project_is_followed_when_tracked(script, tmp_path, tracked) -> None:  # type: ignore[no-untyped-def]
    lib = tmp_path.parent / (tmp_path.name + "-lib")
    lib.mkdir()
    (lib / "shared_helpers.py").write_text("def double(x):\n    return 2 * x\n")
    track = f", track=[{str(lib)!r}]" if tracked else ""
    script.write(TRACKED.format(lib=str(lib), track=track))
    assert script.run().ok().runs == ["doubled"]
    _edit(lib / "shared_helpers.py", "2 * x", "3 * x")
    run = script.run().ok()
    assert run.runs == (["doubled"] if tracked else []), run.describe()


BROKEN = """
import utils

ppg.new_pipeline(cores=1)


def uses(path):
    mark("uses")
    path.write_text(utils.other())


ppg.FileGeneratingJob("uses.txt", uses)
ppg.FileGeneratingJob("independent.txt", write("independent"))
run_and_report()
"""


def test_a_module_that_cannot_be_parsed_fails_the_jobs_that_use_it_by_name(script) -> None:  # type: ignore[no-untyped-def]
    (script.dir / "utils.py").write_text(UTILS)
    script.write(BROKEN)
    assert sorted(script.run().ok().runs) == ["independent", "uses"]
    # The module is imported (intact) by the script, then broken on disk, as while editing.
    script.edit("import utils\n", "import utils\nPath('utils.py').write_text('def other(:')\n")
    run = script.run()
    assert run.result is not None, run.describe()
    error = run.result["failed"]["uses.txt"]
    assert "job 'uses.txt' uses code of the module 'utils'" in error
    assert "utils.py" in error and "SyntaxError at line 1" in error
    assert "independent.txt" not in run.result["failed"]


MANY = """
ppg.new_pipeline(cores=1)


def reads_many(path):
    mark("reads_many")
    total = sum(len(p.read_text()) for p in sorted(Path("many").iterdir()))
    path.write_text(str(total))


ppg.FileGeneratingJob("many.txt", reads_many)
run_and_report()
"""


def test_a_job_reading_thousands_of_files_is_capped_with_a_warning(script) -> None:  # type: ignore[no-untyped-def]
    many = script.dir / "many"
    many.mkdir()
    for i in range(1200):
        (many / f"{i:04}.txt").write_text("x")
    script.write(MANY)
    run = script.run().ok()
    assert "read 1200 files under the project at run time; only 1000 are tracked" in run.stderr
    assert len(script.history()["many.txt"]["r"]) == 1000
    assert script.run().ok().runs == []


LOADING = """
import pandas as pd

ppg.new_pipeline(cores=1)
STATE = {}


def load():
    STATE["frame"] = pd.read_csv("table.csv")
    return True


def total(path):
    mark("total")
    path.write_text(str(int(STATE["frame"].x.sum())))


frame = ppg.DataLoadingJob("frame", load)
ppg.FileGeneratingJob("total.txt", total).depends_on(frame)
run_and_report()
"""


def test_a_loading_job_reading_a_file_in_the_main_process_reruns_its_dependants(script) -> None:  # type: ignore[no-untyped-def]
    (script.dir / "table.csv").write_text("x\n1\n2\n")
    script.write(LOADING)
    assert script.run().ok().runs == ["total"]
    assert script.run().ok().runs == []
    (script.dir / "table.csv").write_text("x\n1\n2\n3\n")
    run = script.run().ok()
    assert run.runs == ["total"], run.describe()
    assert (script.dir / "total.txt").read_text() == "6"


def test_the_cli_status_lists_what_each_job_used(project) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    out = subprocess.run(
        [CLI, "status", "--dir", str(project.ppg_dir)],
        capture_output=True,
        text=True,
        cwd=project.dir,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert out.returncode == 0, out.stderr
    assert "data/samples.csv" in out.stdout
    assert "utils" in out.stdout


NO_SOURCE = """
import sys

import utils

ppg.new_pipeline(cores=1)
OPENED = []
LISTENING = []


def spy(event, args):
    if LISTENING and event == "open" and str(args[0]).endswith("utils.py"):
        OPENED.append(args[0])


sys.addaudithook(spy)


def uses(path):
    path.write_text(utils.other())


ppg.FileGeneratingJob("uses.txt", uses)
LISTENING.append(True)
run_and_report()
print("@@OPENED", len(OPENED))
"""


def test_a_run_with_nothing_to_do_reads_no_source(script) -> None:  # type: ignore[no-untyped-def]
    (script.dir / "utils.py").write_text(UTILS)
    script.write(NO_SOURCE)
    first = script.run().ok()
    assert "@@OPENED 1" in first.stdout, first.describe()  # parsed once, and kept
    second = script.run().ok()
    assert second.runs == [] and "@@OPENED 0" in second.stdout, second.describe()
    _edit(script.dir / "utils.py", 'return "other"', 'return "changed"')
    third = script.run().ok()
    assert "@@OPENED 1" in third.stdout, third.describe()
    assert (script.dir / "uses.txt").read_text() == "changed"


UNLOADABLE = """
import shutil
import sys
import tempfile

lib = tempfile.mkdtemp()
Path(lib, "vanishing.py").write_text("def write(path):\\n    path.write_text('x')\\n")
sys.path.insert(0, lib)
import vanishing

shutil.rmtree(lib)  # the workers, which import it anew, will not find it

ppg.new_pipeline(cores=1)
for i in range(30):  # (enough for them to travel in batches with the lost one)
    ppg.FileGeneratingJob(f"fine{i}.txt", write(f"fine{i}"))
ppg.FileGeneratingJob("lost.txt", vanishing.write)
for i in range(30, 60):
    ppg.FileGeneratingJob(f"fine{i}.txt", write(f"fine{i}"))
run_and_report()
"""


def test_a_job_whose_function_a_worker_cannot_load_fails_saying_so(script) -> None:  # type: ignore[no-untyped-def]
    script.write(UNLOADABLE)
    run = script.run()
    assert run.result is not None, run.describe()
    error = run.result["failed"]["lost.txt"]
    assert "could not be loaded in the worker process" in error
    assert "vanishing" in error
    assert sorted(run.result["ran"]) == sorted(f"fine{i}.txt" for i in range(60))


CLOSURES = """
import functools

import helpers


def through_a_closure():
    m = helpers  # (a module held by the closure, under another name)
    return lambda path: path.write_text(m.word())


def imported_by_the_maker():
    import helpers

    return lambda path: path.write_text(helpers.word())


def through_a_default(path, h=helpers):
    path.write_text(h.word())


def given(module, path):
    path.write_text(module.word())


ppg.new_pipeline(cores=1)
ppg.FileGeneratingJob("closure.txt", through_a_closure())
ppg.FileGeneratingJob("maker.txt", imported_by_the_maker())
ppg.FileGeneratingJob("default.txt", through_a_default)
ppg.FileGeneratingJob("partial.txt", functools.partial(given, helpers))
run_and_report()
"""


def test_a_module_reached_through_a_closure_or_a_default_is_followed(script) -> None:  # type: ignore[no-untyped-def]
    """SPEC §3a: the code a job reaches through a module its function holds (in its
    closure, as a default, or as a partial's argument) is the job's code: editing it
    reruns the job, never a stale output."""
    (script.dir / "helpers.py").write_text('def word():\n    return "old"\n')
    script.write(CLOSURES)
    outputs = ("closure.txt", "maker.txt", "default.txt", "partial.txt")
    script.run().ok()
    assert [(script.dir / name).read_text() for name in outputs] == ["old"] * 4
    (script.dir / "helpers.py").write_text('def word():\n    return "new"\n')
    again = script.run().ok()
    assert [(script.dir / name).read_text() for name in outputs] == ["new"] * 4, again.describe()
    assert set(again.result["reasons"]) == set(outputs), again.describe()
    assert all("helpers.word" in again.result["reasons"][name] for name in outputs)
    assert script.run().ok().result["reasons"] == {}


JOB_FUNCTIONS = """
import helpers


def use(module):
    return module.word()


def passes_it_on(path):
    path.write_text(use(helpers))


def through_a_local(path):
    m = helpers.sub
    path.write_text(m.word())
"""

PASSED_ON = """
{functions}

ppg.new_pipeline(cores=1)
ppg.FileGeneratingJob("passed.txt", passes_it_on)
ppg.FileGeneratingJob("local.txt", through_a_local)
run_and_report()
"""


@pytest.mark.parametrize("where", ["script", "user module"])
def test_a_module_passed_on_or_bound_to_a_local_is_followed(script, where: str) -> None:  # type: ignore[no-untyped-def]
    """SPEC §3a: a user module the job's code passes to another function (which may use
    any of it) counts as a whole, and one bound to a local (`m = helpers.sub`) counts by
    what is read through it: an edit reruns the job, whether the job's function is the
    script's own or lives in the user's module."""
    (script.dir / "helpers").mkdir()
    (script.dir / "helpers" / "__init__.py").write_text(
        'from . import sub\n\n\ndef word():\n    return "old"\n'
    )
    (script.dir / "helpers" / "sub.py").write_text('def word():\n    return "old sub"\n')
    if where == "script":
        script.write(PASSED_ON.format(functions=JOB_FUNCTIONS))
    else:
        (script.dir / "jobfunctions.py").write_text(JOB_FUNCTIONS)
        imports = "from jobfunctions import passes_it_on, through_a_local"
        script.write(PASSED_ON.format(functions=imports))
    script.run().ok()
    assert (script.dir / "passed.txt").read_text() == "old"
    (script.dir / "helpers" / "__init__.py").write_text(
        'from . import sub\n\n\ndef word():\n    return "new"\n'
    )
    (script.dir / "helpers" / "sub.py").write_text('def word():\n    return "new sub"\n')
    again = script.run().ok()
    assert (script.dir / "passed.txt").read_text() == "new", again.describe()
    assert (script.dir / "local.txt").read_text() == "new sub", again.describe()
    assert script.run().ok().result["reasons"] == {}


OBJECTS = """
import sys

import helpers


class Step:
    def __init__(self, n, lib):
        self.n = n
        self.lib = lib

    def run(self, path):
        path.write_text(f"{self.n} {self.lib.word()}")

    def __call__(self, path):
        self.run(path)


ppg.new_pipeline(cores=1)
ppg.FileGeneratingJob("method.txt", Step(int(sys.argv[1]), helpers).run)
ppg.FileGeneratingJob("callable.txt", Step(0, helpers))
given = ppg.FileGeneratingJob("given.txt", lambda path: path.write_text("x"))
given.depends_on(ppg.ParameterInvariant("lib", helpers))
run_and_report()
"""


def test_a_bound_method_counts_its_objects_state_and_the_modules_in_it(script) -> None:  # type: ignore[no-untyped-def]
    """SPEC §3a: a job whose function is a bound method (`Step(1, helpers).run`) reruns when
    the object's state changes, and when a user module the object holds is edited; so do a
    job whose function is such an object (`__call__`) and a job depending on a
    ParameterInvariant whose value is that module."""
    (script.dir / "helpers.py").write_text('def word():\n    return "old"\n')
    script.write(OBJECTS)
    script.run("1").ok()
    assert (script.dir / "method.txt").read_text() == "1 old"
    again = script.run("2").ok()
    assert (script.dir / "method.txt").read_text() == "2 old", again.describe()
    (script.dir / "helpers.py").write_text('def word():\n    return "new"\n')
    edited = script.run("2").ok()
    assert (script.dir / "method.txt").read_text() == "2 new", edited.describe()
    assert (script.dir / "callable.txt").read_text() == "0 new", edited.describe()
    reran = {"method.txt", "callable.txt", "given.txt"}
    assert set(edited.result["reasons"]) == reran, edited.describe()
    assert script.run("2").ok().result["reasons"] == {}


HELD_OBJECTS = """
import helpers


class Holder:
    def __init__(self, lib):
        self.lib = lib

    def word(self):
        return self.lib.word()


holder = Holder(helpers)


def closure_over(obj):
    return lambda path: path.write_text(obj.word())


def method_in_closure(step):
    return lambda path: path.write_text(step())


def by_default(path, step=holder.word):
    path.write_text(step())


def in_a_list(steps):
    return lambda path: path.write_text(steps[0]())


def global_object(path):
    path.write_text(holder.word())


# A library's object holding the user's function: scikit-learn calls it, not the job's code.
from sklearn.preprocessing import FunctionTransformer

words = FunctionTransformer(lambda column: [[helpers.word()]])


def in_a_library_object(path, model=words):
    path.write_text(model.fit_transform([[0]])[0][0])


ppg.new_pipeline(cores=1)
ppg.FileGeneratingJob("closure.txt", closure_over(holder))
ppg.FileGeneratingJob("method.txt", method_in_closure(holder.word))
ppg.FileGeneratingJob("default.txt", by_default)
ppg.FileGeneratingJob("list.txt", in_a_list([holder.word]))
ppg.FileGeneratingJob("global.txt", global_object)
ppg.FileGeneratingJob("library.txt", in_a_library_object)
run_and_report()
"""


def test_a_module_an_object_holds_is_followed_wherever_the_job_reaches_the_object(script) -> None:  # type: ignore[no-untyped-def]
    """SPEC §3a: an object of the user's that holds a user module (`self.lib = helpers`),
    reached by a job through a closure, a bound method, a default, a list or a global: an
    edit of that module reruns the job (its class's code, `self.lib.word()`, does not name
    the module); so does a scikit-learn object holding the user's function. These jobs all
    stayed up to date with their old output before."""
    (script.dir / "helpers.py").write_text('def word():\n    return "old"\n')
    script.write(HELD_OBJECTS)
    script.run().ok()
    outputs = ["closure.txt", "method.txt", "default.txt", "list.txt", "global.txt", "library.txt"]
    assert {name: (script.dir / name).read_text() for name in outputs} == dict.fromkeys(
        outputs, "old"
    )
    assert script.run().ok().result["reasons"] == {}
    (script.dir / "helpers.py").write_text('def word():\n    return "new"\n')
    edited = script.run().ok()
    assert set(edited.result["reasons"]) == set(outputs), edited.describe()
    for name in outputs:
        assert (script.dir / name).read_text() == "new", edited.describe()
    assert script.run().ok().result["reasons"] == {}


HOSTILE_OBJECTS = """
# An object whose attribute access raises something other than AttributeError (a lazy
# proxy outside its context, say): reached through a closure, a default, a global, a list,
# a bound method, as a parameter's value, by a job of the main process.
class Hostile:
    def __getattribute__(self, name):
        raise RuntimeError("outside of its context")

    def word(self):
        return "word"


proxy = Hostile()
word = Hostile.word.__get__(proxy)


def closure_over(obj):
    return lambda path: path.write_text("closure " + type(obj).__name__)


def by_default(path, obj=proxy):
    path.write_text("default")


def global_object(path):
    path.write_text("global " + type(proxy).__name__)


def in_a_list(objs):
    return lambda path: path.write_text("list " + str(len(objs)))


def in_this_process():
    Path("final.txt").write_text("final " + word())


ppg.new_pipeline(cores=1)
ppg.FileGeneratingJob("closure.txt", closure_over(proxy))
ppg.FileGeneratingJob("default.txt", by_default)
ppg.FileGeneratingJob("global.txt", global_object)
ppg.FileGeneratingJob("list.txt", in_a_list([proxy]))
ppg.FileGeneratingJob("method.txt", lambda path: path.write_text(word()))
ppg.FileGeneratingJob("param.txt", lambda path: path.write_text("param")).depends_on(
    ppg.ParameterInvariant("proxy", proxy)
)
ppg.FinalJob("final", in_this_process)
run_and_report()
"""


def test_an_object_whose_attributes_raise_fails_only_what_cannot_be_sent(script) -> None:  # type: ignore[no-untyped-def]
    """The code walk reads a user's object by its type, never trusting the object. One
    whose every attribute access raises RuntimeError, reached in any of the ways a job
    reaches a value, fails only the jobs that must send it to a worker, each with an error
    naming the value; the rest run, and the next run has nothing else to do. (Before, the
    walk raised the object's RuntimeError and the whole run failed, naming no job.)"""
    script.write(HOSTILE_OBJECTS)
    first = script.run()
    assert first.returncode == 0, first.describe()
    assert (script.dir / "param.txt").read_text() == "param"
    assert (script.dir / "final.txt").read_text() == "final word"
    failed = first.result["failed"]
    sent = ["closure.txt", "default.txt", "global.txt", "list.txt", "method.txt"]
    assert sorted(failed) == sent, first.describe()
    for job_id, error in failed.items():
        assert error.startswith(f"JobContractError: job {job_id!r} cannot be sent"), error
        assert "cannot be pickled" in error, error
    assert "outside of its context" not in first.result["error"]
    again = script.run()
    assert again.returncode == 0, again.describe()
    assert sorted(again.result["failed"]) == sent
    assert "param.txt" not in again.result["reasons"], again.describe()


LOADED_ATTRIBUTE = """
class Genome:
    def __init__(self, name):
        self.name = name

    def write(self, path):
        mark("write")
        path.write_text(self.name + str(len(self.sequence)))


genome = Genome("hs")
ppg.new_pipeline(cores=1)
load = ppg.AttributeLoadingJob("sequence", genome, "sequence", lambda: "ACGT" * 10)
ppg.FileGeneratingJob("genome.txt", genome.write).depends_on(load)
ppg.run()
run_and_report()  # (again, the kernel's way: the object now holds the loaded attribute)
"""


def test_an_attribute_a_loading_job_sets_does_not_rerun_the_objects_jobs(script) -> None:  # type: ignore[no-untyped-def]
    """pypipegraph's idiom: a loading job sets an attribute on an object whose bound method
    is a job. The object's state counts as it was when first looked at, so the attribute
    the run loaded reruns nothing, in the same process or the next."""
    script.write(LOADED_ATTRIBUTE)
    first = script.run().ok()
    assert first.runs == ["write"], first.describe()
    assert first.result["ran"] == [], first.describe()  # (the second run, in-process)
    assert script.run().ok().runs == []


LOADED_CALLABLE = """
class Writer:
    def __call__(self, path):
        mark("write")
        path.write_text(str(len(self.sequence)))


writer = Writer()
ppg.new_pipeline(cores=1)
load = ppg.AttributeLoadingJob("sequence", writer, "sequence", lambda: "ACGT")
ppg.FileGeneratingJob("written.txt", writer).depends_on(load)
ppg.run()
run_and_report()
"""


def test_an_attribute_a_loading_job_sets_on_a_callable_job_reruns_nothing(script) -> None:  # type: ignore[no-untyped-def]
    """The same for a callable object as the job's function: its state counts as it was
    when first looked at."""
    script.write(LOADED_CALLABLE)
    first = script.run().ok()
    assert first.runs == ["write"] and first.result["ran"] == [], first.describe()
    assert script.run().ok().runs == []


IN_A_CONTAINER = """
import helpers


def make():
    held = [helpers]
    return lambda path: path.write_text(held[0].word())


ppg.new_pipeline(cores=1)
ppg.FileGeneratingJob("listed.txt", make())
run_and_report()
"""


def test_a_module_inside_a_container_a_closure_holds_is_followed(script) -> None:  # type: ignore[no-untyped-def]
    """SPEC §3a: a user module in a list the job's function holds counts as a whole."""
    (script.dir / "helpers.py").write_text('def word():\n    return "old"\n')
    script.write(IN_A_CONTAINER)
    script.run().ok()
    (script.dir / "helpers.py").write_text('def word():\n    return "new"\n')
    again = script.run().ok()
    assert (script.dir / "listed.txt").read_text() == "new", again.describe()
