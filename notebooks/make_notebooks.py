"""Writes notebooks/demo.ipynb and notebooks/tutorial.ipynb (run it after editing a cell here).

The notebooks are generated so that their source stays reviewable and ruff-checked as
Python; executing them is the tests' job (tests/test_notebook_kernels.py).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent
ERROR = "raises-exception"  # nbclient lets cells with this tag fail


def md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(text.strip())


def code(text: str, *tags: str) -> nbformat.NotebookNode:
    cell = new_code_cell(text.strip())
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


DEMO = [
    md("""
# Temperature loggers: a small ppg_notebook analysis

Four weather stations logged the air temperature once a day for three months. Some readings
are the logger's "no data" code or physically impossible. This notebook simulates the data,
cleans it, summarises it per station and writes a chart and a report.

Each expensive step is a `%%ppg_job` cell: it runs in a worker process, its result is stored
on disk, and it reruns only when its code, a notebook value or helper it uses, or its input
changed. Execute the notebook twice (or restart the kernel and run all): the second time
nothing is computed, every value is loaded from `.ppg/`.
"""),
    code("%load_ext ppg_notebook"),
    code("%ppg_new --dir .ppg --cores 2"),
    md("""
## Parameters

Plain notebook globals. A job that reads one is rerun when its value changes: try
`VALID_RANGE = (-30.0, 45.0)` and execute the notebook again — only the cleaning and what
depends on it reruns. Library modules (the standard library here) are used but not tracked;
a module of your own next to the notebook would be, function by function.
"""),
    code("""
import math
import random
import statistics
from pathlib import Path

SEED = 7
DAYS = 90
NO_DATA = -999.0
VALID_RANGE = (-40.0, 50.0)  # plausible air temperatures, °C

Path("output").mkdir(exist_ok=True)
STATIONS_CSV = "station,elevation_m\\nAlpine,1850\\nCoast,12\\nValley,320\\nPlateau,940\\n"
Path("stations.csv").write_text(STATIONS_CSV)
print("parameters set")
"""),
    md("""
## Stations: a job reading an input file

The job reads `stations.csv`, so the file is one of its inputs (nothing to declare): the job
reruns when its content changes. The cell above rewrites it with the same content, which
changes nothing.
"""),
    code("""
%%ppg_job stations
import csv

with open("stations.csv") as f:
    stations = {row["station"]: int(row["elevation_m"]) for row in csv.DictReader(f)}
"""),
    md("""
## Raw readings

`stations` is the name of a job, so this job depends on it and reads its value. The
`print` runs in the worker; its output appears below the cell and in `.ppg/logs/`.
"""),
    code("""
%%ppg_job raw --cores 1
rng = random.Random(SEED)
raw = []
for station, elevation in stations.items():
    base = 18 - elevation / 150  # colder higher up
    for day in range(DAYS):
        reading = round(rng.gauss(base + 6 * math.sin(day / 14), 2.5), 1)
        if rng.random() < 0.04:
            reading = NO_DATA  # the logger lost the reading
        elif rng.random() < 0.01:
            reading = reading * 10  # a decimal point slipped
        raw.append({"station": station, "day": day, "temp": reading})
print(f"simulated {len(raw)} readings from {len(stations)} stations")
"""),
    md("""
## Cleaning, with helper functions

Functions defined in the notebook are fingerprinted by their code, and so are the
functions *they* call: editing `in_range` reruns `clean`, even though `clean` only calls
`is_valid`. Comments and docstrings do not count.
"""),
    code("""
def in_range(temp):
    low, high = VALID_RANGE
    return low <= temp <= high


def is_valid(reading):
    \"\"\"A reading is kept if the logger recorded it and it is plausible.\"\"\"
    return reading["temp"] != NO_DATA and in_range(reading["temp"])
"""),
    code("""
%%ppg_job clean
clean = [r for r in raw if is_valid(r)]
print(f"kept {len(clean)} of {len(raw)} readings")
"""),
    md("""
## Summary per station

Without an assignment to `summary`, the job's value is the cell's last expression — shown
below the cell, like any cell's result.
"""),
    code("""
