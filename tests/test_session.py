"""Pipeline.remove_job: how a notebook cell that now declares another job forgets the old."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import ppg_notebook as ppg


def _write(path: Path) -> None:
    path.write_text("x")


def test_remove_job_forgets_the_job_and_frees_its_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    pipeline = ppg.new_pipeline(allow_redefinition=True)
    first = ppg.FileGeneratingJob("a.txt", _write)
    user = ppg.FileGeneratingJob("b.txt", _write).depends_on(first)
    with pytest.raises(ppg.DependencyError, match=r"'b\.txt' depend"):
        pipeline.remove_job("a.txt")
    assert "a.txt" in pipeline.jobs
    pipeline.remove_job(user.job_id)
    pipeline.remove_job("a.txt")
    pipeline.remove_job("a.txt")  # already gone: nothing to do
    assert pipeline.jobs == {}
    assert pipeline.producers == {}
    ppg.ValueJob("a", lambda: 1)
    ppg.FileGeneratingJob("a.txt", _write)  # its output may be declared again
    assert sorted(pipeline.run().ran) == ["a", "a.txt"]


def test_pypipegraph_names_all_cpus_by_default_and_one_base_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPEC §2: the pypipegraph aliases, cores=None meaning all CPUs, and every exception
    a PipelineError."""
    monkeypatch.chdir(tmp_path)
    pipeline = ppg.new_pipegraph()
    assert ppg.current.get() is pipeline
    assert pipeline.cores == os.cpu_count()
    ppg.FileGeneratingJob("a.txt", _write)
    assert ppg.run_pipegraph().ran == ["a.txt"]
    errors = [ppg.JobsFailed, ppg.CycleError, ppg.JobContractError, ppg.JobRedefinitionError]
    errors += [ppg.PipelineLocked, ppg.DependencyError, ppg.WorkerDied]
    assert all(issubclass(error, ppg.PipelineError) for error in errors)
