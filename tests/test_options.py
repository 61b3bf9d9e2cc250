"""The magics' option grammar (notebook/options.py): read as IPython reads it, written back.

Table-driven: each `%%ppg_job` option of SPEC §6, lines that must be refused with the
message the magic has always given, and the job's options written back as the exported
script's `@cells.job(...)` keywords, read back by the decorator.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys

import pytest
from IPython.core.error import UsageError
from IPython.utils.process import arg_split

from ppg_notebook.notebook import options
from ppg_notebook.notebook.magics import PipelineMagics
from ppg_notebook.notebook.options import JobOptions, NewOptions, OptionsError
from ppg_notebook.notebook.script import CellJobs

# (line, what it says)
JOB_LINES = [
    ("total", JobOptions("total")),
    ("report --out report.txt", JobOptions("report", out=("report.txt",))),
    ("many --out a.txt b.txt", JobOptions("many", out=("a.txt", "b.txt"))),
    ('quoted --out "two words.txt"', JobOptions("quoted", out=("two words.txt",))),
    ("quoted --out 'it''s.txt'", JobOptions("quoted", out=("its.txt",))),
    ("split --values train test", JobOptions("split", values=("train", "test"))),
    ("joined --deps raw data.csv", JobOptions("joined", deps=("raw", "data.csv"))),
    ("heavy --cores 4", JobOptions("heavy", cores=4)),
    ("later --no-run", JobOptions("later", no_run=True)),
    ("short --c 2 --no", JobOptions("short", cores=2, no_run=True)),  # argparse's prefixes
    ("données --deps entrée.csv", JobOptions("données", deps=("entrée.csv",))),
    ("hash --out a#b.txt", JobOptions("hash", out=("a#b.txt",))),  # `#` is no comment
    (
        'all --out "x y.txt" z.txt --deps up --cores 3 --no-run',
        JobOptions("all", out=("x y.txt", "z.txt"), deps=("up",), cores=3, no_run=True),
    ),
    ("kept --values a --deps b --out", None),  # refused: --out needs a path
]

# Refused lines, and what the message says (the whole message is compared with IPython's
# own parser of the magic below: argparse words it, and it varies with Python's version).
BAD_JOB_LINES = [
    ("", "the following arguments are required: name"),
    ("a b", "unrecognized arguments: b"),
    ("a --cores x", "argument --cores: invalid int value: 'x'"),
    ("a --cores 1.5", "argument --cores: invalid int value: '1.5'"),
    ("a --out", "argument --out: expected at least one argument"),
    ("a --values", "argument --values: expected at least one argument"),
    ("a --deps", "argument --deps: expected at least one argument"),
    ("a --bogus", "unrecognized arguments: --bogus"),
    ("a -h", "unrecognized arguments: -h"),  # (no -h: `%%ppg_job?` shows the help)
    ("--out a.txt", "the following arguments are required: name"),
    ('a --out "b', "cannot read the options 'a --out \"b': No closing quotation"),
    ("a\\", "cannot read the options 'a\\\\': No escaped character"),
]

OTHER_LINES = [
    ("ppg_run", ""),
    ("ppg_run", "a b --background"),
    ("ppg_run", "--bg"),
    ("ppg_gc", "--dry-run --older-than 3.5 --outputs"),
    ("ppg_gc", "--older-than soon"),
    ("ppg_why", "total"),
    ("ppg_why", ""),
    ("ppg_invalidate", "a b"),
    ("ppg_invalidate", ""),
    ("ppg_export", "pipeline.py"),
    ("ppg_export", '"my pipeline.py" --results comment'),
    ("ppg_export", "p.py --results keep"),
    ("ppg_new", ""),
    ("ppg_new", "--dir state --cores 3 --backend dask --scheduler tcp://h:8786"),
    ("ppg_new", "--track ../shared --track /opt/lib"),
    ("ppg_new", "--cores x"),
    ("ppg_new", "--track"),
    ("ppg_job", "a --out 'x y' --deps b --values c --cores 2 --no-run"),
    *(("ppg_job", line) for line, _ in BAD_JOB_LINES),
]


def ipython_reads(magic: str, line: str) -> dict[str, object] | str:
    """What IPython's own parser of the magic (built from the same grammar, for its help
    text) makes of the line: its options, or its error message."""
    parser = getattr(PipelineMagics, magic).parser
    try:
        return vars(parser.parse_args(arg_split(line, posix=True, strict=True)))
    except ValueError as e:
        return f"cannot read the options {line!r}: {e}"
    except UsageError as e:
        return str(e)


def options_read(magic: str, line: str) -> dict[str, object] | str:
    try:
        return vars(options.parse(magic, line))
    except OptionsError as e:
        return str(e)


@pytest.mark.parametrize(("line", "expected"), JOB_LINES)
def test_every_option_of_a_job_line(line: str, expected: JobOptions | None) -> None:
    if expected is None:
        with pytest.raises(OptionsError):
            JobOptions.parse(line)
        return
    assert JobOptions.parse(line) == expected


@pytest.mark.parametrize(("line", "says"), BAD_JOB_LINES)
def test_a_bad_job_line_is_refused_with_a_clear_message(line: str, says: str) -> None:
    with pytest.raises(OptionsError) as e:
        JobOptions.parse(line)
    assert str(e.value) == says


@pytest.mark.parametrize(("magic", "line"), OTHER_LINES)
def test_every_magic_reads_its_line_as_ipython_would(magic: str, line: str) -> None:
    assert options_read(magic, line) == ipython_reads(magic, line)


def test_the_help_of_every_magic_lists_its_options() -> None:
    for magic, arguments in options.GRAMMAR.items():
        text = getattr(PipelineMagics, magic).__doc__
        for flags, _ in arguments:
            assert flags[0] in text, (magic, flags)


def _decorator_keywords(options_: JobOptions) -> dict[str, object]:
    call = ast.parse(f"job({', '.join(options_.keywords())})", mode="eval").body
    assert isinstance(call, ast.Call) and not call.args
    return {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}


@pytest.mark.parametrize(("line", "expected"), [(ln, o) for ln, o in JOB_LINES if o])
def test_a_job_line_written_back_as_the_scripts_decorator_reads_back(
    line: str, expected: JobOptions
) -> None:
    written = _decorator_keywords(JobOptions.parse(line))
    inspect.signature(CellJobs.job).bind(None, None, **written)  # the decorator takes them
    out = written.get("out", ())
    back = JobOptions(
        expected.name,
        out=(out,) if isinstance(out, str) else tuple(out),  # type: ignore[arg-type]
        values=tuple(written.get("values", ())),  # type: ignore[arg-type]
        deps=tuple(written.get("deps", ())),  # type: ignore[arg-type]
        cores=written.get("cores", 1),  # type: ignore[arg-type]
        no_run=expected.no_run,  # (a script declares every job, then runs what must run)
    )
    assert back == expected


def test_options_at_their_defaults_write_no_keywords() -> None:
    assert JobOptions("plain").keywords() == []
    assert JobOptions("plain", no_run=True).keywords() == []


def test_a_new_pipeline_line() -> None:
    assert NewOptions.parse("") == NewOptions(".ppg", None, "loky", None, ())
    parsed = NewOptions.parse("--dir 'my state' --cores 3 --track a --track b")
    assert parsed == NewOptions("my state", 3, "loky", None, ("a", "b"))
    with pytest.raises(OptionsError, match="argument --cores: invalid int value"):
        NewOptions.parse("--cores many")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("total", None),
        ("données", None),
        ("_private", None),
        ("2fast", "is not a valid Python identifier"),
        ("my-job", "is not a valid Python identifier"),
        ("class", "is not a valid Python identifier"),
        ("print", "would shadow the Python builtin of that name"),
        ("out", "is reserved: inside a file job's body `out` is its output path"),
    ],
)
def test_what_a_job_may_be_named(name: str, problem: str | None) -> None:
    assert options.name_problem(name) == problem


def test_reading_a_cell_needs_no_ipython() -> None:
    """The export and an exported script read cells without IPython; only the magics
    (and the export's reader of IPython's own cell syntax) import it."""
    modules = ["ppg_notebook", "ppg_notebook.notebook.options", "ppg_notebook.notebook.script"]
    code = (
        f"import importlib, sys\nfor m in {modules!r}:\n    importlib.import_module(m)\n"
        "import ppg_notebook\nppg_notebook.CellJobs\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'IPython'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