%%ppg_job summary
by_station = {}
for r in clean:
    by_station.setdefault(r["station"], []).append(r["temp"])
{
    name: {
        "elevation_m": stations[name],
        "n": len(temps),
        "mean": round(statistics.mean(temps), 2),
        "min": min(temps),
        "max": max(temps),
    }
    for name, temps in sorted(by_station.items(), key=lambda item: stations[item[0]])
}
"""),
    md("""
## A chart and a report: file jobs

With `--out`, the job writes files; `out` is the `Path` (a list for several) inside the
body, and the job's name stands for its path(s) in other cells.
"""),
    code("""
%%ppg_job chart --out output/mean_temperature.svg
width, bar, gap, scale = 480, 60, 40, 12
rows = list(summary.items())
parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="300">']
for i, (name, s) in enumerate(rows):
    x = gap + i * (bar + gap)
    height = max(s["mean"], 0) * scale
    parts.append(f'<rect x="{x}" y="{250 - height}" width="{bar}" height="{height}" fill="#4a7"/>')
    parts.append(f'<text x="{x}" y="270" font-size="12">{name}</text>')
    parts.append(f'<text x="{x}" y="{245 - height}" font-size="12">{s["mean"]} °C</text>')
parts.append("</svg>")
out.write_text("\\n".join(parts))
"""),
    code("""
%%ppg_job report --out output/report.md output/summary.csv
report_md, summary_csv = out
lines = ["# Mean air temperature per station", ""]
lines += ["| station | elevation (m) | days | mean | min | max |", "|---|---|---|---|---|---|"]
for name, s in summary.items():
    lines.append(
        f"| {name} | {s['elevation_m']} | {s['n']} | {s['mean']} | {s['min']} | {s['max']} |"
    )
lines += ["", f"![chart]({chart.name})", ""]
report_md.write_text("\\n".join(lines))
summary_csv.write_text(
    "station,n,mean\\n" + "".join(f"{k},{s['n']},{s['mean']}\\n" for k, s in summary.items())
)
"""),
    md("""
## The pipeline at a glance

`%ppg_status` shows every job, whether it is up to date and why not; `%ppg_why` explains one.
"""),
    code("%ppg_status"),
    code("%ppg_why report"),
    code('print(Path("output/report.md").read_text())'),
]


TUTORIAL = [
    md("""
# ppg_notebook in ten cells

ppg_notebook turns notebook cells into the jobs of a pipeline: each runs in a worker
process, its result is kept on disk, and it runs again only when something it depends on
changed. This tutorial walks through everything `%%ppg_job` does.

Load the extension once per kernel. The kernel gets a pipeline that keeps its state in
`.ppg/` next to the notebook (`%ppg_new --dir other` starts another).
"""),
    code("%load_ext ppg_notebook"),
    md("""
## 1. A first job

`%%ppg_job NAME` makes the cell a job. Its value is the variable `NAME` the body assigns.
The cell runs in a worker process; what it prints appears below, followed by a one-line
status. Execute the cell again: it says *up to date* and loads the stored value instead.
"""),
    code("""
%%ppg_job squares
squares = [n * n for n in range(10)]
print("computed", len(squares), "squares")
"""),
    md("After the run, `squares` is an ordinary notebook variable:"),
    code("squares[:4]"),
    md("""
## 2. Dependencies by name, and notebook values

A body that reads the name of another job depends on it and receives its value. A plain
notebook value it reads (`offset`) is captured and fingerprinted: change it and the job
reruns. Without an assignment to `NAME`, the last expression is the value (and is shown).
"""),
    code("offset = 5"),
    code("""
%%ppg_job shifted
[n + offset for n in squares]
"""),
    md("""
## 3. Helper functions, followed all the way down

Functions defined in the notebook are fingerprinted by their code, together with the
notebook functions and values *they* use. Editing `double` reruns `transformed`, although
the body only calls `transform`. Comments, docstrings and moving cells around do not.
Functions of your own modules are followed the same way (section 6); library code is not.
"""),
    code("""
def double(x):
    return 2 * x


def transform(x):
    return double(x) + 1
"""),
    code("""
%%ppg_job transformed
transformed = [transform(n) for n in shifted]
"""),
    md("""
## 4. Several results of one cell: `--values`

