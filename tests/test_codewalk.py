"""The code walk (SPEC §3a): which of the user's functions, classes and values a job's code
reaches, what counts as the user's code, and which edits change a fingerprint.

The project is a tmp directory holding `utils.py`, `helpers.py` and a package `pkg/`;
job functions are compiled as `__main__` code (a script's or a notebook's), with the
project's modules imported for real.

    job ──> utils.clean_rows ──> utils.THRESHOLD
                 │
                 └──> helpers.scale  (utils: `from helpers import scale as sc`)
    utils.other, utils.unused_value: reached by nobody but `uses_other`
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import ppg_notebook as ppg
from ppg_notebook import hashing
from ppg_notebook.codewalk import TRACK_ALL, TRACK_CONSTANTS, CodeWalker
from ppg_notebook.errors import CodeError
from ppg_notebook.userfiles import UserFiles

UTILS = '''
import numpy as np
from helpers import scale as sc

THRESHOLD = 0.5
unused_value = [1, 2, 3]


def clean_rows(rows):
    """Keep rows above the threshold."""
    return [r for r in rows if r > THRESHOLD] + [sc(1)]


def other():
    return np.mean([1.0])


def make(n):
    def job():
        return clean_rows([n])

    return job


class Scale:
    factor = 2

    def apply(self, v):
        return v * self.factor
'''

HELPERS = """
def scale(x):
    return x * 3
"""

PKG_INIT = "from .core import normalize\n"
PKG_CORE = """
def normalize(values):
    total = sum(values)
    return [v / total for v in values]
"""

# The job functions: `__main__` code reading what the project's modules provide.
MAIN = """
import functools
import numpy as np
import utils
import pkg
from utils import clean_rows, Scale
from scipy.stats import t

K = 3
PARAMS = [10, 20, 30]
scaler = Scale()


def direct():
    return clean_rows([1, 2])


def through_module():
    return utils.clean_rows([1])


def uses_other():
    return utils.other()


def only_numpy():
    return np.mean([1, 2]) + t.sf(2.0, 10)


def method_through_object():
    return scaler.apply(21)


def local_import():
    from utils import clean_rows as cr

    return cr([3])


def package():
    return pkg.normalize([1, 2])


def local_module_import():
    import utils as u

    return u.clean_rows([4])


def helper():
    return clean_rows([5])


def calls_a_helper():
    return helper()


@functools.lru_cache
def cached_helper():
    return utils.other()


def uses_cached():
    return cached_helper()


def constants():
    return K + PARAMS[0]


def make(i):
    def job():
        return clean_rows([i])

    return job


in_closure = make(1)
made3 = utils.make(3)  # a job function a user module's factory made
made4 = utils.make(4)
"""


class Project:
    """A tmp project directory whose modules are imported for real."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.write("utils.py", UTILS)
        self.write("helpers.py", HELPERS)
        self.write("pkg/__init__.py", PKG_INIT)
        self.write("pkg/core.py", PKG_CORE)
        self.namespace: dict[str, object] = {"__name__": "__main__"}
        code = compile(textwrap.dedent(MAIN), str(root / "main.py"), "exec", dont_inherit=True)
        exec(code, self.namespace)
        self.walker = CodeWalker(UserFiles.of(str(root)))

    def write(self, name: str, text: str) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        before = path.stat().st_mtime_ns if path.exists() else 0
        path.write_text(textwrap.dedent(text))
        # A later mtime even within the filesystem's timestamp granularity.
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, max(st.st_mtime_ns, before + 1_000_000)))

    def edit(self, name: str, old: str, new: str) -> None:
        text = (self.root / name).read_text()
        assert text.count(old) == 1, (name, old)
        self.write(name, text.replace(old, new))

    def reach(self, fn_name: str, main_values: str = TRACK_CONSTANTS):
        self.walker.new_epoch()
        return self.walker.function(self.namespace[fn_name], main_values)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield Project(tmp_path)
    for name in ("utils", "helpers", "pkg", "pkg.core"):
        sys.modules.pop(name, None)


