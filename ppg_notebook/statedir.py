"""Where a job's files live in the pipeline directory: its log, error file, stored value.

One place for the layout that the runner writes, and the widget, the live progress and
`du`/`gc` read.
"""

from __future__ import annotations

import os
import re

from . import hashing

VALUES = os.path.join("cache", "values")
LOGS = "logs"
ERRORS = "errors"
# (directory under the pipeline directory, suffix) of each job's own files
PER_JOB = ((VALUES, ".joblib"), (LOGS, ".log"), (ERRORS, ".txt"))
LIVE = ".live"  # beside a job's log: what it printed so far, while it runs


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(job_id: str) -> str:
    """A file name for a job's log, error file or stored value."""
    readable = _UNSAFE.sub("_", job_id)[-60:].lstrip(".")
    return f"{readable}-{hashing.hash_text(job_id)[:10]}"


def value_file(ppg_dir: str, name: str) -> str:
    return os.path.join(ppg_dir, VALUES, safe_name(name) + ".joblib")


def log_file(ppg_dir: str, job_id: str) -> str:
    return os.path.join(ppg_dir, LOGS, safe_name(job_id) + ".log")


def error_file(ppg_dir: str, job_id: str) -> str:
    return os.path.join(ppg_dir, ERRORS, safe_name(job_id) + ".txt")