A cell that computes several results (a train/test split, a train and a validation score)
lists them with `--values`: the body runs once, as one job, and each listed variable is
then a notebook variable of its own. A later body depends on exactly the values it reads,
so `n_test` reruns only when `y_test` changes, not when only `X_train` does. The names
stand for the job in `%ppg_why`, `%ppg_run` and `%ppg_invalidate`.
"""),
    code("""
%%ppg_job split --values X_train X_test y_train y_test
from sklearn.model_selection import train_test_split

X = [[n, n % 3] for n in transformed]
y = [n % 2 for n in transformed]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
"""),
    code("""
%%ppg_job n_test
n_test = len(y_test)
"""),
    code("%ppg_why X_train"),
    md("""
## 5. Files: `--out`

With `--out PATH` the job writes a file; inside the body `out` is its `Path`. Several
paths give a list. In other cells the job's name stands for its path(s).
"""),
    code("""
%%ppg_job listing --out listing.txt
out.write_text("\\n".join(str(n) for n in transformed))
"""),
    code("""
%%ppg_job halves --out low.txt high.txt
low, high = out
low.write_text(str([n for n in transformed if n < 100]))
high.write_text(str([n for n in transformed if n >= 100]))
"""),
    md("""
## 6. Your own modules and data files: nothing to declare

A job's inputs are everything it used. `shout` calls a function of `tutorial_helpers.py`, a
module next to the notebook, and reads `greeting.txt`: editing that function (not another
one of the module, nor a comment) or the file reruns it. `%ppg_why shout` lists what it
read and the modules its code reaches. A directory of modules elsewhere is followed once
given to `%ppg_new --track PATH`. `--deps` is for what the engine cannot see: files read
inside C libraries (HDF5, say), or a job the body does not name.
"""),
    code("""
from pathlib import Path

HELPERS = '''
def exclaim(text):
    return text.upper() + "!"


def whisper(text):
    return text.lower()
'''
Path("tutorial_helpers.py").write_text(HELPERS)
Path("greeting.txt").write_text("hello")
"""),
    code("import tutorial_helpers"),
    code("""
%%ppg_job shout
shout = tutorial_helpers.exclaim(Path("greeting.txt").read_text())
"""),
    code("%ppg_why shout"),
    md("""
## 7. Declare now, run later: `--no-run` and `%ppg_run`

`--no-run` only declares the job. `%ppg_run NAME` runs it (and what it needs);
`%ppg_run` alone runs everything that is out of date.
"""),
    code("""
%%ppg_job total --no-run
total = sum(transformed)
"""),
    code("%ppg_run total"),
    code("total"),
    md("""
## 8. What is going on: `%ppg_status` and `%ppg_why`
"""),
    code("%ppg_status"),
    code("%ppg_why listing"),
    md("""
## 9. Forcing a rerun: `%ppg_invalidate`

An invalidated job runs again on the next run. Its dependants rerun only if its output
changed — here it does not, so `shifted` and the rest stay up to date.
"""),
    code("%ppg_invalidate squares"),
    code("%ppg_run"),
    md("""
## 10. When a job fails

An exception in a body is shown like any cell's error, with your own lines. The job is
retried on the next run; every other job keeps its stored value.
"""),
    code(
        """
%%ppg_job ratios
divisors = [4, 2, 0]
ratios = [100 / d for d in divisors]
""",
        ERROR,
    ),
    md("""
Mistakes in the cell itself are caught before anything changes: an unknown `--deps`
name, a job name that is not an identifier or that hides a builtin or a magic, a value job
without a value, a global that cannot be sent to a worker, or an output another job writes.
"""),
    code(
        """
%%ppg_job list
list = [1, 2, 3]
""",
        ERROR,
    ),
    md("""
## 11. Restarts

Restart the kernel and run all cells: every job loads its stored value, nothing is
computed again — except `ratios`, which failed and is retried.
"""),
]


def write(cells: list[nbformat.NotebookNode], name: str) -> None:
    notebook = new_notebook(cells=cells)
    for i, cell in enumerate(notebook.cells):
        cell.id = f"{name.split('.')[0]}-{i}"  # stable ids: regenerating changes no line
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.validate(notebook)
    nbformat.write(notebook, HERE / name)


if __name__ == "__main__":
    write(DEMO, "demo.ipynb")
    write(TUTORIAL, "tutorial.ipynb")
