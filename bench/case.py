"""One phase of one case: a fresh process that declares a workload with one tool and runs it.

    python bench/case.py TOOL KIND N CORES SECONDS PHASE WORKDIR REPORT

Runs in ``WORKDIR`` (outputs go to ``WORKDIR/out/``) and, if the tool's run returns, writes
its own peak resident memory to the JSON file ``REPORT``. Started by ``measure.py``.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path

from tools import ADAPTERS
from workloads import OUT_DIR, Workload, job_specs, prepare_helper


def peak_rss_mb(who: int) -> float:
    """Peak resident set size in MB (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(who).ru_maxrss / 1024


def main(argv: list[str]) -> int:
    tool, kind, n, cores, seconds, phase, workdir, report = argv
    workload = Workload(name=f"{kind}-{n}", kind=kind, n=int(n), seconds=float(seconds))
    os.chdir(workdir)
    Path(OUT_DIR).mkdir(exist_ok=True)
    if kind == "helper":
        sys.path.insert(0, str(prepare_helper(workdir)))
    ADAPTERS[tool](workload, job_specs(workload, changed=phase == "change"), int(cores))
    stats = {
        "main_rss_mb": peak_rss_mb(resource.RUSAGE_SELF),
        "reaped_children_rss_mb": peak_rss_mb(resource.RUSAGE_CHILDREN),
    }
    Path(report).write_text(json.dumps(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