# --- what a job reaches ------------------------------------------------------------------
REACHES = [
    ("direct", {"utils.clean_rows", "utils.THRESHOLD", "helpers.scale"}),
    ("through_module", {"utils.clean_rows", "utils.THRESHOLD", "helpers.scale"}),
    ("uses_other", {"utils.other"}),
    ("only_numpy", set()),
    ("method_through_object", {"utils.Scale"}),
    ("local_import", {"utils.clean_rows", "utils.THRESHOLD", "helpers.scale"}),
    ("local_module_import", {"utils.clean_rows", "utils.THRESHOLD", "helpers.scale"}),
    ("package", {"pkg.core.normalize"}),
    (
        "calls_a_helper",
        {"__main__.helper", "utils.clean_rows", "utils.THRESHOLD", "helpers.scale"},
    ),
    ("uses_cached", {"__main__.cached_helper", "utils.other"}),
    ("constants", {"__main__.K"}),  # PARAMS, a list of the script, is not tracked
    ("in_closure", {"utils.clean_rows", "utils.THRESHOLD", "helpers.scale"}),
    ("made3", {"utils.make", "utils.clean_rows", "utils.THRESHOLD", "helpers.scale"}),
]


@pytest.mark.parametrize(("root", "expected"), REACHES, ids=[r[0] for r in REACHES])
def test_a_job_reaches_exactly_the_users_code_it_uses(
    project: Project, root: str, expected: set[str]
) -> None:
    assert set(project.reach(root).items) == expected


def test_a_body_tracks_every_notebook_value_and_objects_through_their_class(
    project: Project,
) -> None:
    # A %%ppg_job body's globals (TRACK_ALL): the script's list counts as a value.
    assert set(project.reach("constants", TRACK_ALL).items) == {"__main__.K", "__main__.PARAMS"}
    reach = project.walker.value(project.namespace["scaler"])
    assert set(reach.items) == {"utils.Scale"}


def test_closures_a_user_modules_factory_made_differ_by_what_they_hold(
    project: Project,
) -> None:
    assert project.reach("made3").fingerprint != project.reach("made4").fingerprint
    made = project.namespace["made3"]
    project.walker.new_epoch()
    # Reached from another function too: both closures count, each with its value.
    namespace = {"__name__": "__main__", "a": made, "b": project.namespace["made4"]}
    exec("def both():\n    return a() + b()\n", namespace)
    reached = project.walker.function(namespace["both"]).items
    assert len([k for k in reached if k.startswith("utils.make.<locals>.job@")]) == 2


def test_closures_of_one_function_walked_once_each_keep_their_own_fingerprint(
    project: Project,
) -> None:
    """A loop's closures over plain values (thousands of jobs one function made): what
    their code reaches is walked once per epoch, and each one's fingerprint is what a
    walk of it alone gives."""
    make = project.namespace["make"]
    walker = project.walker
    walker.new_epoch()
    reaches = [walker.function(make(i)) for i in (1, 2, 1)]
    assert reaches[0].fingerprint == reaches[2].fingerprint != reaches[1].fingerprint
    for i, reach in zip((1, 2), reaches, strict=False):
        alone = CodeWalker(UserFiles.of(str(project.root))).function(make(i))
        assert (reach.fingerprint, reach.own, reach.items, reach.modules) == (
            alone.fingerprint,
            alone.own,
            alone.items,
            alone.modules,
        )
    assert set(reaches[0].items) == {"utils.clean_rows", "utils.THRESHOLD", "helpers.scale"}
    # An edit of the code they reach is seen by every one of them in the next epoch.
    project.edit("helpers.py", "x * 3", "x * 4")
    walker.new_epoch()
    assert walker.function(make(1)).fingerprint != reaches[0].fingerprint


