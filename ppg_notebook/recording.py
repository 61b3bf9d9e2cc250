"""What a run writes to the history, and the error files of the jobs that failed.

The runner hands over each settled job's record as its result arrives; they are committed
together at the next `flush` (History.put: one transaction), which the runner calls
whenever it is about to wait, so a record is on disk before the run goes on with what it
allowed. The pieces of the user's code behind a record's code inputs are stored once per
digest (SPEC §3a: to say later which piece changed). A record whose outputs' or reads' stat
changed but content did not is `refreshed`: written again with the new stat.
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from typing import Any

from . import reads, statedir
from .consumed import CodeDetails
from .records import Record, Records


class Recorder:
    def __init__(self, history: Any, records: Records, ppg_dir: str) -> None:
        self.history = history
        self.records = records
        self.ppg_dir = ppg_dir
        self.pending: list[tuple[str, Record]] = []
        self.pending_code: dict[str, dict[str, Any]] = {}  # digest -> its pieces
        self.stored_code: set[str] = set()
        self.refreshed: list[str] = []  # (filled in by the rules, see consumed.job_reason)
        self.failed_now: set[str] = set()  # jobs recorded as failed in this run

    def put(self, job_id: str, record: Record) -> None:
        """`record` is the job's from now on; written at the next flush. The error file
        of a failed run goes when the job has run well."""
        if record.get("o") == "ok":
            previous = self.records.get(job_id)
            if job_id in self.failed_now or (
                previous is not None and previous.get("o") == "failed"
            ):
                self.failed_now.discard(job_id)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(statedir.error_file(self.ppg_dir, job_id))
        elif record.get("o") == "failed":
            self.failed_now.add(job_id)  # (its record, once written, is not held)
        self.records[job_id] = record
        self.pending.append((job_id, record))

    def ran(
        self,
        record: Record,
        inputs: dict[str, str],
        details: CodeDetails,
        found: reads.Found,
    ) -> None:
        """Fill in the record of a job that ran: what it consumed, the pieces of code
        behind its code inputs (stored once per digest), the files it read."""
        record["o"] = "ok"
        record["i"] = inputs
        if found.reads:
            record["r"] = found.reads
        if not details.digests:
            return
        record["c"] = details.digests
        for digest, pieces in details.pieces.items():
            if digest not in self.stored_code:
                self.stored_code.add(digest)
                self.pending_code[digest] = {"pieces": pieces, "modules": details.modules[digest]}

    def flush(self) -> None:
        if self.refreshed:
            self.pending.extend((i, self.records[i]) for i in set(self.refreshed))
            self.refreshed.clear()
        if self.pending:
            self.history.put(self.pending, self.pending_code)
            for job_id, _ in self.pending:
                self.records.done(job_id)  # (the history has it)
            self.pending = []
            self.pending_code = {}

    def failed(self, job_id: str, error: BaseException, tb: str) -> str | None:
        """Record that the job failed, and keep its traceback `tb` in its error file; a
        warning if that cannot be (a full disk: the failure is reported all the same)."""
        text = tb or "".join(traceback.format_exception_only(type(error), error))
        record: Record = {"o": "failed", "i": {}, "t": time.time()}
        record["e"] = f"{type(error).__name__}: {error}"
        self.put(job_id, record)
        return self._save_error(job_id, text)

    def _save_error(self, job_id: str, text: str) -> str | None:
        path = statedir.error_file(self.ppg_dir, job_id)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(f"job: {job_id}\nat: {time.ctime()}\n\n{text}")
        except OSError as e:
            with contextlib.suppress(OSError):
                os.unlink(path)  # (not half a traceback)
            return f"job {job_id!r}: its traceback could not be saved: {e}"
        return None

    def last_error(self, job_id: str) -> str:
        """The traceback the job's error file holds (after its header lines)."""
        try:
            with open(statedir.error_file(self.ppg_dir, job_id), errors="replace") as fh:
                text = fh.read()
        except OSError:
            return ""
        return text.split("\n\n", 1)[1] if "\n\n" in text else text
