"""A full disk, for real: the pipeline directory on a 2 MB tmpfs (needs root, as in CI).

Whatever runs out of space, the run says which pipeline or job and what to do, leaves no
temporary file behind, keeps every record it had, and the next run (in the same process
too) works once there is room again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PipelineScript

from ppg_notebook.errors import PipelineError
from ppg_notebook.history import History


class SmallDisk:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.fill = root / "fill"

    def free(self) -> int:
        return shutil.disk_usage(self.root).free

    def fill_up(self, leave: int = 0) -> None:
        """Take all the space but `leave` bytes (tmpfs counts whole 4 KiB pages)."""
        with open(self.fill, "ab") as f:
            want = self.free() - leave
            try:
                while want > 0:
                    f.write(b"\0" * min(want, 65536))
                    f.flush()
                    want -= 65536
            except OSError:
                pass

    def make_room(self) -> None:
        self.fill.unlink(missing_ok=True)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    root = tmp_path / "disk"
    root.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", f"ppgtest-{uuid.uuid4().hex[:6]}", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield SmallDisk(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


# The pipeline directory is on the small disk; the script, its outputs and runs.log are not.
PIPELINE = """
ppg.new_pipeline(dir=sys.argv[1], cores=2)


def big():
    mark("big")
    return os.urandom(int(sys.argv[2]))


def small(i):
    def write(path):
        mark(f"small{i}")
        path.write_text(str(i))

    return write


ppg.ValueJob("big", big).depends_on(ppg.ParameterInvariant("size", sys.argv[2]))
for i in range(5):
    ppg.FileGeneratingJob(f"out/{i}.txt", small(i))
if sys.argv[3:] == ["retry"]:  # fails for want of space, then runs again with room
    try:
        ppg.run()
    except ppg.PipelineError as e:
        print("@@FIRST", type(e).__name__, e)
    os.unlink(os.path.join(os.path.dirname(sys.argv[1]), "fill"))
run_and_report()
"""


@pytest.fixture
def pipeline(tmp_path: Path, disk: SmallDisk) -> PipelineScript:
    script = PipelineScript(tmp_path)
    script.write(PIPELINE)
    return script


def test_a_value_that_does_not_fit_fails_its_job_and_leaves_no_temporary_file(
    pipeline: PipelineScript, disk: SmallDisk
) -> None:
    ppg_dir = str(disk.root / ".ppg")
    assert sorted(pipeline.run(ppg_dir, "10").ok().runs)[0] == "big"
    disk.fill_up(leave=300_000)
    free = disk.free()
    run = pipeline.run(ppg_dir, "900000")  # 900 kB do not fit in 300 kB
    assert run.result is not None, run.describe()
    message = run.result["failed"]["big"]
    assert "job 'big': its code ran, but its value" in message
    assert "No space left on device" in message and "free some disk space" in message
    assert not [p.name for p in (disk.root / ".ppg" / "cache" / "values").iterdir()]
    assert disk.free() >= free - 64 * 1024  # (the history grew by a record or two)
    disk.make_room()
    assert pipeline.run(ppg_dir, "900000").ok().runs == ["big"]


def test_a_full_disk_is_said_and_the_same_process_runs_once_there_is_room(
    pipeline: PipelineScript, disk: SmallDisk
) -> None:
    ppg_dir = str(disk.root / ".ppg")
    assert len(pipeline.run(ppg_dir, "10").ok().runs) == 6
    disk.fill_up()
    run = pipeline.run(ppg_dir, "20", "retry").ok()  # the lock was not kept by the failure
    first = next(line for line in run.stdout.splitlines() if line.startswith("@@FIRST"))
    assert "PipelineError" in first and str(disk.root / ".ppg" / "history") in first
    assert "Free some disk space" in first
    assert run.runs == ["big"]  # every record was kept: only what changed ran
    assert not list((disk.root / ".ppg").glob("history.unreadable*"))


def test_a_history_write_that_fails_is_rolled_back_and_the_next_one_works(
    disk: SmallDisk,
) -> None:
    history = History(str(disk.root / "history"))
    history.put([("kept", {"o": "ok"})])
    disk.fill_up(leave=100_000)
    records = [(f"job{i}", {"o": "ok", "e": "x" * 1000}) for i in range(500)]  # 500 kB
    with pytest.raises(PipelineError, match=r"could not be written \(500 finished job"):
        history.put(records)
    assert history.load() == {"kept": {"o": "ok"}}  # all or nothing
    disk.make_room()
    history.put(records)  # (no "transaction within a transaction")
    assert len(history.load()) == 501
    history.close()