def test_a_closure_of_plain_values_is_quick_to_walk_again_and_its_job_keeps_no_walk(
    project: Project,
) -> None:
    """The walks a pipeline of 100,000 closures would hold: not kept by their jobs, as
    working one out again costs what keeping it saves (SPEC §3a is unchanged: the same
    fingerprint each time)."""
    walker = project.walker
    walker.new_epoch()
    assert walker.function(project.namespace["make"](1)).quick  # (the user's, plain)

    def library(value: object):  # (not the user's: defined in the tests)
        def job(path: Path) -> None:
            path.write_text(repr(value))

        return job

    assert walker.function(library("text")).quick
    assert not walker.function(library(["a", "list"])).quick  # (hashed by its content)
    ppg.new_pipeline()  # (in the project's directory)
    plain, held = ppg.FileGeneratingJob("a", library(1)), ppg.FileGeneratingJob("b", library([1]))
    first = plain.code_fingerprint()
    assert plain.code_fingerprint() == first and plain._reach is None
    assert held.code_fingerprint() and held._reach is not None


def test_modules_covered_are_named(project: Project) -> None:
    assert project.reach("direct").modules == ("helpers", "utils")


# --- which edits change what ---------------------------------------------------------------
ALL_ROOTS = [r[0] for r in REACHES]
USE_CLEAN_ROWS = {root for root, reached in REACHES if "utils.clean_rows" in reached}
EDITS = [
    pytest.param(
        ("utils.py", "r > THRESHOLD", "r >= THRESHOLD"),
        USE_CLEAN_ROWS,
        id="helper-body",
    ),
    pytest.param(
        ("utils.py", "THRESHOLD = 0.5", "THRESHOLD = 0.7"),
        USE_CLEAN_ROWS,
        id="module-constant",
    ),
    pytest.param(
        ("helpers.py", "x * 3", "x * 4"),
        USE_CLEAN_ROWS,
        id="helper-of-helper-in-another-module",
    ),
    pytest.param(
        ("utils.py", "np.mean([1.0])", "np.median([1.0])"),
        {"uses_other", "uses_cached"},
        id="another-function-of-the-module",
    ),
    pytest.param(
        ("utils.py", "return v * self.factor", "return v * self.factor * 2"),
        {"method_through_object"},
        id="method-of-a-class",
    ),
    pytest.param(
        ("pkg/core.py", "total = sum(values)", "total = sum(values) or 1"),
        {"package"},
        id="re-exported-from-a-package",
    ),
    pytest.param(
        ("utils.py", '"""Keep rows above the threshold."""', '"""Keep the big rows."""'),
        set(),
        id="docstring",
    ),
    pytest.param(("utils.py", "def other():", "# a comment\n\ndef other():"), set(), id="comment"),
    pytest.param(
        ("utils.py", "unused_value = [1, 2, 3]", "unused_value = [4]"),
        set(),
        id="value-nobody-reads",
    ),
]


@pytest.mark.parametrize(("edit", "changed"), EDITS)
def test_an_edit_changes_exactly_the_jobs_that_reach_it(
    project: Project, edit: tuple[str, str, str], changed: set[str]
) -> None:
    before = {root: project.reach(root).fingerprint for root in ALL_ROOTS}
    project.edit(*edit)
    after = {root: project.reach(root).fingerprint for root in ALL_ROOTS}
    assert {root for root in ALL_ROOTS if before[root] != after[root]} == changed


def test_an_edit_is_seen_without_reimporting_the_module(project: Project) -> None:
    # The loaded module keeps its old code: the fingerprint comes from the file.
    before = project.reach("direct")
    project.edit("utils.py", "r > THRESHOLD", "r < THRESHOLD")
    after = project.reach("direct")
    assert before.items["utils.clean_rows"] != after.items["utils.clean_rows"]
    assert before.items["helpers.scale"] == after.items["helpers.scale"]


