"""Recording the files a job opens (SPEC §3a), in this process: what counts as a read or a
write, which recorded files are a job's discovered inputs, and their fingerprints."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from ppg_notebook import hashing, reads
from ppg_notebook.userfiles import UserFiles


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("a,b\n")
    (tmp_path / ".ppg").mkdir()
    (tmp_path / ".ppg" / "state").write_text("ours")
    (tmp_path / "out.txt").write_text("output")
    (tmp_path / "declared.txt").write_text("input")
    (tmp_path / "noise").mkdir()
    (tmp_path / "noise" / "n.txt").write_text("n")
    (tmp_path / ".cache").mkdir()  # what tools keep for themselves (a project in a home)
    (tmp_path / ".cache" / "fontlist.json").write_text("{}")
    return tmp_path


def scope(root: Path, **kw: tuple[str, ...]) -> reads.Scope:
    return reads.Scope(UserFiles.of(str(root)), str(root), str(root / ".ppg"), **kw)


def _read(name: str) -> None:
    with open(name, "rb") as f:  # the builtin open(), as most code reads files
        f.read()


def _open(name: str, mode: str) -> None:
    with open(name, mode):
        pass


OPENS = [
    (lambda: _read("data.csv"), {"data.csv"}, set()),
    (lambda: Path("data.csv").read_bytes(), {"data.csv"}, set()),
    (lambda: os.close(os.open("data.csv", os.O_RDONLY)), {"data.csv"}, set()),
    (lambda: _open("data.csv", "r+"), {"data.csv"}, set()),
    (lambda: Path("made.txt").write_text("x"), set(), {"made.txt"}),
    (lambda: _open("made.txt", "x"), set(), {"made.txt"}),
    (lambda: _open("log.txt", "a"), set(), set()),
    (
        lambda: os.close(os.open("made.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)),
        set(),
        {"made.txt"},
    ),
]


@pytest.mark.parametrize(("action", "read", "written"), OPENS)
def test_what_counts_as_a_read_and_as_a_write(project: Path, action, read, written) -> None:  # type: ignore[no-untyped-def]
    with reads.recording() as rec:
        action()
    found = reads.summarize(rec, scope(project))
    assert set(found.reads) == read
    assert set(found.writes) == written


def test_only_the_jobs_own_undeclared_files_are_discovered_inputs(project: Path) -> None:
    with reads.recording() as rec:
        for name in (
            "data.csv",
            ".ppg/state",
            "out.txt",
            "declared.txt",
            "noise/n.txt",
            ".cache/fontlist.json",
        ):
            _read(name)
        _read(os.__file__)  # the standard library
        _read(hashing.__file__)  # a module's source, as an import reads it
        Path("scratch.txt").write_text("made by the job")
        _read("scratch.txt")  # it read back what it wrote itself
    found = reads.summarize(
        rec,
        scope(
            project,
            outputs=(str(project / "out.txt"),),
            declared=(str(project / "declared.txt"),),
            ignored=(str(project / "noise"),),
        ),
    )
    assert list(found.reads) == ["data.csv"]
    entry = found.reads["data.csv"]
    st = os.stat(project / "data.csv")
    assert entry == [st.st_mtime_ns, st.st_size, hashing.hash_file(str(project / "data.csv"))]
    assert found.writes == ("scratch.txt",)


def test_opens_are_routed_to_the_thread_that_records(project: Path) -> None:
    seen: list[set[str]] = []

    def other_job() -> None:
        with reads.recording() as rec:
            _read("noise/n.txt")
        seen.append(rec.reads)

    with reads.recording() as rec:
        thread = threading.Thread(target=other_job)
        thread.start()
        thread.join()
        _read("data.csv")
    assert rec.reads == {str(project / "data.csv")}
    assert seen == [{str(project / "noise" / "n.txt")}]


def test_a_file_that_cannot_be_hashed_is_recorded_without_a_hash(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with reads.recording() as rec:
        _read("data.csv")

    def denied(path: str) -> str:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(hashing, "hash_file", denied)
    reads._hashes.clear()
    found = reads.summarize(rec, scope(project))
    assert found.reads["data.csv"][2] is None
    assert found.unreadable == ("data.csv",)


def test_more_reads_than_the_limit_are_counted_not_kept(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reads, "MAX_READS", 3)
    for i in range(5):
        (project / f"f{i}.txt").write_text(str(i))
    with reads.recording() as rec:
        for i in range(5):
            _read(f"f{i}.txt")
    found = reads.summarize(rec, scope(project))
    assert len(found.reads) == 3
    assert found.dropped == 2


# --- deciding on what a job read (facts.read_problem) ------------------------------------
def _recorded(root: Path, name: str = "data.csv") -> dict[str, object]:
    path = root / name
    st = path.stat()
    return {"r": {name: [st.st_mtime_ns, st.st_size, hashing.hash_file(str(path))]}}


def _touch(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


READ_CHANGES = [
    pytest.param(lambda root, record: None, None, False, id="unchanged"),
    pytest.param(lambda root, record: _touch(root / "data.csv"), None, True, id="touched"),
    pytest.param(
        lambda root, record: (root / "data.csv").write_text("a,b\n1,2\n"),
        "it read data.csv at run time, which changed",
        False,
        id="changed",
    ),
    pytest.param(
        lambda root, record: (root / "data.csv").unlink(),
        "it read data.csv at run time, which was removed",
        False,
        id="removed",
    ),
    pytest.param(
        lambda root, record: record["r"]["data.csv"].__setitem__(2, None),
        "it read data.csv at run time, which could not be read to fingerprint it",
        False,
        id="unreadable-last-time",
    ),
    pytest.param(
        lambda root, record: record["r"].__setitem__("data.csv", "garbage"),
        "it read data.csv at run time, and what was recorded of it is damaged",
        False,
        id="damaged-record",
    ),
]


@pytest.mark.parametrize(("change", "problem", "refreshed"), READ_CHANGES)
def test_what_a_job_read_reruns_it_when_its_content_changed(
    project: Path, change, problem, refreshed
) -> None:  # type: ignore[no-untyped-def]
    from ppg_notebook import facts

    record = _recorded(project)
    change(project, record)
    touched: list[str] = []
    found = facts.read_problem("job", record, str(project), facts.FileStates(), touched)
    assert found == problem
    assert touched == (["job"] if refreshed else [])
    if refreshed:  # the record now holds the new stat: the next run reads nothing
        assert record["r"]["data.csv"][0] == (project / "data.csv").stat().st_mtime_ns
