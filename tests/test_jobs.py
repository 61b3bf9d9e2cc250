"""Declaring jobs: ids, paths, redefinition, dependencies (no running here)."""

from __future__ import annotations

import pickle
from pathlib import Path

import cloudpickle
import pytest

import ppg_notebook as ppg


@pytest.fixture
def pipeline(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return ppg.new_pipeline(cores=1)


def write(p: Path) -> None:
    p.write_text("x")


def test_file_job_ids_are_normalized_paths(pipeline, tmp_path) -> None:
    assert ppg.FileGeneratingJob("a.txt", write).job_id == "a.txt"
    assert ppg.FileGeneratingJob("./sub/../b.txt", write).job_id == "b.txt"
    assert ppg.FileGeneratingJob(tmp_path / "c.txt", write).job_id == "c.txt"
    outside = ppg.FileGeneratingJob("/tmp/elsewhere-ppg-test.txt", write)
    assert outside.job_id == "/tmp/elsewhere-ppg-test.txt"


@pytest.mark.parametrize("spelling", ["a.txt", "./a.txt", "sub/../a.txt", "ABS"])
def test_every_spelling_of_one_file_is_one_output(pipeline, tmp_path, spelling) -> None:
    ppg.MultiFileGeneratingJob(["a.txt", "b.txt"], lambda paths: None)
    path = str(tmp_path / "a.txt") if spelling == "ABS" else spelling
    with pytest.raises(ppg.JobRedefinitionError, match="would be written by two jobs"):
        ppg.FileGeneratingJob(path, write)


def test_same_declaration_twice_is_one_job(pipeline) -> None:
    first = ppg.FileGeneratingJob("a.txt", write)
    first.depends_on(ppg.ParameterInvariant("p", 1))
    second = ppg.FileGeneratingJob("a.txt", write)
    assert "PI:p" in second.upstream  # dependencies declared on the first are kept
    assert pipeline.jobs["a.txt"] is second


def test_different_function_for_the_same_id_is_an_error(pipeline) -> None:
    ppg.FileGeneratingJob("a.txt", write)
    with pytest.raises(ppg.JobRedefinitionError, match=r"'a\.txt' is declared twice"):
        ppg.FileGeneratingJob("a.txt", lambda p: p.write_text("other"))
    with pytest.raises(ppg.JobRedefinitionError):
        ppg.ParameterInvariant("p", 1) and ppg.ParameterInvariant("p", 2)


def test_notebook_mode_replaces_a_redefined_job(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    pipeline = ppg.new_pipeline(allow_redefinition=True)
    ppg.FileGeneratingJob("a.txt", write).depends_on(ppg.ParameterInvariant("p", 1))
    second = ppg.FileGeneratingJob("a.txt", lambda p: p.write_text("new"))
    assert pipeline.jobs["a.txt"] is second
    assert not second.upstream


def test_depends_on_flattens_and_returns_the_job(pipeline) -> None:
    a = ppg.FileGeneratingJob("a.txt", write)
    b = ppg.FileGeneratingJob("b.txt", write)
    c = ppg.FileGeneratingJob("c.txt", write)
    assert c.depends_on([a, [b]], "input.csv") is c
    assert c.upstream == ["a.txt", "b.txt", "input.csv"]
    with pytest.raises(TypeError, match="depends_on"):
        c.depends_on(42)
    with pytest.raises(ValueError, match="cannot depend on itself"):
        c.depends_on(c)


def test_invariant_ids_are_prefixed(pipeline) -> None:
    assert ppg.ParameterInvariant("x", 1).job_id == "PI:x"
    assert ppg.FunctionInvariant("f", write).job_id == "FI:f"
    assert ppg.FileInvariant("data.csv").job_id == "file:data.csv"


def test_names_must_be_strings(pipeline) -> None:
    with pytest.raises(TypeError, match="non-empty string"):
        ppg.ValueJob("", lambda: 1)
    with pytest.raises(TypeError, match="expected a function"):
        ppg.FileGeneratingJob("a.txt", "not callable")


def test_a_job_travels_to_workers_as_a_small_handle(pipeline) -> None:
    value = ppg.ValueJob("v", lambda: 1)
    handle = pickle.loads(cloudpickle.dumps(value))
    assert handle.job_id == "v"
    assert not hasattr(handle, "pipeline")
