"""`ppg-notebook du` and `gc` as real commands on real pipelines (subprocesses)."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

from conftest import PipelineScript, kill_group, wait_for_file

CLI = str(Path(sys.executable).with_name("ppg-notebook"))

# `python pipeline.py N` declares samples 0..N-1: a file job and a value job each.
SAMPLES = """
ppg.new_pipeline(cores=2)
n = int(sys.argv[1])


def make(i):
    def write(path):
        mark(f"file{i}")
        print("writing", i)
        path.write_text(str(i) * 100)

    return write


def value(i):
    mark(f"value{i}")
    return list(range(i * 10))


for i in range(n):
    ppg.FileGeneratingJob(f"out/{i}.txt", make(i))
    ppg.ValueJob(f"value{i}", lambda i=i: value(i))
if sys.argv[2:] == ["hold"]:
    ppg.FileGeneratingJob("held.txt", write("held")).depends_on(
        ppg.FileGeneratingJob("waiting.txt", waiting)
    )
run_and_report()
"""

WAITING = """

def waiting(path):
    Path("waiting.started").write_text("")
    while not Path("release.flag").exists():
        time.sleep(0.05)
    path.write_text("waited")
"""


def cli(script: PipelineScript, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], cwd=script.dir, capture_output=True, text=True, timeout=120, check=False
    )


def samples(script: PipelineScript) -> PipelineScript:
    return script.write(WAITING + SAMPLES)


def test_du_marks_what_the_last_run_did_not_declare_and_gc_removes_only_that(script):
    samples(script)
    assert len(script.run("4").ok().runs) == 8
    assert script.run("2").ok().runs == []  # samples 2 and 3 are no longer declared

    du = cli(script, "du")
    assert du.returncode == 0, du.stderr
    lines = du.stdout.splitlines()
    stale = {line.split()[-3] for line in lines if line.endswith("not declared")}
    assert stale == {"out/2.txt", "out/3.txt", "value2", "value3"}
    assert any(line.split()[-1] == "value1" for line in lines)  # declared: not marked
    total = next(i for i, line in enumerate(lines) if "in total" in line)
    sizes = [_bytes(line) for line in lines[:total]]
    assert sizes == sorted(sizes, reverse=True)  # biggest first
    assert "which declared 4 job(s)" in " ".join(lines[total:])  # what "not declared" means

    dry = cli(script, "gc", "--dry-run")
    assert "would remove value3: 1 file(s), its record" in dry.stdout, dry.stdout
    assert "would free" in dry.stdout
    assert set(script.history()) >= {"value2", "value3", "out/2.txt", "out/3.txt"}

    done = cli(script, "gc")
    assert done.returncode == 0, done.stderr
    assert "removed out/3.txt" in done.stdout and "freed" in done.stdout
    records = script.history()
    assert not {"value2", "value3", "out/2.txt", "out/3.txt"} & set(records)
    assert {"value0", "value1", "out/0.txt", "out/1.txt"} <= set(records)
    values = list((script.ppg_dir / "cache" / "values").iterdir())
    assert sorted(p.name.split("-")[0] for p in values) == ["value0", "value1"]
    assert (script.dir / "out" / "3.txt").exists()  # outputs only with --outputs

    assert script.run("2").ok().runs == []  # nothing a declared job needs was removed
    # declared again, they run again: nothing says their outputs are theirs any more
    assert sorted(script.run("4").ok().runs) == ["file2", "file3", "value2", "value3"]


def test_gc_outputs_and_older_than(script):
    samples(script)
    script.run("3").ok()
    script.run("1").ok()
    recent = cli(script, "gc", "--older-than", "1", "--outputs")
    assert "freed 0 B (0 job(s) not declared)" in recent.stdout, recent.stdout
    assert (script.dir / "out" / "2.txt").exists()
    done = cli(script, "gc", "--outputs")
    assert "removed out/2.txt: 1 file(s), 1 output(s), its record" in done.stdout, done.stdout
    assert not (script.dir / "out" / "2.txt").exists()
    assert (script.dir / "out" / "0.txt").exists()
    assert sorted(script.run("3").ok().runs) == ["file1", "file2", "value1", "value2"]


def test_gc_is_refused_while_a_run_holds_the_pipeline(script):
    samples(script)
    script.run("2").ok()
    proc = script.start("1", "hold")
    try:
        wait_for_file(script.dir / "waiting.started", proc=proc)
        refused = cli(script, "gc")
        assert refused.returncode == 2
        assert "is in use by another run (pid" in refused.stderr, refused.stderr
    finally:
        (script.dir / "release.flag").write_text("")
        script.finish(proc)
    assert "value1" in script.history()  # the refused gc removed nothing


def test_a_gc_killed_at_any_instant_leaves_the_pipeline_consistent(script):
    """kill -9 of gc while it removes files (and once, maybe, after it ended): the next
    run of every sample completes, each output is right, and a job that reruns is one
    whose value or record was removed."""
    samples(script)
    script.run("300").ok()
    values = script.ppg_dir / "cache" / "values"
    rng = random.Random(11)
    mid_way = 0
    # Four kills at chosen instants, then (on a busy machine, where gc can be done before
    # this loop sees it start) more at once until one has landed mid-way.
    delays = [0, 0, rng.uniform(0, 0.01), rng.uniform(0, 0.05)] + [0] * 6
    for attempt, delay in enumerate(delays):
        if attempt >= 4 and mid_way:
            break
        script.run("1").ok()  # 299 samples no longer declared
        before = script.history()
        files = len(list(values.iterdir()))
        gc = subprocess.Popen(
            [CLI, "gc"],
            cwd=script.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        while len(list(values.iterdir())) == files and gc.poll() is None:
            pass  # until it has started removing
        time.sleep(delay)
        kill_group(gc)  # type: ignore[arg-type]
        gc.wait()
        after = script.history()
        stored = {p.name.split("-")[0] for p in values.iterdir()}
        mid_way += len(after) == len(before) and len(stored) > 1  # (files gone, not all)
        run = script.run("300").ok()
        for i in range(300):
            assert (script.dir / "out" / f"{i}.txt").read_text() == str(i) * 100
        for name in run.runs:  # only what lost its record, or its stored value
            job = f"out/{name[4:]}.txt" if name.startswith("file") else name
            lost_value = name.startswith("value") and name not in stored
            assert job in before and (job not in after or lost_value), name
    assert mid_way, "no kill landed while gc was removing files"


def _bytes(line: str) -> float:
    number, unit = line.split()[:2]
    return float(number) * {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[unit]


def test_gc_with_the_notebook_keeps_every_job_of_it_whatever_the_last_run_declared(
    tmp_path: Path,
) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    def notebook(*cells: str) -> Path:
        path = tmp_path / "analysis.ipynb"
        sources = ["%load_ext ppg_notebook", *cells]
        nbformat.write(new_notebook(cells=[new_code_cell(c) for c in sources]), path)
        return path

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [CLI, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    a, b = "%%ppg_job a\na = 1", "%%ppg_job b\nb = a + 1"
    run("run", str(notebook(a, b, "%%ppg_job old\nold = 3")))
    run("run", str(notebook(a)))  # as a kernel that executed only its first cell
    path = notebook(a, b)  # the notebook as it is: `old` is gone, `b` is not
    assert "would remove b:" in run("gc", "--dry-run").stdout  # by the last run: b too
    by_notebook = run("gc", str(path), "--dry-run").stdout
    assert "would remove old:" in by_notebook and "would remove b:" not in by_notebook
    assert "not among the notebook's" in by_notebook
    run("gc", str(path))
    assert "nothing to do: 2 up to date" in run("run", str(path)).stdout  # b was kept


def test_the_values_of_a_job_with_several_are_its_own_not_strays(script):
    script.write(
        """
        ppg.new_pipeline(cores=1)
        ppg.MultiValueJob("split", ["train", "test"], lambda: {"train": [1] * 100, "test": [2]})
        run_and_report()
        """
    )
    script.run().ok()
    du = cli(script, "du").stdout
    assert "no known job" not in du and "not declared" not in du.split("in total")[0], du
    gc = cli(script, "gc")
    assert "freed 0 B" in gc.stdout, gc.stdout
    assert script.run().ok().runs == []
