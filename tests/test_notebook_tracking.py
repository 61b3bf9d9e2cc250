"""What a cell job used (SPEC §3a, §6), in real Jupyter kernels (nbclient): helpers of the
user's own module, data files read by path, objects of notebook classes (also inside a
scikit-learn pipeline), library objects that are not functions (scipy's `t`, a colormap).

Executing the notebook again in a fresh kernel is a restart: nothing may rerun. Each
edit must rerun exactly the jobs that use what was edited.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook
from test_notebook_kernels import MARK, Runs, execute, outputs

UTILS = """
def clean_rows(frame):
    return frame[frame.value > 1]


def unrelated():
    return 0
"""

SCALE = "class Scale:\n    def apply(self, v):\n        return v * 2"
TRANSFORMER = """
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline


class AddOne(BaseEstimator, TransformerMixin):
    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X + 1


model = make_pipeline(AddOne(), LinearRegression())
"""

CELLS = [
    "%load_ext ppg_notebook",
    MARK,
    "import json\nimport numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt\n"
    "from scipy.stats import t\nfrom utils import clean_rows",
    SCALE,
    "s = Scale()\ncmap = plt.cm.viridis",
    TRANSFORMER,
    "%%ppg_job cleaned\nmark('cleaned')\n"
    "cleaned = clean_rows(pd.read_csv('data/samples.csv')).value.tolist()\ncleaned",
    "%%ppg_job doubled\nmark('doubled')\ndoubled = s.apply(21)\ndoubled",
    "%%ppg_job p\nmark('p')\np = t.sf(2.0, 10)",
    "%%ppg_job colours\nmark('colours')\ncolours = [float(c) for c in cmap(0.5)]",
    "%%ppg_job settings\nmark('settings')\nsettings = json.load(open('config.json'))",
    "%%ppg_job fitted\nmark('fitted')\nX = np.arange(6.0).reshape(-1, 1)\n"
    "fitted = round(float(model.fit(X, 2 * X.ravel()).predict(np.array([[10.0]]))[0]), 6)\nfitted",
]
ALL = ["cleaned", "colours", "doubled", "fitted", "p", "settings"]


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cells = list(CELLS)
        (root / "utils.py").write_text(UTILS)
        (root / "data").mkdir()
        (root / "data" / "samples.csv").write_text("value\n0\n2\n3\n")
        (root / "config.json").write_text('{"alpha": 1}')
        self.runs = Runs(root)

    def notebook(self) -> nbformat.NotebookNode:
        return new_notebook(cells=[new_code_cell(c) for c in self.cells])

    def execute(self) -> tuple[list[str], nbformat.NotebookNode]:
        done = execute(self.notebook(), self.root)
        return self.runs.new(), done

    def replace_cell(self, old: str, new: str) -> None:
        index = self.cells.index(old)
        self.cells[index] = new


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new))


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def test_a_restart_reruns_nothing_and_each_edit_reruns_its_jobs(project: Project) -> None:
    ran, _ = project.execute()
    assert ran == ALL
    ran, done = project.execute()  # a restart: nothing changed
    assert ran == [], "\n".join(outputs(c) for c in done.cells)

    _edit(project.root / "utils.py", "frame.value > 1", "frame.value > 2")
    ran, done = project.execute()
    assert ran == ["cleaned"]
    assert "[3]" in outputs(done.cells[CELLS.index(project.cells[6])])

    _edit(project.root / "utils.py", "return 0", "return 1")  # nobody uses it
    assert project.execute()[0] == []

    (project.root / "data" / "samples.csv").write_text("value\n5\n")
    ran, done = project.execute()
    assert ran == ["cleaned"]
    cleaned = outputs(done.cells[6])
    assert "it read data/samples.csv at run time, which changed" in cleaned
    assert "[5]" in cleaned

    project.replace_cell(SCALE, SCALE.replace("v * 2", "v * 3"))
    ran, done = project.execute()
    assert ran == ["doubled"]
    assert "63" in outputs(done.cells[7])

    (project.root / "config.json").write_text('{"alpha": 2}')
    assert project.execute()[0] == ["settings"]

    project.replace_cell(TRANSFORMER, TRANSFORMER.replace("return X + 1", "return X * 2"))
    assert project.execute()[0] == ["fitted"]
    assert project.execute()[0] == []


def test_editing_a_module_in_a_running_kernel_reruns_with_the_new_code(project: Project) -> None:
    # No restart, no reload: the kernel's `clean_rows` is the old function, the job's
    # fingerprint and the worker that runs it must use the file as it is now.
    notebook = project.notebook()
    client = NotebookClient(
        notebook,
        timeout=180,
        kernel_name="python3",
        resources={"metadata": {"path": str(project.root)}},
    )
    job = CELLS.index(next(c for c in CELLS if c.startswith("%%ppg_job cleaned")))
    with client.setup_kernel():
        for index in range(job + 1):
            client.execute_cell(notebook.cells[index], index)
        assert "[2, 3]" in outputs(notebook.cells[job])
        assert project.runs.new() == ["cleaned"]

        _edit(project.root / "utils.py", "frame.value > 1", "frame.value > 2")
        client.execute_cell(notebook.cells[job], job)
        shown = outputs(notebook.cells[job])
        assert "function 'cleaned:clean_rows' changed: utils.clean_rows changed" in shown, shown
        assert "[3]" in shown
        assert project.runs.new() == ["cleaned"]

        client.execute_cell(notebook.cells[job], job)
        assert project.runs.new() == []

        why = new_code_cell("%ppg_why cleaned")
        notebook.cells.append(why)
        client.execute_cell(why, len(notebook.cells) - 1)
        text = outputs(why)
        assert "files it read at run time: data/samples.csv" in text
        assert "code followed into: utils" in text
