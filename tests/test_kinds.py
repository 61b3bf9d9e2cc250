"""The kinds of jobs: each class's record in the one table (kinds.py), and what it says."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

import ppg_notebook as ppg
from ppg_notebook import consumed, jobs
from ppg_notebook.invariants import ModuleReadsInvariant, StyleInvariant
from ppg_notebook.kinds import KINDS, MAIN, NOWHERE, TASK_DUMP, TASK_FILE, WORKER, Kind


@pytest.fixture
def pipeline(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return ppg.new_pipeline(cores=1)


def nothing(*args: Any) -> int:
    return 1


# class, kind (as users see it), where it runs, worker task, lazy, always, and the facts
# the record holds beyond those (any not named are False).
CASES: list[tuple[type[jobs.Job], str, str, str, bool, bool, set[str]]] = [
    (ppg.FileGeneratingJob, "file", WORKER, TASK_FILE, False, False, set()),
    (ppg.MultiFileGeneratingJob, "multifile", WORKER, TASK_FILE, False, False, {"several_files"}),
    (ppg.TempFileGeneratingJob, "tempfile", WORKER, TASK_FILE, True, False, set()),
    (ppg.DataLoadingJob, "load", MAIN, TASK_FILE, True, False, set()),
    (ppg.AttributeLoadingJob, "attribute", MAIN, TASK_FILE, True, False, set()),
    (jobs._CalcJob, "cachecalc", WORKER, TASK_DUMP, False, False, set()),
    (jobs._LoadCached, "loadcached", MAIN, TASK_FILE, True, False, set()),
    (ppg.ValueJob, "value", WORKER, "value", False, False, {"value"}),
    (ppg.MultiValueJob, "values", WORKER, "values", False, False, {"values"}),
    (ppg.PlotJob, "plot", WORKER, "plot", False, False, set()),
    (ppg.JobGeneratingJob, "generating", MAIN, TASK_FILE, False, True, {"generates"}),
    (ppg.FinalJob, "final", MAIN, TASK_FILE, False, False, {"last"}),
    (ppg.FunctionInvariant, "function", NOWHERE, TASK_FILE, False, False, {"code"}),
    (ppg.ParameterInvariant, "parameter", NOWHERE, TASK_FILE, False, False, set()),
    (ppg.FileInvariant, "input", NOWHERE, TASK_FILE, False, False, set()),
    (ppg.ValuePart, "part", NOWHERE, TASK_FILE, False, False, {"part"}),
]
FACTS = ("last", "generates", "value", "values", "several_files", "code", "part")


@pytest.mark.parametrize(
    ("cls", "kind", "where", "task", "lazy", "always", "facts"),
    CASES,
    ids=[case[0].__name__ for case in CASES],
)
def test_each_class_points_at_its_kinds_record(
    cls: type[jobs.Job], kind: str, where: str, task: str, lazy: bool, always: bool, facts: set
) -> None:
    record = cls.policy
    assert record is KINDS[kind]
    assert (record.name, record.where, record.task, record.lazy, record.always) == (
        kind,
        where,
        task,
        lazy,
        always,
    )
    assert {f for f in FACTS if getattr(record, f)} == facts
    # What the runner reads of every job is the record's, on the class.
    assert (cls.kind, cls.where, cls.task, cls.lazy, cls.always) == (
        kind,
        where,
        task,
        lazy,
        always,
    )


def test_the_table_holds_each_kind_once_and_every_kind_has_a_class() -> None:
    assert all(name == record.name for name, record in KINDS.items())
    assert set(KINDS) == {case[1] for case in CASES}


def test_kinds_shared_by_two_classes() -> None:
    assert ModuleReadsInvariant.policy is ppg.FunctionInvariant.policy  # the user's code
    assert StyleInvariant.policy is ppg.ParameterInvariant.policy  # a value, not code


def test_what_keeps_values_and_how_inputs_are_named() -> None:
    assert [k for k, r in KINDS.items() if r.stores] == ["value", "values"]
    named = {k: r.named for k, r in KINDS.items() if r.named}
    assert named == {"function": "function", "parameter": "parameter", "input": "input file"}


def test_a_record_is_frozen() -> None:
    with pytest.raises(AttributeError):
        KINDS["file"].lazy = True  # type: ignore[misc]
    assert Kind("x", WORKER).task == TASK_FILE


def test_main_process_jobs_are_not_loading_jobs(pipeline) -> None:
    # FinalJob and JobGeneratingJob run in the main process like a DataLoadingJob, but
    # are not one: they always run (or run last), and may return None.
    final = ppg.FinalJob("final", lambda: None)
    generating = ppg.JobGeneratingJob("gen", lambda: None)
    for job in (final, generating):
        assert job.where == MAIN
        assert not isinstance(job, ppg.DataLoadingJob)
        job.load()  # (None is fine)
    loader = ppg.DataLoadingJob("load", lambda: None)
    with pytest.raises(ppg.JobContractError, match="DataLoadingJob 'load' returned None"):
        loader.load()


def test_constructed_jobs_show_their_kind(pipeline) -> None:
    multi = ppg.MultiValueJob("m", ["a", "b"], lambda: {"a": 1, "b": 2})
    cached = ppg.CachedDataLoadingJob("c.joblib", nothing, nothing)
    declared = [
        ppg.FileGeneratingJob("a.txt", nothing),
        ppg.MultiFileGeneratingJob(["b.txt", "c.txt"], nothing),
        ppg.TempFileGeneratingJob("t.txt", nothing),
        ppg.ValueJob("v", nothing),
        ppg.PlotJob("p.png", nothing, nothing),
        multi,
        multi.part("a"),
        cached,
        pipeline.jobs["c.joblib"],
        ppg.ParameterInvariant("x", 1),
        ppg.FileInvariant("in.csv"),
        ppg.FunctionInvariant("f", nothing),
    ]
    assert [job.kind for job in declared] == [
        "file",
        "multifile",
        "tempfile",
        "value",
        "plot",
        "values",
        "part",
        "loadcached",
        "cachecalc",
        "parameter",
        "input",
        "function",
    ]
    assert jobs.as_path_list(declared[1]) == [Path("b.txt"), Path("c.txt")]
    assert declared[1].job_id != "b.txt"  # (several files: an id naming them all)


def test_inputs_are_named_for_people_by_their_kind(pipeline) -> None:
    multi = ppg.MultiValueJob("m", ["a"], lambda: {"a": 1})
    declared = {
        job.job_id: job
        for job in (
            ppg.ParameterInvariant("x", 1),
            ppg.FunctionInvariant("f", nothing),
            ppg.FileInvariant("in.csv"),
            multi.part("a"),
            ppg.ValueJob("v", nothing),
        )
    }
    assert [consumed.describe(job, job_id) for job_id, job in declared.items()] == [
        "parameter 'x'",
        "function 'f'",
        "input file 'in.csv'",
        "job 'm' (its value 'a')",
        "job 'v'",
    ]
    assert consumed.describe(None, "gone") == "job 'gone'"


def test_a_job_still_travels_as_the_handle_of_jobs_py(pipeline) -> None:
    # The handle's name is part of the fingerprint of a parameter that holds a job.
    data = pickle.dumps(ppg.ValueJob("v", nothing), protocol=4)
    assert b"ppg_notebook.jobs" in data and b"JobHandle" in data
