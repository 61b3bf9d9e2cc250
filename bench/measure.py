"""Time one command run as this process's only child, and report its peak memory.

    python bench/measure.py TIMEOUT STDOUT_FILE STDERR_FILE [--own-sessions SID,...] -- COMMAND...

Prints one JSON object: ``status`` (ok | error | timeout), ``seconds`` (wall time of the whole
child process, interpreter start included, by ``time.perf_counter`` around ``subprocess``),
``returncode``, ``tree_rss_mb`` and ``background_cpu_s``.

``tree_rss_mb`` is ``getrusage(RUSAGE_CHILDREN).ru_maxrss``. This wrapper has no other child,
so it is the peak RSS of the largest single process among the command and every descendant
it waited for (Linux folds a reaped child's own ``RUSAGE_CHILDREN`` maximum into its
parent's). Worker processes are thus included, and a forked worker counts the pages it
shares with its parent. The main process alone reports its ``RUSAGE_SELF`` (see case.py).

``background_cpu_s`` is the CPU time the whole machine spent busy during the run (from
``/proc/stat``) minus what the command's own processes used (itself, the descendants it
reaped, and those of its session still alive when it exits): the work of *other* processes
that competed with the benchmark. Near zero on a quiet machine. ``--own-sessions`` names
sessions of processes that work for the command without being its descendants (a dask
cluster's): the CPU time they use meanwhile counts as the command's own, not as background.

The child runs in its own session; on timeout, or if it leaves processes behind in that
session, exactly that process group is killed.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Collection
from typing import Any


def kill_group(pgid: int) -> bool:
    """SIGKILL the process group ``pgid`` (the child's own); True if anything was there."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (Linux ``/proc/stat``)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def session_cpu_seconds(sids: Collection[int]) -> float:
    """CPU time of the live processes of the sessions ``sids`` (e.g. the child's unreaped
    workers)."""
    total = 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                # Fields after the parenthesised command: state ppid pgrp session ... utime stime
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) in sids:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run_child(command: list[str], timeout: float, stdout: str, stderr: str) -> dict[str, Any]:
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True
        )
        # A blocking wait sees the exit at once; `wait(timeout=...)` polls, which rounds
        # every time up to its next 50 ms step. The timeout kills from a timer instead.
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            kill_group(child.pid)

        timer = threading.Timer(timeout, expire)
        timer.start()
        try:
            returncode = child.wait()
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        if expired.is_set():
            return {"status": "timeout", "seconds": seconds}
    stray_cpu = session_cpu_seconds({child.pid})
    strays = kill_group(child.pid)
    return {
        "status": "ok" if returncode == 0 else "error",
        "seconds": seconds,
        "returncode": returncode,
        "stray_processes": strays,
        "stray_cpu_s": stray_cpu,
    }


def own_sessions(options: list[str]) -> set[int] | None:
    """The session ids of ``--own-sessions SID,...``; empty for no options, None if malformed."""
    if not options:
        return set()
    if len(options) != 2 or options[0] != "--own-sessions":
        return None
    return {int(sid) for sid in options[1].split(",") if sid}


def main(argv: list[str]) -> int:
    timeout, stdout, stderr, *rest = argv
    separator = rest.index("--") if "--" in rest else len(rest)
    sessions, command = own_sessions(rest[:separator]), rest[separator + 1 :]
    if sessions is None or not command:
        print(__doc__, file=sys.stderr)
        return 2
    busy_before = machine_busy_seconds()
    helpers_before = session_cpu_seconds(sessions) if sessions else 0.0
    result = run_child(command, float(timeout), stdout, stderr)
    helpers = (session_cpu_seconds(sessions) if sessions else 0.0) - helpers_before
    own = tree_cpu_seconds() + float(result.get("stray_cpu_s", 0.0)) + helpers
    background = machine_busy_seconds() - busy_before - own
    result["background_cpu_s"] = max(background, 0.0)
    result["tree_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