def test_a_no_op_walk_reads_no_source(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.reach("direct")
    opened: list[str] = []
    real_open = open

    def spy(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    project.reach("direct")
    assert [p for p in opened if p.endswith(".py")] == []


def test_fingerprints_are_the_same_in_a_fresh_process(project: Project) -> None:
    import subprocess

    code = textwrap.dedent(
        f"""
        import os, sys, textwrap
        sys.path.insert(0, {str(project.root)!r})
        os.chdir({str(project.root)!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import test_codewalk as t
        from pathlib import Path
        p = t.Project.__new__(t.Project)
        p.root = Path({str(project.root)!r})
        p.namespace = {{"__name__": "__main__"}}
        code = compile(textwrap.dedent(t.MAIN), "elsewhere.py", "exec", dont_inherit=True)
        exec(code, p.namespace)
        from ppg_notebook.codewalk import CodeWalker
        from ppg_notebook.userfiles import UserFiles
        p.walker = CodeWalker(UserFiles.of(str(p.root)))
        for root in t.ALL_ROOTS:
            print(root, p.reach(root).fingerprint)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    there = dict(line.split() for line in out.splitlines())
    here = {root: project.reach(root).fingerprint for root in ALL_ROOTS}
    assert there == here


# --- what is the user's code ---------------------------------------------------------------
def test_user_files_are_the_project_and_tracked_paths_not_libraries(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    files = UserFiles.of(str(tmp_path / "project"), track=[str(lib)])
    assert files.contains(str(tmp_path / "project" / "utils.py"))
    assert files.contains(str(lib / "shared.py"))
    assert not files.contains(str(tmp_path / "elsewhere.py"))
    assert not files.contains(str(tmp_path / "project" / ".venv/lib/site-packages/x.py"))
    assert not files.contains(os.__file__)  # the standard library
    assert not files.contains(hashing.__file__)  # ppg_notebook itself
    assert not files.contains(pytest.__file__)  # site-packages


def test_a_tracked_path_makes_its_modules_the_users_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = tmp_path / "shared"
    lib.mkdir()
    (lib / "shared_helpers.py").write_text("def double(x):\n    return 2 * x\n")
    monkeypatch.syspath_prepend(str(lib))
    project = tmp_path / "project"
    project.mkdir()
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec("from shared_helpers import double\ndef job():\n    return double(2)\n", namespace)
    try:
        plain = CodeWalker(UserFiles.of(str(project))).function(namespace["job"])
        tracked = CodeWalker(UserFiles.of(str(project), [str(lib)])).function(namespace["job"])
    finally:
        sys.modules.pop("shared_helpers", None)
    assert plain.items == {}
    assert set(tracked.items) == {"shared_helpers.double"}


# --- never an address ---------------------------------------------------------------------
def test_library_objects_are_fingerprinted_by_name_or_stable_state() -> None:
    import numpy as np
    from scipy.stats import norm, t

    before = [hashing.value_fingerprint(v) for v in (t, norm(0, 1), np.add)]
    np.random.rand(5)  # the global random state that scipy's distributions hold
    after = [hashing.value_fingerprint(v) for v in (t, norm(0, 1), np.add)]
    assert before == after
    assert hashing.leaf_key(t) == b"ref:scipy.stats._continuous_distns.t"
    assert "0x" not in hashing.leaf_key(t).decode()


def test_a_set_of_objects_fingerprints_the_same_whatever_their_addresses() -> None:
    class Point:
        def __init__(self, x: int) -> None:
            self.x = x

    assert hashing.value_fingerprint({Point(1), Point(2)}) == hashing.value_fingerprint(
        {Point(2), Point(1)}
    )


# --- bad input --------------------------------------------------------------------------
def test_a_module_that_cannot_be_parsed_is_named(project: Project) -> None:
    project.reach("direct")
    project.edit("utils.py", "def other():", "def other(:")
    with pytest.raises(CodeError) as info:
        project.reach("direct")
    assert "utils" in str(info.value)
    assert "utils.py" in str(info.value)
    assert "SyntaxError at line" in str(info.value)


class _Held:
    def __init__(self, n: int) -> None:
        self.n = n

    def run(self) -> int:
        return self.n


def test_a_bound_methods_object_counts_as_first_seen_and_is_not_kept_alive(
    tmp_path: Path,
) -> None:
    import gc
    import weakref

    walker = CodeWalker(UserFiles.of(str(tmp_path)))
    held = _Held(1)
    first = walker.function(held.run).fingerprint
    assert walker.function(_Held(2).run).fingerprint != first  # (another object's state)
    held.n = 5  # (changed after it was first seen: it counts as it was)
    walker.new_epoch()
    assert walker.function(held.run).fingerprint == first
    gone = weakref.ref(held)
    del held
    gc.collect()
    walker.new_epoch()
    assert gone() is None  # (the walker does not keep a job's object alive)
