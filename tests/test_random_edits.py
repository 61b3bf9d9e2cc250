"""A seeded random walk of edits to a pipeline's own module and data files (SPEC §3, §3a).

After every edit the script runs in a fresh process, and the test checks against a model
of what each job used that (a) every output is exactly what the current code and data
compute: never a stale result, and (b) exactly the jobs whose inputs changed ran, and a
job downstream of one only if that one's output changed.

    lib.py:  f_a ──> C        f_b
    j0.txt = f_a(len(d0))            (reads d0.txt)
    j1.txt = f_b(1)
    j2.txt = f_a(1) + f_b(len(d1))   (reads d1.txt)
    j3.txt = "j3:" + j0.txt          (depends on j0.txt)
    j4.txt = len(d0) + len(d1)       (reads both)
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

LIB = """
C = {C}
# revision {comment}


def f_a(x):
    return x * {a} + C


def f_b(x):
    return x + {b}
"""

PIPELINE = """
from lib import f_a, f_b

ppg.new_pipeline(cores=2)


def read(name):
    with open(name) as fh:
        return fh.read()


def j0(path):
    mark("j0")
    path.write_text(str(f_a(len(read("d0.txt")))))


def j1(path):
    mark("j1")
    path.write_text(str(f_b(1)))


def j2(path):
    mark("j2")
    path.write_text(str(f_a(1) + f_b(len(read("d1.txt")))))


def j3(path):
    mark("j3")
    path.write_text("j3:" + Path("j0.txt").read_text())


def j4(path):
    mark("j4")
    path.write_text(str(len(read("d0.txt")) + len(read("d1.txt"))))


first = ppg.FileGeneratingJob("j0.txt", j0)
ppg.FileGeneratingJob("j1.txt", j1)
ppg.FileGeneratingJob("j2.txt", j2)
ppg.FileGeneratingJob("j3.txt", j3).depends_on(first)
ppg.FileGeneratingJob("j4.txt", j4)
run_and_report()
"""

USES = {
    "j0": {"a", "C", "d0"},
    "j1": {"b"},
    "j2": {"a", "b", "C", "d1"},
    "j4": {"d0", "d1"},
}


def outputs(state: dict[str, object]) -> dict[str, str]:
    a, b, c = int(state["a"]), int(state["b"]), int(state["C"])  # type: ignore[call-overload]
    d0, d1 = str(state["d0"]), str(state["d1"])
    j0 = str(len(d0) * a + c)
    return {
        "j0": j0,
        "j1": str(1 + b),
        "j2": str((1 * a + c) + (len(d1) + b)),
        "j3": "j3:" + j0,
        "j4": str(len(d0) + len(d1)),
    }


def edit(rng: random.Random, state: dict[str, object], root: Path) -> None:
    """One random edit of the module or a data file (some change nothing that matters)."""
    kind = rng.choice(["a", "b", "C", "comment", "d0", "d1", "touch"])
    if kind in ("a", "b", "C"):
        state[kind] = rng.choice([1, 2, 3])  # sometimes the same value
    elif kind == "comment":
        state["comment"] = int(state["comment"]) + 1  # type: ignore[call-overload]
    elif kind in ("d0", "d1"):
        state[kind] = rng.choice(["x", "yy", "zz", "www"])  # "yy"/"zz": same length
    else:
        path = root / rng.choice(["d0.txt", "d1.txt", "lib.py"])
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    write(state, root)


def write(state: dict[str, object], root: Path) -> None:
    lib = LIB.format(**state)
    for name, text in (("lib.py", lib), ("d0.txt", state["d0"]), ("d1.txt", state["d1"])):
        path = root / name
        if not path.exists() or path.read_text() != text:
            path.write_text(str(text))


def changed(before: dict[str, object], after: dict[str, object]) -> set[str]:
    return {key for key in before if before[key] != after[key]}


@pytest.mark.parametrize("seed", [1, 2])
def test_random_edits_never_serve_a_stale_result(script, seed: int) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    state: dict[str, object] = {"a": 2, "b": 1, "C": 1, "comment": 0, "d0": "x", "d1": "yy"}
    write(state, script.dir)
    script.write(PIPELINE)
    assert sorted(script.run().ok().runs) == ["j0", "j1", "j2", "j3", "j4"]
    for step in range(10):
        before = dict(state)
        edit(rng, state, script.dir)
        run = script.run().ok()
        what = changed(before, state)
        expected = {job for job, uses in USES.items() if uses & what}
        if outputs(before)["j0"] != outputs(state)["j0"]:
            expected.add("j3")
        assert sorted(run.runs) == sorted(expected), (step, what, run.describe())
        for job, text in outputs(state).items():
            assert (script.dir / f"{job}.txt").read_text() == text, (step, job, what)
