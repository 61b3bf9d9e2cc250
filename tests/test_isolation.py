"""A job's own misbehaviour stays its own (SPEC §4): it changes directory, or raises
KeyboardInterrupt itself; in real subprocesses and workers."""

from __future__ import annotations

CHDIR = """
ppg.new_pipeline(cores=1)
os.makedirs("elsewhere", exist_ok=True)


def wanders(path):
    path.write_text("wandered")
    os.chdir("elsewhere")


def innocent(path):
    path.write_text("innocent")  # a relative path: the pipeline's directory


first = ppg.FileGeneratingJob("wanders.txt", wanders)
ppg.FileGeneratingJob("innocent.txt", innocent).depends_on(first)
run_and_report()
"""


def test_a_job_that_changes_directory_does_not_move_the_next_one(script) -> None:  # type: ignore[no-untyped-def]
    script.write(CHDIR)
    script.run()
    for path in script.dir.glob("*.txt"):  # again, now that both are known to be short:
        path.unlink()  # the dependant travels chained right behind the wanderer
    run = script.run().ok()
    assert sorted(run.ran) == ["innocent.txt", "wanders.txt"], run.describe()
    assert (script.dir / "innocent.txt").read_text() == "innocent"
    assert list((script.dir / "elsewhere").iterdir()) == []


INTERRUPTS = """
ppg.new_pipeline(cores=1)


def raises_in_worker(path):
    raise KeyboardInterrupt("the job's own")


def loads():
    raise KeyboardInterrupt("the loader's own")


def needs_loaded(path):
    path.write_text("never")


def fine(path):
    mark("fine")
    path.write_text("fine")


ppg.FileGeneratingJob("worker.txt", raises_in_worker)
loader = ppg.DataLoadingJob("loader", loads)
ppg.FileGeneratingJob("needs.txt", needs_loaded).depends_on(loader)
ppg.FileGeneratingJob("fine.txt", fine)
run_and_report()
"""


def test_a_job_raising_keyboard_interrupt_fails_only_itself(script) -> None:  # type: ignore[no-untyped-def]
    script.write(INTERRUPTS)
    run = script.run()
    assert run.returncode == 0 and run.result is not None, run.describe()
    assert run.result["ran"] == ["fine.txt"], run.describe()
    assert set(run.result["failed"]) == {"worker.txt", "loader"}
    assert "KeyboardInterrupt" in run.result["failed"]["worker.txt"]
    assert run.result["upstream_failed"] == ["needs.txt"]


OUTPUTS = """
ppg.new_pipeline(cores=1)
os.makedirs("a_directory", exist_ok=True)
Path("a_directory/inside.txt").write_text("keep me")
if not os.path.islink("link.txt"):
    os.symlink("target.txt", "link.txt")


def into_directory(path):
    path.write_text("cannot")  # it is a directory


def through_link(path):
    with open(path, "w") as fh:
        fh.write("half")
        fh.flush()
        raise ValueError("stopped half way")


for i in range(20):
    ppg.FileGeneratingJob(f"fine{i}.txt", write(f"fine{i}"))
ppg.FileGeneratingJob("a_directory", into_directory)
ppg.FileGeneratingJob("link.txt", through_link)
run_and_report()
"""


def test_a_failed_jobs_outputs_are_removed_or_it_says_why(script) -> None:  # type: ignore[no-untyped-def]
    script.write(OUTPUTS)
    run = script.run()
    assert run.result is not None, run.describe()
    failed = run.result["failed"]
    assert set(failed) == {"a_directory", "link.txt"}, run.describe()
    assert "cannot be removed: 'a_directory'" in failed["a_directory"]
    assert "cannot be sent" not in failed["a_directory"]  # (not blamed on pickling)
    assert len(run.result["ran"]) == 20
    assert (script.dir / "a_directory" / "inside.txt").read_text() == "keep me"
    # The partial content went through the link: it is removed where it was written.
    assert not (script.dir / "target.txt").exists()
    assert "stopped half way" in failed["link.txt"]
