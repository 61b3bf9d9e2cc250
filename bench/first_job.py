"""The first job of a fresh kernel against the same job run later (nbclient, real kernels).

Usage (from the dev venv)::

    .venv/bin/python bench/first_job.py [--repeats 5]

Each repeat starts a fresh kernel in an empty directory and executes: `%load_ext
ppg_notebook`, a cell importing scikit-learn and loading the iris data, a pause of
`--think` seconds (the user writing the next cell), then four `%%ppg_job` cells that each
fit a k-nearest-neighbours classifier (milliseconds of work). It prints, per cell, the
median time from execute_input to execute_reply, and the first job's excess over the
last one's (the target is at most 0.5 s).
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import tempfile

from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

JOBS = "abcd"


def one(think: float) -> list[float]:
    cells = [
        new_code_cell("%load_ext ppg_notebook"),
        new_code_cell(
            "from sklearn.datasets import load_iris\n"
            "from sklearn.neighbors import KNeighborsClassifier\n"
            "X, y = load_iris(return_X_y=True)"
        ),
        new_code_cell(f"import time\ntime.sleep({think})"),
    ]
    cells += [
        new_code_cell(f"%%ppg_job {n}\n{n} = KNeighborsClassifier(3).fit(X, y).score(X, y)")
        for n in JOBS
    ]
    notebook = new_notebook(cells=cells)
    with tempfile.TemporaryDirectory() as workdir:
        NotebookClient(
            notebook,
            timeout=120,
            kernel_name="python3",
            resources={"metadata": {"path": workdir}},
            record_timing=True,
        ).execute()
    return [_seconds(cell) for cell in notebook.cells[-len(JOBS) :]]


def _seconds(cell: dict) -> float:
    timing = cell["metadata"]["execution"]
    start = datetime.datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
    end = datetime.datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--think", type=float, default=2.0, help="seconds before the first job")
    args = parser.parse_args()
    runs = [one(args.think) for _ in range(args.repeats)]
    medians = [statistics.median(run[i] for run in runs) for i in range(len(JOBS))]
    excess = statistics.median(run[0] - run[-1] for run in runs)
    print(f"{args.repeats} fresh kernels, {args.think} s before the first job")
    print("job cell:        " + "  ".join(f"{n:>7}" for n in JOBS))
    print("median seconds:  " + "  ".join(f"{m:7.3f}" for m in medians))
    print(f"first job's excess over the last (median): {excess:.3f} s (target <= 0.5 s)")


if __name__ == "__main__":
    main()
