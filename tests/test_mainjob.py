"""A job run in the main process (mainjob.py): in the pipeline's directory, what it read
recorded, its own KeyboardInterrupt only its failure, and refused when a user module it
reaches was edited after it was imported."""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ppg_notebook as ppg
from ppg_notebook import mainjob, tasks
from ppg_notebook.errors import StaleModule
from ppg_notebook.worker import Context


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    return ppg.new_pipeline(cores=1, allow_redefinition=True)


def _run(pipeline: Any, job: Any, record_reads: bool = False, interrupted: bool = False):
    context = Context(pipeline.workdir, pipeline.dir, pipeline.files, record_reads)
    return mainjob.run_here(
        job,
        pipeline.workdir,
        record_reads,
        lambda: tasks.scope(job, (), context),
        lambda: interrupted,
    )


def test_a_job_runs_in_the_pipelines_directory_and_the_callers_stays(
    pipeline: Any, tmp_path: Path
) -> None:
    seen: list[str] = []
    job = ppg.DataLoadingJob("load", lambda: seen.append(os.getcwd()) or 1)
    (tmp_path / "elsewhere").mkdir()
    os.chdir(tmp_path / "elsewhere")
    ran = _run(pipeline, job)
    assert seen == [str(tmp_path)]
    assert os.getcwd() == str(tmp_path / "elsewhere")
    assert ran.error is None and ran.record is not None
    assert set(ran.record) == {"t", "d"} and ran.record["d"] >= 0


def test_what_the_job_read_is_recorded(pipeline: Any, tmp_path: Path) -> None:
    (tmp_path / "table.csv").write_text("a,b")
    job = ppg.DataLoadingJob("load", lambda: Path("table.csv").read_text())
    ran = _run(pipeline, job, record_reads=True)
    assert list(ran.found.reads) == ["table.csv"]
    assert _run(pipeline, job, record_reads=False).found.reads == {}


def test_a_job_that_raises_fails_with_its_traceback(pipeline: Any, tmp_path: Path) -> None:
    def load() -> None:
        raise ValueError("no such table")

    job = ppg.DataLoadingJob("load", load)
    os.chdir(tmp_path.parent)
    ran = _run(pipeline, job)
    assert ran.record is None and isinstance(ran.error, ValueError)
    assert "no such table" in ran.traceback and "in load" in ran.traceback
    assert os.getcwd() == str(tmp_path.parent)  # (restored after a failure too)


def test_a_keyboard_interrupt_of_the_jobs_own_only_fails_it(pipeline: Any) -> None:
    def load() -> None:
        raise KeyboardInterrupt("the job's own")

    job = ppg.DataLoadingJob("load", load)
    ran = _run(pipeline, job, interrupted=False)
    assert ran.record is None and isinstance(ran.error, KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):  # (the user's Ctrl-C: the run stops)
        _run(pipeline, job, interrupted=True)


def test_a_run_where_a_loading_job_raises_keyboard_interrupt_goes_on(pipeline: Any) -> None:
    from inprocess import InProcessWorkers

    pipeline.workers = InProcessWorkers(1)

    def load() -> None:
        raise KeyboardInterrupt("the job's own")

    loader = ppg.DataLoadingJob("load", load)
    ppg.FileGeneratingJob("a.txt", lambda p: p.write_text("a")).depends_on(loader)
    ppg.FileGeneratingJob("b.txt", lambda p: p.write_text("b"))
    with pytest.raises(ppg.JobsFailed) as failed:
        pipeline.run()
    result = failed.value.result
    assert result.outcomes["load"] is ppg.Outcome.FAILED
    assert result.outcomes["a.txt"] is ppg.Outcome.UPSTREAM_FAILED
    assert result.outcomes["b.txt"] is ppg.Outcome.RAN


UTILS = 'def load():\n    return "old"\n'


@pytest.fixture
def utils(pipeline: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "mj_utils.py"
    path.write_text(UTILS)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("mj_utils")
    yield path
    sys.modules.pop("mj_utils", None)


def test_refused_when_a_module_it_reaches_was_edited_after_its_import(
    pipeline: Any, utils: Path
) -> None:
    import mj_utils  # type: ignore[import-not-found]

    job = ppg.DataLoadingJob("load", mj_utils.load)
    assert job.code_reach().modules == ("mj_utils",), job.code_reach()
    assert mainjob.refused(job, {}) is None
    st = utils.stat()
    utils.write_text(UTILS.replace('"old"', '"new"'))
    os.utime(utils, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    pipeline.code.new_epoch()  # (a new run looks at the code again)
    refused = mainjob.refused(job, {})
    assert isinstance(refused, StaleModule)
    assert "job 'load' runs in this process, whose module 'mj_utils' is older" in str(refused)
    assert "importlib.reload(mj_utils)" in str(refused)
    importlib.reload(mj_utils)
    assert mainjob.refused(job, {}) is None


def test_a_real_ctrl_c_is_noticed_and_the_handler_restored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(signal, "getsignal", signal.getsignal)  # (restored by monkeypatch)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), mainjob.noticing_ctrl_c() as seen:
            assert not seen.is_set()
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(2)
        assert seen.is_set()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)


def test_working_directory_restores_the_callers(tmp_path: Path) -> None:
    before = os.getcwd()
    with mainjob.working_directory(str(tmp_path)):
        assert os.getcwd() == str(tmp_path)
    assert os.getcwd() == before
