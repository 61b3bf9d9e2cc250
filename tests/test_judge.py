"""The verdict on one job (judge.py), the step that the runner and the plan share: each kind
of job gets its verdict, and what the plan says will run is what a run then runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import ppg_notebook as ppg
from ppg_notebook.decide import UNKNOWN
from ppg_notebook.facts import FileStates
from ppg_notebook.judge import Judge, Verdict


def _write(path: Path) -> None:
    path.write_text(path.name)


def _judge(pipeline: Any) -> tuple[Judge, list[str]]:
    upstream, order = pipeline._graph()
    records = pipeline.history.load()
    return Judge(pipeline.jobs, upstream, records, pipeline.workdir, FileStates()), order


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    return ppg.new_pipeline(cores=1, allow_redefinition=True)


def test_each_kind_of_job_gets_its_verdict(pipeline: Any, tmp_path: Path) -> None:
    Path("data.csv").write_text("1,2\n")
    param = ppg.ParameterInvariant("threshold", 3)
    data = ppg.FileInvariant("data.csv")
    missing = ppg.FileInvariant("nowhere.csv")
    made = ppg.FileGeneratingJob("out.txt", _write).depends_on(param, data)
    loaded = ppg.DataLoadingJob("load", lambda: None)
    final = ppg.FinalJob("report", lambda: None)
    generating = ppg.JobGeneratingJob("more", lambda: None)
    judge, order = _judge(pipeline)
    verdicts = {job_id: judge.decide(job_id) for job_id in order}

    assert verdicts[param.job_id].verdict is Verdict.INVARIANT
    assert verdicts[data.job_id].verdict is Verdict.INVARIANT
    assert judge.fp[param.job_id] and judge.fp[data.job_id]  # (dependants read these)
    absent = verdicts[missing.job_id]
    assert absent.verdict is Verdict.MISSING_INPUT
    assert "nowhere.csv" in str(absent.error) and "create it" in str(absent.error)
    assert verdicts[loaded.job_id].verdict is Verdict.ON_DEMAND
    assert judge.fp[loaded.job_id] != UNKNOWN  # (what it provides is known without running)
    assert verdicts[final.job_id].verdict is Verdict.FINAL
    assert verdicts[generating.job_id].verdict is Verdict.ALWAYS
    never = verdicts[made.job_id]
    assert never.verdict is Verdict.RUN and never.reason is not None
    assert (never.reason.rule, never.reason.text) == (1, "it has never run")
    assert made.job_id not in judge.fp  # (a job that must run: its output is not known yet)


def test_a_job_that_ran_is_up_to_date_with_its_recorded_fingerprint(pipeline: Any) -> None:
    job = ppg.FileGeneratingJob("out.txt", _write)
    pipeline.run()
    judge, _ = _judge(pipeline)
    assert judge.decide(job.job_id).verdict is Verdict.UP_TO_DATE
    assert judge.fp[job.job_id] == pipeline.history.load()[job.job_id]["fp"]


def test_below_a_job_about_to_run_a_dependant_may_run(pipeline: Any) -> None:
    """The plan's walk: an upstream that will run is UNKNOWN, so its dependant may run
    (rule 5), and is decided again once that output is known."""
    up = ppg.FileGeneratingJob("up.txt", _write)
    down = ppg.FileGeneratingJob("down.txt", _write).depends_on(up)
    pipeline.run()
    judge, _ = _judge(pipeline)
    judge.fp[up.job_id] = UNKNOWN
    maybe = judge.decide(down.job_id)
    assert maybe.verdict is Verdict.RUN and maybe.reason is not None and maybe.reason.maybe


def test_what_the_plan_says_will_run_is_what_runs(pipeline: Any) -> None:
    """One walk: after a parameter changes, the plan's "will run" and "may run" are the
    jobs the run then runs, and the run runs nothing the plan calls up to date."""

    def declare(threshold: int) -> None:
        param = ppg.ParameterInvariant("threshold", threshold)
        a = ppg.FileGeneratingJob("a.txt", _write).depends_on(param)
        b = ppg.FileGeneratingJob("b.txt", _write).depends_on(a)
        ppg.FileGeneratingJob("c.txt", _write)
        ppg.FileGeneratingJob("d.txt", _write).depends_on(b)

    declare(1)
    pipeline.run()
    declare(2)
    plan = pipeline.plan()
    will = {job_id for job_id, r in plan.items() if r is not None and not r.maybe}
    may = {job_id for job_id, r in plan.items() if r is not None and r.maybe}
    assert will == {"a.txt"} and may == {"b.txt", "d.txt"}, plan
    result = pipeline.run()
    ran = {job_id for job_id, o in result.outcomes.items() if o is ppg.Outcome.RAN}
    assert ran == will  # (a.txt wrote what it wrote before: b.txt and d.txt were spared)
    assert {result.outcomes[job_id] for job_id in may} == {ppg.Outcome.UP_TO_DATE}
