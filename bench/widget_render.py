"""First render and status-update latency of the DAG widget in a real browser (SPEC §7a).

Starts JupyterLab and Debian's chromium (as tests/test_widget_browser.py does) and opens a
notebook that declares N file jobs and shows `ppg_notebook.dag()`. The pipeline has a few
shapes, as pypipegraph users' have: `genome -> align_i -> count_i -> sum` over samples, so
that N jobs draw as four nodes (two groups); or (`--shape tree`) a tree of N jobs, job i
depending on job (i-1)//3, which has no siblings to group and falls back on grouping by
depth.

    PYTHONPATH=. python bench/widget_render.py [--sizes 100,2000,10000] [--repeat 3]
        [--updates 5] [--shape fanout|tree]

Each size opens a fresh notebook `--repeat` times; figures are medians over the opens:
- kernel: build widget: graph model, groups, DOT text and the plan of every job;
- layout + draw: the page's part (WASM Graphviz in a worker, SVG inserted, painted);
- first render: from executing the cell to the nodes on screen, end to end;
- status update: from the kernel recording a job's new state (running, then done, in turn,
  `--updates` times per open) to its node's (or its group's) new state in the page,
  median and max over all of them; it includes the widget's 100 ms coalescing interval.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.test_widget_browser import KERNEL_READY, _notebook, jupyter_lab  # noqa: E402

SETUP = """\
import time, json
import ppg_notebook as ppg
from ppg_notebook.events import Event, Outcome
ppg.new_pipeline(cores=2)
def write(path):
    path.write_text("x")
N, SHAPE = {n}, {shape!r}
if SHAPE == "fanout":
    k = (N - 2) // 2
    genome = ppg.FileGeneratingJob("genome.txt", write)
    total = ppg.FileGeneratingJob("sum.txt", write)
    for i in range(k):
        a = ppg.FileGeneratingJob(f"align/sample_{{i}}.bam", write).depends_on(genome)
        total.depends_on(ppg.FileGeneratingJob(f"count/sample_{{i}}.tsv", write).depends_on(a))
    probe = "count/sample_0.tsv"
else:
    for i in range(N):
        job = ppg.FileGeneratingJob(f"job_{{i:05d}}.txt", write)
        if i:
            job.depends_on(f"job_{{(i - 1) // 3:05d}}.txt")
    probe = f"job_{{N - 1:05d}}.txt"
t0 = time.perf_counter()
w = ppg.dag()
built = time.perf_counter() - t0
i = w.model.nodes.index(probe)
key = next(d.key for d in w.view.drawn if i in d.members)  # the probe's node, or its group's
json.dump({{"build": built, "start": time.time(), "jobs": len(w.model.nodes), "key": key}},
          open("build.json", "w"))
w"""

TRIGGER = """\
import time, json
t = time.time()
w._on_event(Event("running", probe) if {k} % 2 == 0 else Event("done", probe, Outcome.RAN))
json.dump({{"sent": t}}, open("sent.json", "w"))
"""

# Resolves when the node `key` (a job's or a group's) shows another state than it does now.
WATCH = """(key) => {
    window.__seen = 0;
    const node = document.querySelector(
        `.ppg-dag g.node[data-job="${key}"], .ppg-dag g.node[data-group="${key}"]`);
    const before = node.getAttribute('data-state');
    const obs = new MutationObserver(() => {
        if (node.getAttribute('data-state') === before) return;
        obs.disconnect();
        window.__seen = Date.now();
    });
    obs.observe(node, { attributes: true });
}"""


def once(lab: dict, n: int, shape: str, k: int, updates: int) -> dict:
    name = f"{shape}{n}-{k}"
    path = _notebook(lab["root"], name, [SETUP.format(n=n, shape=shape)])
    folder = lab["root"] / name
    page = lab["browser"].new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{lab['url']}/lab/workspaces/{name}/tree/{path}?token={lab['token']}")
        page.wait_for_function(KERNEL_READY, timeout=60_000)
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        page.wait_for_selector(".ppg-dag[data-jobs]:not([data-jobs='0'])", timeout=180_000)
        seen_render = time.time()
        build = json.loads((folder / "build.json").read_text())
        layout_ms = float(page.get_attribute(".ppg-dag", "data-layout-ms") or "nan")
        drawn = int(page.get_attribute(".ppg-dag", "data-rendered") or 0)
        times = []
        for u in range(updates):
            page.evaluate(WATCH, build["key"])
            page.evaluate(
                "(code) => { window.jupyterapp.shell.currentWidget.sessionContext.session"
                ".kernel.requestExecute({code}); }",
                TRIGGER.format(k=u),
            )
            seen = page.wait_for_function("() => window.__seen", timeout=30_000).json_value()
            times.append(seen / 1000 - json.loads((folder / "sent.json").read_text())["sent"])
    finally:
        page.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:shutdown')")
        page.close()
    return {
        "first_render": seen_render - build["start"] + build["build"],
        "build": build["build"],
        "layout": layout_ms / 1000,
        "updates": times,
        "drawn": drawn,
        "jobs": build["jobs"],
    }


def measure(lab: dict, n: int, shape: str, repeat: int, updates: int) -> dict:
    runs = [once(lab, n, shape, k, updates) for k in range(repeat)]
    row = {key: statistics.median(r[key] for r in runs) for key in runs[0] if key != "updates"}
    times = [t for r in runs for t in r["updates"]]
    row.update(n=n, update=statistics.median(times), update_max=max(times))
    return row


def table(rows: list[dict]) -> str:
    lines = [
        "| jobs | nodes drawn | kernel: build widget | page: layout + draw "
        "| first render (end to end) | status update (median / max) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {int(r['jobs']):,} | {int(r['drawn'])} | {r['build']:.2f} s | {r['layout']:.2f} s "
            f"| {r['first_render']:.2f} s "
            f"| {r['update'] * 1000:.0f} ms / {r['update_max'] * 1000:.0f} ms |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,2000,10000")
    parser.add_argument("--repeat", type=int, default=3, help="fresh notebooks per size")
    parser.add_argument("--updates", type=int, default=5, help="status updates per notebook")
    parser.add_argument("--shape", choices=["fanout", "tree"], default="fanout")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, jupyter_lab(Path(tmp)) as lab:
        for n in (int(s) for s in args.sizes.split(",")):
            row = measure(lab, n, args.shape, args.repeat, args.updates)
            print(json.dumps(row), flush=True)
            rows.append(row)
    print(table(rows))


if __name__ == "__main__":
    main()
