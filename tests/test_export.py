"""Export of a notebook to a script: the text itself (pure, fast), then round trips through
real processes — a Jupyter kernel (nbclient), `ppg-notebook export`, `python pipeline.py` —
counting what ran by the marker lines job bodies append to runs.log.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from test_pysource import AWKWARD

from ppg_notebook.notebook import export
from ppg_notebook.notebook.options import JobOptions

VENV_BIN = Path(sys.executable).parent
RUFF = shutil.which("ruff", path=str(VENV_BIN)) or "ruff"
CLI = shutil.which("ppg-notebook", path=str(VENV_BIN)) or "ppg-notebook"


def cells_of(*sources: str) -> list[tuple[str, str]]:
    return [("code", source) for source in sources]


# --- understanding cells -----------------------------------------------------------------
@pytest.mark.parametrize(
    "line",
    [
        "total",
        "report --out report.txt",
        'report --out "two words.txt" --deps raw data.csv --cores 2',
        "many --out a.txt b.txt --no-run",
        "données --deps entrée.csv",
        "split --values train test",
    ],
)
def test_job_lines_are_read_with_the_magics_grammar(line: str) -> None:
    job = export._job_of(f"%%ppg_job {line}\nx = 1\n")
    assert isinstance(job, export.JobCell)
    assert job.options == JobOptions.parse(line)
    assert job.body == "x = 1\n"


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("total --cores many", "its options could not be read: %%ppg_job total --cores many"),
        ('total --out "open', "its options could not be read"),
        ("print", "the job name 'print' would shadow the Python builtin"),
        ("split --values a out", "the value name 'out' is reserved"),
    ],
)
def test_a_job_line_that_cannot_be_read_is_said_why(line: str, says: str) -> None:
    job = export._job_of(f"%%ppg_job {line}\nx = 1\n")
    assert isinstance(job, str)
    assert says in job


# --- what goes into the script -----------------------------------------------------------
def test_setup_jobs_results_and_foreign_magics() -> None:
    script = export.export(
        [
            ("markdown", "# Title\nsome text"),
            ("code", "%load_ext ppg_notebook"),
            ("code", "%ppg_new --dir state --cores 3"),
            ("code", "%matplotlib inline\nimport math\n\nSCALE = 2"),
            ("code", "%%ppg_job area\narea = math.pi * SCALE**2"),
            ("code", "print(area)"),
            ("code", "SCALE"),
            ("code", "%%time\nslow()"),
            ("code", "!ls -l"),
            ("code", "%ppg_status"),
        ],
        title="shapes.ipynb",
    )
    text = script.text
    compile(text, "pipeline.py", "exec")
    assert script.jobs == ["area"]
    assert "# %matplotlib inline  (IPython syntax, left out of the script)" in text
    assert "import math\n\nSCALE = 2" in text
    assert "@cells.job\ndef area():\n    area = math.pi * SCALE**2\n    return area\n" in text
    assert "print(area)" not in text  # reads a job's result: not setup
    assert "# %%time" in text and "# slow()" in text
    assert "# !ls -l" in text
    assert 'default="state"' in text and "default=3," in text
    assert "ppg_status" not in text and "load_ext" not in text
    assert any("print(area)" not in n and "cell 6" in n for n in script.notes)

    kept = export.export(
        [("code", "%%ppg_job area\narea = 1"), ("code", "print(area)")], results="comment"
    )
    assert "# print(area)  (not part of the pipeline: it uses the result of area)" in kept.text


def test_a_job_moves_after_the_job_it_reads() -> None:
    script = export.export(cells_of("%%ppg_job late\nlate = early + 1", "%%ppg_job early\n1"))
    assert script.jobs == ["early", "late"]


def test_our_names_keep_clear_of_the_notebooks() -> None:
    script = export.export(
        cells_of(
            "import pypipegraph as ppg\ncells = 1\nmain = 2\nargparse = 3",
            "%%ppg_job job\njob = cells + main + argparse",
        )
    )
    text = script.text
    assert "import ppg_notebook\n" in text
    assert "cells_ = ppg_notebook.CellJobs()" in text
    assert "def main_() -> int:" in text and "argparse_.ArgumentParser" in text


def test_the_kernel_history_counts_a_job_at_its_last_execution() -> None:
    history = [
        "%load_ext ppg_notebook",
        "x = 1",
        "%%ppg_job a\na = x",
        "x = 1",
        "%%ppg_job a\na = x + 1",
        "%ppg_export p.py",
    ]
    cells = export.history_cells(history)
    assert [source for _, source in cells] == [history[0], "x = 1", history[4], history[5]]


def test_awkward_cells_make_a_valid_script_that_ruff_accepts(tmp_path: Path) -> None:
    sources = [f"TEXT_{i} = {text!r}" for i, text in enumerate(AWKWARD) if "\x00" not in text]
    sources += [
        '%%ppg_job données\ntexte = """d\'une "ligne"\n  à l\'autre °C 🙂"""\n'
        "données = [texte, TEXT_1, TEXT_7]",
        '%%ppg_job quoted --out "two words.txt"\nout.write_text("""\\n""")',
        "%%ppg_job 'bad name'\nx = 1",
        "%%ppg_job list\nlist = [1]",  # the notebook refuses it too: a builtin's name
        # not Python: a string that never ends
        "%%ppg_job evil --out a.txt\n" + '"""; import os\nos.remove("a.txt")',
        # a form feed resets Python's count of indentation: it would leave the function
        "%%ppg_job feed --out b.txt\npass\n\x0cimport os; os.remove('b.txt')",
        "x = 1\x00",  # not valid Python
        "y = (1,\r 2)",  # a line break Python knows but a reader might not see
        "%%bash\necho hi",
    ]
    script = export.export(cells_of(*sources), title='evil"""\nimport os.ipynb')
    path = tmp_path / "pipeline.py"
    path.write_text(script.text, encoding="utf-8")
    tree = ast.parse(script.text)
    assert ast.get_docstring(tree) is not None and "evil" not in ast.get_docstring(tree)
    functions = [s for s in tree.body if isinstance(s, ast.FunctionDef) and s.decorator_list]
    assert [f.name for f in functions] == ["données", "quoted"]
    assert script.jobs == ["données", "quoted"]
    assert "os.remove" not in ast.unparse(tree)
    assert any("'evil' left out" in note for note in script.notes)
    assert any("'feed' left out" in note for note in script.notes)
    assert any("'list' would shadow the Python builtin" in note for note in script.notes)
    check = subprocess.run(
        [RUFF, "check", "--no-cache", "--isolated", str(path)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + script.text


# --- round trips through real processes ----------------------------------------------------
MARK = (
    "def mark(name):\n"
    "    with open('runs.log', 'a', encoding='utf-8') as f:\n"
    "        f.write(name + '\\n')"
)
GREETING = "GREETING = 'he said \"hi\"\\n\\'bye\\' — °C'"
TOTAL = "%%ppg_job total\nmark('total')\ntotal = sum(x * factor for x in données)"


def round_trip_notebook(total: str = TOTAL) -> nbformat.NotebookNode:
    # factor, helper -> données -> total -> report ("two words.txt")
    return new_notebook(
        cells=[
            new_markdown_cell("# Awkward names\nand strings"),
            new_code_cell("%load_ext ppg_notebook"),
            new_code_cell("%ppg_new --cores 2"),
            new_code_cell(MARK),
            new_code_cell("import math\n\nfactor = 10\n" + GREETING),
            new_code_cell("def helper(x):\n    return math.floor(x * 1.5)"),
            new_code_cell(
                "%%ppg_job données\nmark('données')\ndonnées = [helper(i) for i in range(5)]"
            ),
            new_code_cell(total),
            new_code_cell(
                "%%ppg_job report --out \"two words.txt\"\nmark('report')\n"
                'out.write_text(f"""{GREETING}\n{total} from {len(données)} """)'
            ),
            new_code_cell("print('total is', total)"),
            new_code_cell("%ppg_export from_kernel.py"),
        ]
    )


def execute(notebook: nbformat.NotebookNode, workdir: Path) -> None:
    client = NotebookClient(
        notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()


def new_runs(workdir: Path) -> list[str]:
    """Marker lines written since the last call (runs.log is consumed)."""
    log = workdir / "runs.log"
    if not log.exists():
        return []
    lines = log.read_text(encoding="utf-8").splitlines()
    log.unlink()
    return sorted(lines)


def python(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, script.name, *args],
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


def export_with_cli(notebook: Path, script: Path) -> Path:
    """`ppg-notebook export NOTEBOOK -o SCRIPT`, which must succeed."""
    exported = subprocess.run(
        [CLI, "export", str(notebook), "-o", str(script)], capture_output=True, text=True
    )
    assert exported.returncode == 0, exported.stderr
    return script


def test_notebook_script_and_notebook_again_share_their_results(tmp_path: Path) -> None:
    notebook = round_trip_notebook()
    execute(notebook, tmp_path)
    assert new_runs(tmp_path) == ["données", "report", "total"]
    report = tmp_path / "two words.txt"  # quoted as in a shell: --out "two words.txt"
    assert report.read_text(encoding="utf-8") == "he said \"hi\"\n'bye' — °C\n140 from 5 "
    nb_path = tmp_path / "awkward.ipynb"
    nbformat.write(notebook, nb_path)

    script = export_with_cli(nb_path, tmp_path / "pipeline.py")
    lint = subprocess.run(
        [RUFF, "check", "--no-cache", "--isolated", str(script)], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout

    # (1) right after the notebook, the script reruns nothing (nor does the kernel's export)
    for name in ("pipeline.py", "from_kernel.py"):
        dry = python(tmp_path / name, "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "will run" not in dry.stdout and "up to date  données" in dry.stdout
        done = python(tmp_path / name)
        assert done.returncode == 0, done.stderr
        assert "nothing to do: 3 up to date" in done.stdout
        assert new_runs(tmp_path) == []

    # --dir and --cores choose another pipeline: there, everything has yet to run
    other = python(tmp_path / "pipeline.py", "--dir", "other state", "--cores", "1", "--dry-run")
    assert other.returncode == 0, other.stderr
    assert "will run    données: it has never run" in other.stdout, other.stdout
    assert "up to date" not in other.stdout

    # (2) an edit of one job in the script reruns it and what depends on it, nothing else
    text = script.read_text(encoding="utf-8")
    old = "total = sum(x * factor for x in données)"
    assert text.count(old) == 1
    script.write_text(text.replace(old, "total = sum(x * factor * 2 for x in données)"))
    dry = python(script, "--dry-run")
    assert "will run    total: its code changed" in dry.stdout, dry.stdout
    assert python(script).returncode == 0
    assert new_runs(tmp_path) == ["report", "total"]
    assert report.read_text(encoding="utf-8").endswith("280 from 5 ")
    assert python(script).returncode == 0
    assert new_runs(tmp_path) == []

    # (3) the notebook with the same edit picks up the script's results
    execute(round_trip_notebook(TOTAL.replace("x * factor", "x * factor * 2")), tmp_path)
    assert new_runs(tmp_path) == []
    assert report.read_text(encoding="utf-8").endswith("280 from 5 ")


def test_the_demo_notebook_exports_to_a_script_that_recomputes_nothing(tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parent.parent / "notebooks" / "demo.ipynb"
    shutil.copy(demo, tmp_path / "demo.ipynb")
    execute(nbformat.read(tmp_path / "demo.ipynb", as_version=4), tmp_path)
    cells = export.notebook_cells(json.loads(demo.read_text(encoding="utf-8")))
    (tmp_path / "pipeline.py").write_text(export.export(cells, title="demo.ipynb").text)
    done = python(tmp_path / "pipeline.py")
    assert done.returncode == 0, done.stderr
    assert "nothing to do: 6 up to date" in done.stdout


def test_a_round_trip_keeps_what_jobs_use_of_modules_and_files(tmp_path: Path) -> None:
    # cleaned uses utils.clean (in the project) and shared.scale (in a tracked path outside
    # it) and reads data.csv by path; the script made from the notebook shares its results.
    project, shared = tmp_path / "project", tmp_path / "shared"
    project.mkdir()
    shared.mkdir()
    (project / "utils.py").write_text("def clean(rows):\n    return [r for r in rows if r]\n")
    (shared / "scaling.py").write_text("def scale(x):\n    return x * 2\n")
    (project / "data.csv").write_text("1\n0\n3\n")
    notebook = new_notebook(
        cells=[
            new_code_cell("%load_ext ppg_notebook"),
            new_code_cell("%ppg_new --cores 2 --track ../shared"),
            new_code_cell(MARK),
            new_code_cell(
                "import sys\nsys.path.insert(0, '../shared')\nimport utils\n"
                "from scaling import scale"
            ),
            new_code_cell(
                "%%ppg_job cleaned\nmark('cleaned')\n"
                "rows = [int(x) for x in open('data.csv').read().split()]\n"
                "cleaned = [scale(r) for r in utils.clean(rows)]"
            ),
        ]
    )
    execute(notebook, project)
    assert new_runs(project) == ["cleaned"]
    nb_path = project / "uses.ipynb"
    nbformat.write(notebook, nb_path)
    script = export_with_cli(nb_path, project / "pipeline.py")
    assert 'CellJobs(track=["../shared"])' in script.read_text()
    done = python(script)
    assert done.returncode == 0, done.stderr
    assert new_runs(project) == []

    for path, old, new in [
        (shared / "scaling.py", "x * 2", "x * 3"),
        (project / "utils.py", "if r]", "if r > 1]"),
        (project / "data.csv", "3", "4"),
    ]:
        path.write_text(path.read_text().replace(old, new))
        dry = python(script, "--dry-run")
        assert "will run    cleaned" in dry.stdout, dry.stdout
        assert python(script).returncode == 0
        assert new_runs(project) == ["cleaned"]
    execute(notebook, project)  # the notebook picks up the script's results
    assert new_runs(project) == []


SPLIT = (
    "%%ppg_job split --values X_train X_test y_train y_test\n"
    "mark('split')\n"
    "X, y = load_iris(return_X_y=True)\n"
    "X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, "
    "random_state=0)"
)


def values_notebook(split: str = SPLIT) -> nbformat.NotebookNode:
    # split -> X_train, y_train -> model -> score (X_test, y_test)
    return new_notebook(
        cells=[
            new_code_cell("%load_ext ppg_notebook"),
            new_code_cell("%ppg_new --cores 2"),
            new_code_cell(MARK),
            new_code_cell(
                "from sklearn.datasets import load_iris\n"
                "from sklearn.linear_model import LogisticRegression\n"
                "from sklearn.model_selection import train_test_split\n\n"
                "test_size = 0.25"
            ),
            new_code_cell(split),
            new_code_cell(
                "%%ppg_job model\nmark('model')\n"
                "model = LogisticRegression(max_iter=500).fit(X_train, y_train)"
            ),
            new_code_cell("%%ppg_job score\nmark('score')\nscore = model.score(X_test, y_test)"),
            new_code_cell("%%ppg_job n_test\nmark('n_test')\nn_test = len(y_test)"),
            new_code_cell("print(score, n_test, len(X_train))"),
        ]
    )


def test_values_round_trip_through_the_script_and_the_command_line(tmp_path: Path) -> None:
    notebook = values_notebook()
    execute(notebook, tmp_path)
    assert new_runs(tmp_path) == ["model", "n_test", "score", "split"]
    assert "38 112" in notebook.cells[-1].outputs[0]["text"]  # score, then the sizes
    nb_path = tmp_path / "values.ipynb"
    nbformat.write(notebook, nb_path)

    script = export_with_cli(nb_path, tmp_path / "pipeline.py")
    text = script.read_text(encoding="utf-8")
    assert '@cells.job(values=["X_train", "X_test", "y_train", "y_test"])' in text
    assert "    return X_train, X_test, y_train, y_test\n" in text
    assert "def model(X_train, y_train):" in text and "def n_test(y_test):" in text
    lint = subprocess.run(
        [RUFF, "check", "--no-cache", "--isolated", str(script)], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + text
    done = python(script)
    assert done.returncode == 0, done.stderr
    assert "nothing to do: 4 up to date" in done.stdout
    assert new_runs(tmp_path) == []

    # a bigger test set changes every value; `ppg-notebook run` of the edited notebook
    nb_path.write_text(nb_path.read_text().replace("test_size = 0.25", "test_size = 0.5"))
    run = subprocess.run(
        [CLI, "run", str(nb_path)], capture_output=True, text=True, cwd=tmp_path, timeout=180
    )
    assert run.returncode == 0, run.stderr
    assert new_runs(tmp_path) == ["model", "n_test", "score", "split"]
    done = python(script, "--dry-run")  # the script still reads the old test_size
    assert "will run    split: parameter 'split:test_size' changed" in done.stdout, done.stdout
    assert "may run     n_test: job 'split' (its value 'y_test') will run first" in done.stdout
