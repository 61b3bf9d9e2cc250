"""First render and status-update latency of the DAG widget at thousands of jobs (SPEC §7a).

Like bench/widget_bench.py (JupyterLab + Debian's chromium), but with a pipeline of a few
shapes, as pypipegraph users have: `genome -> align_i -> count_i -> sum` over samples, so
that N jobs draw as four nodes (two groups). Also a tree of N jobs (`--shape tree`), which
has no siblings to group and falls back on grouping by depth.

    python bench/widget_render.py [--sizes 100,2000,10000] [--repeat 3] [--shape fanout]

Each size opens a fresh notebook `--repeat` times; figures are medians:
- first render: from executing the cell to the nodes on screen (kernel + layout + draw);
- layout + draw: the page's part of it (WASM Graphviz in a worker, SVG inserted, painted);
- status update: from the kernel recording one job as running to its group's (or node's)
  new state in the page (includes the widget's 100 ms coalescing interval).
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
from ppg_notebook.events import Event
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
json.dump({{"build": time.perf_counter() - t0, "start": time.time(), "jobs": len(w.model.nodes)}},
          open("build.json", "w"))
w"""

TRIGGER = """\
import time, json
t = time.time()
w._on_event(Event("running", probe))
json.dump({"sent": t}, open("sent.json", "w"))
"""

WATCH = """() => {
    window.__seen = 0;
    const obs = new MutationObserver(() => {
        if (!document.querySelector('.ppg-dag g.node[data-state^="running"]')) return;
        obs.disconnect();
        window.__seen = Date.now();
    });
    obs.observe(document.querySelector('.ppg-dag svg'), { attributes: true, subtree: true });
}"""


def once(lab: dict, n: int, shape: str, k: int) -> dict:
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
        page.evaluate(WATCH)
        page.evaluate(
            "(code) => { window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
            ".requestExecute({code}); }",
            TRIGGER,
        )
        seen = page.wait_for_function("() => window.__seen", timeout=30_000).json_value()
        sent = json.loads((folder / "sent.json").read_text())["sent"]
    finally:
        page.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:shutdown')")
        page.close()
    return {
        "first_render": seen_render - build["start"] + build["build"],
        "build": build["build"],
        "layout": layout_ms / 1000,
        "update": seen / 1000 - sent,
        "drawn": drawn,
        "jobs": build["jobs"],
    }


def measure(lab: dict, n: int, shape: str, repeat: int) -> dict:
    runs = [once(lab, n, shape, k) for k in range(repeat)]
    row = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    row["n"] = n
    return row


def table(rows: list[dict]) -> str:
    lines = [
        "| jobs | nodes drawn | kernel: build widget | page: layout + draw "
        "| first render (end to end) | status update |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {int(r['jobs']):,} | {int(r['drawn'])} | {r['build']:.2f} s | {r['layout']:.2f} s "
            f"| {r['first_render']:.2f} s | {r['update'] * 1000:.0f} ms |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,2000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shape", choices=["fanout", "tree"], default="fanout")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, jupyter_lab(Path(tmp)) as lab:
        for n in (int(s) for s in args.sizes.split(",")):
            row = measure(lab, n, args.shape, args.repeat)
            print(json.dumps(row), flush=True)
            rows.append(row)
    print(table(rows))


if __name__ == "__main__":
    main()
