"""The magics' option grammar: what each `%ppg_*` magic accepts, read from its line.

One owner for the grammar, so that the magics and the export read a `%%ppg_job` or
`%ppg_new` line the same way, and neither needs the other (nor IPython) to do it:

- `GRAMMAR`: each magic's arguments, as argparse takes them (magics.py gives the same to
  IPython, which makes the magic's help text from them);
- `parse`: a magic's line read with shell quoting (`--out "a b.txt"` is the file `a b.txt`,
  as the exported script reads it); bad options raise `OptionsError`, whose message is
  argparse's (the magics show it as IPython's UsageError);
- `JobOptions` / `NewOptions`: `%%ppg_job` and `%ppg_new` lines as typed values; a job's
  options written back as the keyword arguments of the exported script's `@cells.job(...)`
  (script.py reads them back: the same options);
- `name_problem`: what a job's (or a value's) name may be: it becomes a notebook variable.
"""

from __future__ import annotations

import argparse
import builtins
import functools
import keyword
import shlex
from dataclasses import dataclass
from typing import Any

from .pysource import py_string

OUT = "out"  # the output path(s) inside a file job's body
RESULTS = ("omit", "comment")  # %ppg_export --results: cells neither jobs nor setup

Argument = tuple[tuple[str, ...], dict[str, Any]]


def _arg(*flags: str, **settings: Any) -> Argument:
    return flags, settings


GRAMMAR: dict[str, tuple[Argument, ...]] = {
    "ppg_job": (
        _arg("name", help="the job's name: a notebook variable holding its value (or paths)"),
        _arg("--out", nargs="+", default=[], metavar="PATH", help="files the body writes"),
        _arg(
            "--values",
            nargs="+",
            default=[],
            metavar="VAR",
            help="the body's variables the job keeps, each bound and usable by its own name",
        ),
        _arg(
            "--deps",
            nargs="+",
            default=[],
            metavar="NAME_OR_PATH",
            help="more jobs or input files",
        ),
        _arg("--cores", type=int, default=1, help="cores the job needs (default 1)"),
        _arg("--no-run", action="store_true", help="declare the job without running it"),
    ),
    "ppg_run": (
        _arg("names", nargs="*", help="jobs to run with their upstream (default: all)"),
        _arg(
            "--background",
            action="store_true",
            help="run in a thread: the notebook stays usable, %%ppg_dag shows progress",
        ),
    ),
    "ppg_gc": (
        _arg("--dry-run", action="store_true", help="say what would be removed"),
        _arg("--older-than", type=float, metavar="DAYS", help="only jobs last run before"),
        _arg("--outputs", action="store_true", help="their output files too"),
    ),
    "ppg_why": (_arg("name", help="a job's name (or id, or output path)"),),
    "ppg_invalidate": (_arg("names", nargs="+", help="jobs to run again on the next run"),),
    "ppg_export": (
        _arg("path", help="the script to write, e.g. pipeline.py"),
        _arg(
            "--results",
            choices=RESULTS,
            default="omit",
            help="cells that are neither jobs nor setup: left out (omit) or kept as comments",
        ),
    ),
    "ppg_new": (
        _arg("--dir", default=".ppg", help="where the pipeline keeps its state"),
        _arg("--cores", type=int, default=None, help="worker processes (default: all CPUs)"),
        _arg("--backend", default="loky", help="execution backend: loky or dask"),
        _arg("--scheduler", default=None, help="dask scheduler address (--backend dask)"),
        _arg(
            "--track",
            action="append",
            default=[],
            metavar="PATH",
            help="a directory (beyond the notebook's) whose modules are your code: editing "
            "them reruns the jobs that use them (repeat for several)",
        ),
    ),
}


class OptionsError(ValueError):
    """A magic's options cannot be read (bad quoting, an unknown or invalid option)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise OptionsError(message)  # (argparse would print the usage and exit)


@functools.cache
def _parser(magic: str) -> _Parser:
    parser = _Parser(prog=f"%{magic}", add_help=False)  # (no -h: `%magic?` shows the help)
    for flags, settings in GRAMMAR[magic]:
        parser.add_argument(*flags, **settings)
    return parser


def split(line: str) -> list[str]:
    """A magic's line as its words, with shell quoting."""
    lex = shlex.shlex(line, posix=True)
    lex.whitespace_split = True
    lex.commenters = ""  # (a `#` is part of a word, as IPython reads it)
    try:
        return list(lex)
    except ValueError as e:
        msg = f"cannot read the options {line!r}: {e}"
        raise OptionsError(msg) from None


def parse(magic: str, line: str) -> argparse.Namespace:
    """The options on `line` of the magic `magic` ("ppg_job", "ppg_run", ...)."""
    return _parser(magic).parse_args(split(line))


@dataclass(frozen=True)
class JobOptions:
    """The options of a `%%ppg_job` line."""

    name: str
    out: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    deps: tuple[str, ...] = ()
    cores: int = 1
    no_run: bool = False

    @classmethod
    def parse(cls, line: str) -> JobOptions:
        args = parse("ppg_job", line)
        return cls(
            args.name,
            tuple(args.out),
            tuple(args.values),
            tuple(args.deps),
            args.cores,
            args.no_run,
        )

    def keywords(self) -> list[str]:
        """The options as the keyword arguments of the exported script's `@cells.job(...)`
        (only those that differ from the defaults; a script declares every job, then runs
        what must run: `--no-run` has no counterpart)."""
        written = []
        if len(self.out) == 1:
            written.append(f"out={py_string(self.out[0])}")
        elif self.out:
            written.append(f"out=[{', '.join(py_string(p) for p in self.out)}]")
        if self.deps:
            written.append(f"deps=[{', '.join(py_string(d) for d in self.deps)}]")
        if self.cores != 1:
            written.append(f"cores={int(self.cores)}")
        if self.values:
            written.append(f"values=[{', '.join(py_string(v) for v in self.values)}]")
        return written


@dataclass(frozen=True)
class NewOptions:
    """The options of a `%ppg_new` line: the pipeline it creates."""

    dir: str = ".ppg"
    cores: int | None = None
    backend: str = "loky"
    scheduler: str | None = None
    track: tuple[str, ...] = ()

    @classmethod
    def parse(cls, line: str) -> NewOptions:
        args = parse("ppg_new", line)
        return cls(args.dir, args.cores, args.backend, args.scheduler, tuple(args.track))


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a cell's job (it becomes a notebook variable), or None."""
    if not name.isidentifier() or keyword.iskeyword(name):
        return "is not a valid Python identifier"
    if hasattr(builtins, name):
        return "would shadow the Python builtin of that name"
    if name == OUT:
        return "is reserved: inside a file job's body `out` is its output path"
    return None
