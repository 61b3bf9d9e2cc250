"""pyplot's global state between jobs (plotstate.py): each job starts with no open figure
and with the main process's style, as a notebook cell would; in real worker processes."""

from __future__ import annotations

from pathlib import Path

import pytest

LEAKS = """
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

{style}
ppg.new_pipeline(cores=1)  # one worker: both jobs run in the same process


def one(path):
    plt.style.use("ggplot")  # changes the worker's rcParams
    plt.plot([1, 2, 3])
    plt.savefig(str(path) + ".png")
    path.write_text(f"{{len(plt.gca().lines)}} {{plt.rcParams['axes.grid']}}")


def two(path):
    plt.plot([3, 3, 3])
    plt.savefig(str(path) + ".png")
    path.write_text(f"{{len(plt.gca().lines)}} {{plt.rcParams['axes.grid']}}")


first = ppg.FileGeneratingJob("one.txt", one)
ppg.FileGeneratingJob("two.txt", two).depends_on(first)  # after it, in the same worker
run_and_report()
"""


@pytest.mark.parametrize(
    ("style", "grid"),
    [("", "False"), ("plt.style.use('ggplot')  # in the main process", "True")],
    ids=["default-style", "main-process-style"],
)
def test_a_job_starts_with_no_figure_and_the_main_processes_style(script, style, grid) -> None:  # type: ignore[no-untyped-def]
    script.write(LEAKS.format(style=style))
    run = script.run().ok()
    assert sorted(run.ran) == ["one.txt", "two.txt"], run.describe()
    assert (script.dir / "one.txt").read_text() == "1 True"
    # The second job draws one line into a figure of its own, with the main style only.
    assert (script.dir / "two.txt").read_text() == f"1 {grid}"


PLOTS = """
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

plt.style.use({style!r})
ppg.new_pipeline(cores=1)


def calc():
    return [1, 3, 2]


def plot(data):
    mark("plot")
    figure, axes = plt.subplots()
    axes.plot(data)
    Path("grid.txt").write_text(str(plt.rcParams["axes.grid"]))
    return figure


ppg.PlotJob("figure.png", calc, plot)
run_and_report()
"""


def test_a_plot_job_reruns_when_the_main_processes_style_changes(script) -> None:  # type: ignore[no-untyped-def]
    script.write(PLOTS.format(style="ggplot"))
    assert script.run().ok().runs == ["plot"]
    assert (script.dir / "grid.txt").read_text() == "True"
    assert script.run().ok().runs == []
    script.write(PLOTS.format(style="default"))
    run = script.run().ok()
    assert run.runs == ["plot"], run.describe()
    assert "parameter 'matplotlib style' changed" in run.result["reasons"]["figure.png"]
    assert (script.dir / "grid.txt").read_text() == "False"


def test_a_cell_job_gets_the_notebooks_style_and_reruns_when_it_changes(
    ip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    ip.run_line_magic("ppg_new", "--cores 1")
    try:
        ip.run_cell("import matplotlib.pyplot as plt\nplt.style.use('ggplot')")
        cell = "%%ppg_job grid\ngrid = bool(plt.rcParams['axes.grid'])"
        assert ip.run_cell(cell).error_in_exec is None
        assert ip.user_ns["grid"] is True
        ip.run_cell("plt.style.use('default')")
        assert ip.run_cell(cell).error_in_exec is None
        assert ip.user_ns["grid"] is False
    finally:
        plt.style.use("default")
        matplotlib.rcdefaults()
        for name in ("grid", "plt"):
            ip.user_ns.pop(name, None)
