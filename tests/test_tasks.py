"""What a worker is sent for a job (tasks.py), from real declared jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import ppg_notebook as ppg
from ppg_notebook import statedir, tasks
from ppg_notebook.worker import Context

NOT_CHAINED = {"chained": False, "unless": None, "kept": ""}


def _write(path: Path) -> None:
    path.write_text("x")


def _plot(data: Any) -> Any:
    raise AssertionError("not run here")


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    return ppg.new_pipeline(cores=1, allow_redefinition=True)


def _context(pipeline: Any, record_reads: bool = True) -> Context:
    return Context(pipeline.workdir, pipeline.dir, pipeline.files, record_reads)


def test_a_file_jobs_task(pipeline: Any, tmp_path: Path) -> None:
    job = ppg.FileGeneratingJob("out/a.txt", _write, empty_ok=True)
    task = tasks.task(job, _context(pipeline), (), NOT_CHAINED)
    assert task.job_id == "out/a.txt" and task.fn is _write
    assert task.paths == ("out/a.txt",) and task.outputs == (str(tmp_path / "out/a.txt"),)
    assert task.with_path and not task.multi and task.empty_ok
    assert task.log_path == statedir.log_file(pipeline.dir, "out/a.txt")
    assert not task.chained and task.unless is None


def test_a_multi_file_jobs_task_is_multi(pipeline: Any) -> None:
    job = ppg.MultiFileGeneratingJob(["a.txt", "b.txt"], lambda paths: None)
    task = tasks.task(job, _context(pipeline), (), NOT_CHAINED)
    assert task.multi and task.paths == ("a.txt", "b.txt")


def test_declared_inputs_are_the_outputs_of_the_upstream_jobs(
    pipeline: Any, tmp_path: Path
) -> None:
    up = ppg.MultiFileGeneratingJob(["u1.txt", "u2.txt"], lambda paths: None)
    other = ppg.FileGeneratingJob("o.txt", _write)
    down = ppg.FileGeneratingJob("d.txt", _write).depends_on(up, other)
    jobs = {j.job_id: j for j in (up, other, down)}
    upstream = {up.job_id: [], "o.txt": [], "d.txt": [up.job_id, "o.txt"]}
    declared = tasks.declared("d.txt", upstream, jobs)
    assert declared == tuple(str(tmp_path / n) for n in ("u1.txt", "u2.txt", "o.txt"))
    assert tasks.task(down, _context(pipeline), declared, NOT_CHAINED).declared == declared
    # Reads not recorded: nothing to tell them from.
    assert tasks.task(down, _context(pipeline, False), declared, NOT_CHAINED).declared == ()


def test_a_plot_jobs_task_draws_its_calc_jobs_stored_value(pipeline: Any) -> None:
    job = ppg.PlotJob("fig.png", lambda: 1, _plot)
    task = tasks.task(job, _context(pipeline), (), NOT_CHAINED)
    assert task.extra == job.calc_job.outputs[0]
    assert task.fn is _plot


def test_a_chained_task_carries_its_place_in_the_chain(pipeline: Any) -> None:
    job = ppg.FileGeneratingJob("a.txt", _write)
    chain = {"chained": True, "unless": "fp-up", "kept": "fp-a"}
    task = tasks.task(job, _context(pipeline), (), chain)
    assert (task.chained, task.unless, task.kept) == (True, "fp-up", "fp-a")


def test_the_scope_holds_the_jobs_outputs_declared_inputs_and_ignored_reads(
    pipeline: Any, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    job = ppg.FileGeneratingJob("a.txt", _write).ignore_reads("data")
    task = tasks.task(job, _context(pipeline), (), NOT_CHAINED)
    assert task.ignored == (str(tmp_path / "data"),)
    scope = tasks.scope(job, ("/w/in.txt",), _context(pipeline))
    assert scope.outputs == job.outputs and scope.declared == ("/w/in.txt",)
    assert scope.ignored == (str(tmp_path / "data"),)
    assert scope.workdir == pipeline.workdir and scope.ppg_dir == pipeline.dir
