"""Time one command run as this process's only child, and report its peak memory.

    python bench/measure.py TIMEOUT STDOUT_FILE STDERR_FILE -- COMMAND...

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
that competed with the benchmark. Near zero on a quiet machine.

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
import time
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


def session_cpu_seconds(sid: int) -> float:
    """CPU time of the live processes of session ``sid``: the child's unreaped workers."""
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
        if int(fields[3]) == sid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run_child(command: list[str], timeout: float, stdout: str, stderr: str) -> dict[str, Any]:
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True
        )
        try:
            returncode = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(child.pid)
            child.wait()
            return {"status": "timeout", "seconds": time.perf_counter() - start}
        seconds = time.perf_counter() - start
    stray_cpu = session_cpu_seconds(child.pid)
    strays = kill_group(child.pid)
    return {
        "status": "ok" if returncode == 0 else "error",
        "seconds": seconds,
        "returncode": returncode,
        "stray_processes": strays,
        "stray_cpu_s": stray_cpu,
    }


def main(argv: list[str]) -> int:
    timeout, stdout, stderr, separator, *command = argv
    if separator != "--" or not command:
        print(__doc__, file=sys.stderr)
        return 2
    busy_before = machine_busy_seconds()
    result = run_child(command, float(timeout), stdout, stderr)
    own = tree_cpu_seconds() + float(result.get("stray_cpu_s", 0.0))
    background = machine_busy_seconds() - busy_before - own
    result["background_cpu_s"] = max(background, 0.0)
    result["tree_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
