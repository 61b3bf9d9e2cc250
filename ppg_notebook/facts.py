"""Facts the decision asks of the filesystem: are outputs as written, what is an input file?

A changed mtime (ns) or size triggers a content hash; an unchanged one trusts the record, so
a no-op run reads no file contents.
"""

from __future__ import annotations

import os
from typing import Any

from . import hashing
from .jobs import Job
from .records import Record, summary_digest
from .userfiles import normalize_path


def check_outputs(job: Job, record: Record, refreshed: list[str]) -> str | None:
    """Why the job's recorded outputs are no longer valid, or None.

    An output whose stat changed but whose content did not (a `touch`) gets its record's
    stat refreshed in place; the job id is then appended to `refreshed`.
    """
    outs = record.get("out", ())
    paths = job.outputs
    if len(outs) != len(paths):
        return "its outputs changed"
    for i, out in enumerate(outs):
        problem = _output_problem(paths[i], out, job.empty_ok)
        if problem == "":
            refreshed.append(job.job_id)
        elif problem is not None:
            what = _shown_output(job, i)
            return f"its output {what} {problem}"
    return None


def outputs_summary(job: Job, inputs: dict[str, str]) -> str | None:
    """`records.summary_digest` of what the job consumes now and of its outputs as they
    are; None if one is missing, or empty and may not be (a record cannot match)."""
    outputs = []
    for path in job.outputs:
        try:
            st = os.stat(path)
        except OSError:
            return None
        size = st.st_size
        if not size and not job.empty_ok:
            return None
        outputs.append((path, st.st_mtime_ns, size))
    return summary_digest(inputs, outputs)


def _shown_output(job: Any, i: int) -> str:
    if job.policy.value:
        return "(its stored value)"
    if job.policy.values:
        return f"(its stored value {job.names[i]!r})"
    return repr((job.paths or job.outputs)[i])


def recorded_outputs_problem(record: Record, stored: str) -> str | None:
    """`check_outputs` from the history alone (no job declared): why the outputs a record
    lists are no longer what the job wrote, or None. `stored`: where stored values live."""
    for out in record.get("out", ()):
        problem = _output_problem(out[0], out, empty_ok=out[2] == 0)
        if problem:
            what = "(its stored value)" if out[0].startswith(stored) else repr(out[0])
            return f"its output {what} {problem}"
    return None


def _output_problem(path: str, out: list[Any], empty_ok: bool) -> str | None:
    """What is wrong with output `path` compared with its record `out` ([path, mtime_ns,
    size, hash]); None if nothing; "" if only its stat changed (`out` is refreshed)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "is missing"
    size = st.st_size
    if size == out[2] and st.st_mtime_ns == out[1] and out[0] == path and (size or empty_ok):
        return None  # (the common case, kept fast)
    if size == 0 and not empty_ok:
        return "is empty"
    try:
        digest = hashing.hash_file(path)
    except OSError as e:
        return f"cannot be read ({e})"
    if digest != out[3]:
        return "was changed since the job wrote it"
    out[:] = [path, st.st_mtime_ns, st.st_size, digest]
    return ""


def input_file_record(path: str, record: Record | None) -> Record | None:
    """The current record of an input file (reusing the old hash if its stat is unchanged).

    Returns None if the file does not exist.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    if record is not None and record.get("out"):  # (a failed record: the file was missing)
        out = record["out"][0]
        if out[1] == st.st_mtime_ns and out[2] == st.st_size:
            return record
    digest = hashing.hash_file(path)
    return {"o": "ok", "out": [[path, st.st_mtime_ns, st.st_size, digest]], "fp": digest}


class FileStates:
    """The files one run (or plan) looks at: each stat'ed once, hashed at most once."""

    def __init__(self) -> None:
        self._stats: dict[str, tuple[int, int] | None] = {}
        self._hashes: dict[str, str | None] = {}

    def stat(self, path: str) -> tuple[int, int] | None:
        """(mtime_ns, size), or None if there is no such file."""
        if path not in self._stats:
            try:
                st = os.stat(path)
                self._stats[path] = (st.st_mtime_ns, st.st_size)
            except OSError:
                self._stats[path] = None
        return self._stats[path]

    def digest(self, path: str) -> str | None:
        """The content hash, or None if the file cannot be read."""
        if path not in self._hashes:
            try:
                self._hashes[path] = hashing.hash_file(path)
            except OSError:
                self._hashes[path] = None
        return self._hashes[path]


def read_problem(
    job_id: str,
    record: Record,
    workdir: str,
    states: FileStates,
    refreshed: list[str],
) -> str | None:
    """Why a file the job read at run time (a discovered input, SPEC §3a) makes it run
    again, or None. A file whose stat changed but whose content did not gets its stat
    refreshed in the record; the job id is then appended to `refreshed`."""
    found = record.get("r")
    if not found:
        return None
    touched = False
    for shown, entry in found.items():
        if not isinstance(entry, list) or len(entry) != 3:
            return f"it read {shown} at run time, and what was recorded of it is damaged"
        path = normalize_path(shown, workdir)[1]
        now = states.stat(path)
        if now is None:
            return f"it read {shown} at run time, which was removed"
        if entry[2] is None:
            return f"it read {shown} at run time, which could not be read to fingerprint it"
        if now == (entry[0], entry[1]):
            continue
        if states.digest(path) != entry[2]:
            return f"it read {shown} at run time, which changed"
        entry[0], entry[1] = now
        touched = True
    if touched:
        refreshed.append(job_id)
    return None


def reads_fingerprint(record: Record | None, workdir: str, states: FileStates) -> str:
    """What the files a loading job read last time hold now ("" if it read none)."""
    found = (record or {}).get("r")
    if not found:
        return ""
    parts = []
    for shown, entry in sorted(found.items()):
        path = normalize_path(shown, workdir)[1]
        now = states.stat(path)
        if now is None:
            parts.append(f"{shown}=missing")
        elif (
            isinstance(entry, list)
            and len(entry) == 3
            and now == (entry[0], entry[1])
            and entry[2] is not None
        ):
            parts.append(f"{shown}={entry[2]}")
        else:
            parts.append(f"{shown}={states.digest(path)}")
    return hashing.combine(parts)
