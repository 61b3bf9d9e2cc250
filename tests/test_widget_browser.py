"""The DAG widget in a real browser: Debian's chromium, driven by Playwright, against a real
JupyterLab server (one per xdist worker) in a tmp dir.

Without chromium these tests fail under CI (CI=true) and are skipped elsewhere. The last
screenshots are saved to test-artifacts/widget.png and widget-dark.png (dark theme);
PPG_UPDATE_SCREENSHOT=1 also writes them to docs/ for the README.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbconvert
import nbformat
import nbformat.sign
import pytest

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
KERNEL_READY = """() => {
    const s = window.jupyterapp?.shell?.currentWidget?.sessionContext;
    const k = s?.session?.kernel;
    return !!(s && s.isReady && k && k.connectionStatus === 'connected' && k.status === 'idle');
}"""

if not os.path.exists(CHROMIUM):
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

try:
    import playwright.sync_api as playwright_sync
except ImportError:
    if os.environ.get("CI"):
        pytest.fail("playwright is missing: CI must install the test extra", pytrace=False)
    pytest.skip("playwright is missing (pip install playwright)", allow_module_level=True)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless chromium for this worker (Playwright's sync API allows one at a time)."""
    with _chromium() as browser:
        yield browser


@contextlib.contextmanager
def _chromium() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[dict[str, Any]]:
    """A JupyterLab server in a tmp dir, shared by this worker's browser tests."""
    with jupyter_lab(tmp_path_factory.mktemp("lab"), browser=chromium) as server:
        yield server


@pytest.fixture(scope="session")
def notebook7(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[dict[str, Any]]:
    """A Notebook 7 server in a tmp dir, shared by this worker's browser tests."""
    with jupyter_lab(tmp_path_factory.mktemp("nb7"), app="notebook", browser=chromium) as server:
        yield server


@pytest.fixture(params=["lab", "notebook7"])
def frontend(request: pytest.FixtureRequest) -> dict[str, Any]:
    """JupyterLab 4 and Notebook 7, in turn."""
    return request.getfixturevalue(request.param)


@contextlib.contextmanager
def jupyter_lab(
    base: Path, app: str = "jupyterlab", browser: Any = None
) -> Iterator[dict[str, Any]]:
    """JupyterLab (or Notebook 7: `app="notebook"`) in `base` (its config, data and
    notebooks) and a headless chromium (`browser`, or one of its own)."""
    root = base / "root"
    root.mkdir()
    env = dict(os.environ)
    for var, sub in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
        ("JUPYTERLAB_SETTINGS_DIR", "settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
    ]:
        (base / sub).mkdir()
        env[var] = str(base / sub)
    labconfig = base / "config" / "labconfig"
    labconfig.mkdir()
    disabled = {"@jupyterlab/apputils-extension:announcements": True}
    (labconfig / "page_config.json").write_text(json.dumps({"disabledExtensions": disabled}))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    log = open(base / "server.log", "w")  # noqa: SIM115 (closed at teardown)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            app,
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--allow-root",
            "--LabApp.expose_app_in_browser=True"
            if app == "jupyterlab"
            else "--JupyterNotebookApp.expose_app_in_browser=True",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).read()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                msg = "JupyterLab did not start:\n" + (base / "server.log").read_text()
                raise RuntimeError(msg) from None
            time.sleep(0.2)
    try:
        with contextlib.ExitStack() as stack:
            if browser is None:
                browser = stack.enter_context(_chromium())
            yield {"url": url, "token": token, "root": root, "browser": browser, "app": app}
    finally:  # (also when the caller failed: a server left running outlives the test)
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _notebook(root: Path, name: str, cells: list[str]) -> str:
    folder = root / name
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, folder / "test.ipynb")
    return f"{name}/test.ipynb"


@contextlib.contextmanager
def _open(lab: dict[str, Any], path: str) -> Iterator[Any]:
    page = lab["browser"].new_page(viewport={"width": 1400, "height": 1000})
    try:
        # A workspace of its own: JupyterLab would otherwise reopen the other tests' notebooks.
        workspace = path.split("/")[0]
        if lab.get("app") == "notebook":
            page.goto(f"{lab['url']}/notebooks/{path}?token={lab['token']}")
        else:
            page.goto(f"{lab['url']}/lab/workspaces/{workspace}/tree/{path}?token={lab['token']}")
        page.wait_for_function(KERNEL_READY, timeout=60_000)
        yield page
    finally:
        with contextlib.suppress(Exception):
            page.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:shutdown')")
        page.close()


def _run_all(page: Any) -> None:
    # Not awaited: the command's promise settles only when every cell has finished.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


def _save(page: Any, saved: Path) -> str:
    """Save the notebook open in `page` (at `saved`); the HTML of its outputs once it holds
    the static picture of the graph."""
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")

    def html() -> str:
        nb = nbformat.read(saved, as_version=4)
        parts = [
            o.get("data", {}).get("text/html", "")
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.outputs
        ]
        return "".join(h if isinstance(h, str) else "".join(h) for h in parts)

    deadline = time.monotonic() + 20
    while "ppg-static" not in (text := html()):
        assert time.monotonic() < deadline, "no static picture in the saved notebook"
        time.sleep(0.3)
    return text


def _state(page: Any, job: str) -> str | None:
    return page.get_attribute(f'.ppg-dag g.node[data-job="{job}"]', "data-state")


def _wait_state(page: Any, job: str, state: str, timeout: float = 30_000) -> None:
    page.wait_for_function(
        "([job, state]) => document.querySelector"
        "(`.ppg-dag g.node[data-job=\"${job}\"]`)?.getAttribute('data-state') === state",
        arg=[job, state],
        timeout=timeout,
    )


def _fill(page: Any, job: str) -> str:
    return page.evaluate(
        "(job) => getComputedStyle(document.querySelector"
        "(`.ppg-dag g.node[data-job=\"${job}\"]`).querySelector('path,polygon,ellipse')).fill",
        job,
    )


ALL_IN_VIEW = """() => {
    const canvas = document.querySelector('.ppg-canvas').getBoundingClientRect();
    return Array.from(document.querySelectorAll('.ppg-dag g.node')).every((node) => {
        const r = node.getBoundingClientRect();
        return r.left >= canvas.left && r.right <= canvas.right
            && r.top >= canvas.top && r.bottom <= canvas.bottom;
    });
}"""


FACTS_APART = """() => {
    const panel = document.querySelector('.ppg-details').getBoundingClientRect();
    return Array.from(document.querySelectorAll('.ppg-d-facts dt')).every((dt) => {
        const label = dt.getBoundingClientRect();
        const value = dt.nextElementSibling.getBoundingClientRect();
        const fits = dt.scrollWidth <= dt.clientWidth;  // the label's text, not only its box
        return fits && label.right + 4 <= value.left && value.right <= panel.right;
    });
}"""


def _screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    widget = page.locator(".ppg-dag").first
    widget.screenshot(path=str(ARTIFACTS / name))
    docs = ("widget.png", "widget-dark.png", "widget-groups.png")
    if os.environ.get("PPG_UPDATE_SCREENSHOT") and name in docs:
        shutil.copy(ARTIFACTS / name, REPO / "docs" / name)


CELLS = [
    "%load_ext ppg_notebook",
    "%%ppg_job raw --no-run\nraw = list(range(10))",
    "%%ppg_job total --no-run\nimport time\ntime.sleep(1.5)\ntotal = sum(raw)",
    "%%ppg_job report --out report.txt --no-run\nout.write_text(f'total: {total}')",
    "%%ppg_job broken --no-run\nprint('dividing now')\nbroken = total / 0",
    "%ppg_dag",
]


def test_the_widget_shows_states_runs_reruns_and_shows_a_failure(lab: dict[str, Any]) -> None:
    path = _notebook(lab["root"], "main", CELLS)
    with _open(lab, path) as page:
        _run_all(page)
        page.wait_for_selector(".ppg-dag[data-rendered='4']", timeout=30_000)
        for job in ("raw", "total", "report.txt", "broken"):
            assert _state(page, job) == "none*", job
        assert page.locator(".ppg-legend").inner_text().count("up to date") == 1

        # Run all: the run happens on a thread; states arrive while it runs.
        page.click(".ppg-toolbar button[data-action='run_all']")
        _wait_state(page, "total", "running")
        _wait_state(page, "report.txt", "ok")
        _wait_state(page, "broken", "failed*")
        assert _state(page, "raw") == "ok" and _state(page, "total") == "ok"
        assert _fill(page, "total") == "rgb(165, 214, 167)"  # green
        assert _fill(page, "broken") == "rgb(239, 83, 80)"  # red
        page.wait_for_function(
            "() => document.querySelector('.ppg-message')?.textContent.includes('1 failed')"
        )

        # Click a node, press Rerun: it runs again (blue), then is green again.
        assert page.evaluate(ALL_IN_VIEW)
        page.click('.ppg-dag g.node[data-job="total"]')
        page.wait_for_selector(".ppg-details .ppg-d-title:has-text('total')")
        # The details panel takes room from the graph, which is fitted to what is left.
        page.wait_for_function(ALL_IN_VIEW, timeout=5_000)
        first_run = page.inner_text(".ppg-details .ppg-d-last-run")
        page.click(".ppg-details button[data-action='rerun']")
        _wait_state(page, "total", "running", timeout=10_000)
        assert _fill(page, "total") == "rgb(66, 165, 245)"  # blue
        _wait_state(page, "total", "ok")
        page.wait_for_function(
            "(first) => document.querySelector('.ppg-details .ppg-d-last-run')"
            "?.textContent !== first",
            arg=first_run,
            timeout=10_000,
        )

        # A failed job: red, with its traceback and log in the panel.
        page.click('.ppg-dag g.node[data-job="broken"]')
        page.wait_for_selector(".ppg-details .ppg-d-traceback", timeout=10_000)
        assert "ZeroDivisionError" in page.inner_text(".ppg-details .ppg-d-traceback")
        assert "dividing now" in page.inner_text(".ppg-details .ppg-d-log")
        assert page.evaluate(FACTS_APART), "a label of the details panel overlaps its value"
        _screenshot(page, "widget.png")

        # Invalidate answers, and the border turns amber (the job must run).
        page.click('.ppg-dag g.node[data-job="raw"]')
        page.wait_for_selector(".ppg-details .ppg-d-title:has-text('raw')")
        page.click(".ppg-details button[data-action='invalidate']")
        _wait_state(page, "raw", "none*", timeout=10_000)
        page.wait_for_function(
            "() => document.querySelector('.ppg-message')?.textContent.includes('invalidated')"
        )


def test_the_page_says_each_state_in_the_words_the_kernel_sends(lab: dict[str, Any]) -> None:
    from ppg_notebook import status

    cells = [
        "%load_ext ppg_notebook",
        "from ppg_notebook import status\n"
        "status.CODE_WORDS['none'] = 'not made yet'\n"
        "status.CODE_MEANINGS['none'] = 'never made (so the kernel says)'",
        "%%ppg_job raw --no-run\nraw = 1",
        "%ppg_dag",
    ]
    path = _notebook(lab["root"], "words", cells)
    with _open(lab, path) as page:
        _run_all(page)
        page.wait_for_selector(".ppg-dag[data-rendered='1']", timeout=30_000)
        _wait_state(page, "raw", "none*")
        legend = page.eval_on_selector_all(
            ".ppg-legend-item", "(items) => items.map((i) => [i.textContent, i.title])"
        )
        said = {**status.CODE_WORDS, "none": "not made yet"}
        meant = {**status.CODE_MEANINGS, "none": "never made (so the kernel says)"}
        assert legend == [[said[part], meant[part]] for part in said]
        page.click('.ppg-dag g.node[data-job="raw"]')
        page.wait_for_selector(".ppg-details[data-complete='true']", timeout=10_000)
        state = page.inner_text(".ppg-details dd.ppg-d-state")
        assert state == "never made (so the kernel says); must run"


def test_a_click_during_a_blocking_cell_is_answered_when_the_cell_ends(
    lab: dict[str, Any],
) -> None:
    cells = [
        "%load_ext ppg_notebook",
        "%%ppg_job a --no-run\na = 1",
        "%ppg_dag",
        "import time\ntime.sleep(4)",
    ]
    path = _notebook(lab["root"], "blocking", cells)
    with _open(lab, path) as page:
        _run_all(page)
        page.wait_for_selector(".ppg-dag[data-rendered='1']", timeout=30_000)
        page.click(".ppg-toolbar button[data-action='run_all']")
        page.wait_for_function(
            "() => document.querySelector('.ppg-message')?.textContent"
            ".includes('waiting for the kernel')",
            timeout=5_000,
        )
        _wait_state(page, "a", "ok", timeout=30_000)


# WCAG 2.x contrast. The widget's text is small (node labels: Graphviz fontsize 11, and the
# fit-to-view zoom may shrink them further; legend and toolbar: 12px), so the "large text"
# allowance of 3:1 (>= 18pt, or 14pt bold) does not apply: all text must reach 4.5:1 (AA).
MIN_CONTRAST = 4.5

COLOURS = """() => {
    const style = (sel) => getComputedStyle(document.querySelector(sel));
    const node = (job, part) => style(`.ppg-dag g.node[data-job="${job}"] ${part}`).fill;
    const nodes = {};
    for (const job of ['raw', 'broken', 'later']) {
        nodes[job] = [node(job, 'text'), node(job, ':is(path, polygon, ellipse)')];
    }
    return {
        background: style('.ppg-dag').backgroundColor,
        nodes,
        legend: style('.ppg-legend').color,
        progress: style('.ppg-progress-text').color,
        button: [style('.ppg-btn').color, style('.ppg-btn').backgroundColor],
    };
}"""


def _rgb(colour: str, under: tuple[float, ...] = (1.0, 1.0, 1.0)) -> tuple[float, ...]:
    """A computed `rgb(...)`/`rgba(...)` colour as 0..1 channels, composited over `under`."""
    parts = [float(x) for x in colour[colour.index("(") + 1 : -1].replace("/", ",").split(",")]
    alpha = parts[3] if len(parts) == 4 else 1.0
    return tuple(alpha * c / 255 + (1 - alpha) * u for c, u in zip(parts[:3], under, strict=True))


def _luminance(rgb: tuple[float, ...]) -> float:
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_the_widget_is_readable_in_the_dark_theme(lab: dict[str, Any]) -> None:
    cells = [
        "%load_ext ppg_notebook",
        "%%ppg_job raw --no-run\nraw = 1",
        "%%ppg_job broken --no-run\nbroken = raw / 0",
        "%%ppg_job later --no-run\nlater = raw + 1",
        "%ppg_run raw",
        "%ppg_run --background broken",
        "%ppg_dag",
    ]
    path = _notebook(lab["root"], "dark", cells)
    with _open(lab, path) as page:
        # The theme is a user setting: saved on this worker's server, so put it back for the
        # other tests whatever happens here.
        try:
            page.evaluate(
                "() => window.jupyterapp.commands.execute"
                "('apputils:change-theme', {theme: 'JupyterLab Dark'})"
            )
            page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
            _run_all(page)
            page.wait_for_selector(".ppg-dag[data-rendered='3']", timeout=30_000)
            _wait_state(page, "raw", "ok")
            _wait_state(page, "broken", "failed*")
            _wait_state(page, "later", "none*")
            colours = page.evaluate(COLOURS)
            _screenshot(page, "widget-dark.png")
        finally:
            page.evaluate(
                "() => window.jupyterapp.commands.execute"
                "('apputils:change-theme', {theme: 'JupyterLab Light'})"
            )
    background = _rgb(colours["background"])
    assert _luminance(background) < 0.2, colours["background"]
    ratios = {
        job: _contrast(_rgb(text), _rgb(fill)) for job, (text, fill) in colours["nodes"].items()
    }
    button_bg = _rgb(colours["button"][1], background)
    ratios["button"] = _contrast(_rgb(colours["button"][0], button_bg), button_bg)
    for part in ("legend", "progress"):
        ratios[part] = _contrast(_rgb(colours[part], background), background)
    print("dark theme contrast:", {k: round(v, 2) for k, v in ratios.items()}, colours)
    low = {k: round(v, 2) for k, v in ratios.items() if v < MIN_CONTRAST}
    assert not low, f"text below {MIN_CONTRAST}:1 contrast in the dark theme: {low} ({colours})"


FAN_OUT = [
    "%load_ext ppg_notebook",
    "import ppg_notebook as ppg\n"
    "def write(path):\n"
    "    path.write_text('x')\n"
    "source = ppg.FileGeneratingJob('in.txt', write)\n"
    "for i in range(2000):\n"
    "    ppg.FileGeneratingJob(f'out/{i}.txt', write).depends_on(source)",
    "%ppg_dag",
    "%%ppg_job late --no-run\nlate = 1",
]

# The smallest label on screen, in CSS pixels: Graphviz's font size times the SVG's scale.
SMALLEST_LABEL = """() => Math.min(...Array.from(document.querySelectorAll('.ppg-dag g.node text'))
    .filter((t) => t.textContent.trim())
    .map((t) => t.getScreenCTM().a * Number(t.getAttribute('font-size')) * 4 / 3))"""


def test_thousands_of_jobs_open_as_a_few_readable_groups_search_and_focus(
    frontend: dict[str, Any],
) -> None:
    app = frontend["app"]
    path = _notebook(frontend["root"], f"fanout-{app}", FAN_OUT)
    with _open(frontend, path) as page:
        _run_all(page)
        group = '.ppg-dag g.node[data-count="2000"]'
        page.wait_for_selector(group, timeout=60_000)
        # A --no-run cell after the widget: its job appears without a run.
        page.wait_for_selector('.ppg-dag g.node[data-job="late"]', timeout=30_000)
        rendered = int(page.get_attribute(".ppg-dag", "data-rendered") or 0)
        assert rendered <= 6, rendered
        assert "out/*.txt ×2000" in (page.text_content(group) or "")
        assert page.evaluate(SMALLEST_LABEL) >= 11
        assert page.get_attribute(".ppg-dag", "data-jobs") == "2002"
        if app == "jupyterlab":
            _screenshot(page, "widget-groups.png")

        # A group lists its members.
        page.click(group)
        page.wait_for_selector(".ppg-details .ppg-g-members li")
        page.fill(".ppg-g-filter", "out/1999.")
        page.wait_for_function("() => document.querySelectorAll('.ppg-g-members li').length === 1")

        # Search: "/" over the widget focuses the box; Enter expands the group and opens it.
        page.evaluate("() => document.activeElement?.blur()")  # (a "/" typed in a box is a "/")
        page.hover(".ppg-canvas")
        page.keyboard.press("/")
        assert page.evaluate("() => document.activeElement?.className") == "ppg-search"
        page.keyboard.type("out/1234.")
        page.wait_for_selector(".ppg-results a[data-goto='out/1234.txt']")
        page.keyboard.press("Enter")
        page.wait_for_selector(".ppg-details[data-job='out/1234.txt'] .ppg-d-title")
        node = '.ppg-dag g.node[data-job="out/1234.txt"]'
        page.wait_for_selector(node, timeout=30_000)
        assert page.evaluate(SMALLEST_LABEL) >= 11
        inside = page.evaluate(
            """(sel) => { const c = document.querySelector('.ppg-canvas').getBoundingClientRect();
            const n = document.querySelector(sel).getBoundingClientRect();
            return n.left >= c.left && n.right <= c.right && n.top >= c.top
                && n.bottom <= c.bottom; }""",
            node,
        )
        assert inside, "the job found is not in view"
        page.wait_for_selector(".ppg-details[data-complete='true'] .ppg-d-why")

        # Focus: the job and its up- and downstream only; Show all: everything again.
        page.click(".ppg-details button[data-action='focus']")
        page.wait_for_selector(".ppg-dag[data-focus='out/1234.txt']", timeout=30_000)
        assert page.get_attribute(".ppg-dag", "data-rendered") == "2"
        page.click(".ppg-toolbar button[data-action='show_all']")
        page.wait_for_selector(group, timeout=30_000)

        # Go to cell: the notebook scrolls to the cell that declared the job, and marks it.
        page.fill(".ppg-search", "late")
        page.wait_for_selector(".ppg-results a[data-goto='late']")
        page.keyboard.press("Enter")
        page.click(".ppg-details[data-job='late'] button[data-action='goto-cell']")
        flashed = page.wait_for_selector(".ppg-cell-flash", timeout=5_000)
        assert "%%ppg_job late" in (flashed.text_content() or "")

        # The saved notebook carries a static picture of the graph, naming its jobs.
        picture = _save(page, frontend["root"] / path)
        assert "out/*.txt ×2000" in picture and "in.txt" in picture
        assert not page.is_visible(".ppg-static"), "the live widget hides the picture"


SAVED = [
    "%load_ext ppg_notebook",
    "%%ppg_job raw --no-run\nraw = 1",
    "%%ppg_job total --no-run\ntotal = raw + 1",
    "%ppg_run raw",
    "%ppg_dag",
]

# Text the user can see (innerText leaves out what is hidden) in the notebook's outputs.
SHOWN = """() => Array.from(document.querySelectorAll('.jp-OutputArea'), (a) => a.innerText)
    .join('\\n')"""
WIDGET_GAVE_UP = """() => Array.from(document.querySelectorAll('.jp-OutputArea-output'))
    .some((n) => n.textContent.includes('model not found'))"""


def _shows_the_picture(page: Any) -> None:
    """The picture is on screen, naming the jobs and their states when it was saved."""
    page.wait_for_selector(".ppg-static", state="visible", timeout=30_000)
    picture = page.inner_text(".ppg-static")
    assert "raw\nup to date" in picture and "total\nnot run yet; must run" in picture, picture


def test_a_saved_notebook_reopened_shows_the_picture_not_model_not_found(
    frontend: dict[str, Any], tmp_path: Path
) -> None:
    app = frontend["app"]
    path = _notebook(frontend["root"], f"saved-{app}", SAVED)
    saved = frontend["root"] / path
    with _open(frontend, path) as page:
        _run_all(page)
        page.wait_for_selector(".ppg-dag[data-rendered='2']", timeout=30_000)
        _wait_state(page, "raw", "ok")
        assert "raw" in _save(page, saved)
        assert not page.is_visible(".ppg-static"), "the live widget hides the picture"
        assert page.is_visible(".ppg-dag")

    # Reopened (saved by the server, so trusted): a fresh kernel, which has no widget model.
    with _open(frontend, path) as page:
        _shows_the_picture(page)
        page.wait_for_function(WIDGET_GAVE_UP, timeout=30_000)  # (the widget manager tried)
        shown = page.evaluate(SHOWN)
        assert "model not found" not in shown and "Loading widget" not in shown, shown
        assert page.locator(".ppg-dag").count() == 0
    if app != "jupyterlab":
        return

    # Untrusted (changed behind the server's back): the <style> is sanitized away, but the
    # widget's output is not rendered as a widget either: its text/plain shows, not an error.
    nb = nbformat.read(saved, as_version=4)
    nb.metadata["changed"] = True
    nbformat.write(nb, saved)
    with _open(frontend, path) as page:
        _shows_the_picture(page)
        assert page.evaluate("() => !document.querySelector('.jp-OutputArea style')")
        shown = page.evaluate(SHOWN)
        assert "model not found" not in shown, shown
        assert "PipelineWidget(" in shown and ", 2 jobs)" in shown, shown

    # nbviewer's way (nbconvert to HTML): the picture shows.
    html = tmp_path / "saved.html"
    html.write_text(nbconvert.HTMLExporter().from_filename(str(saved))[0])
    page = frontend["browser"].new_page()
    try:
        page.goto(html.as_uri(), wait_until="domcontentloaded")
        _shows_the_picture(page)
        assert ", 2 jobs)" in page.inner_text("body")  # the widget's text/plain
    finally:
        page.close()


def test_a_notebook_executed_headless_says_its_widget_has_no_kernel(lab: dict[str, Any]) -> None:
    """A notebook run by nbclient (papermill, `nbconvert --execute`) keeps the widget's state,
    so JupyterLab rebuilds the widget when it is reopened, with no kernel behind it: the
    widget says so, and how to reconnect, rather than that the kernel is busy."""
    import nbclient

    path = _notebook(lab["root"], "headless", SAVED)
    saved = lab["root"] / path
    nb = nbformat.read(saved, as_version=4)
    nbclient.NotebookClient(nb, resources={"metadata": {"path": str(saved.parent)}}).execute()
    assert "application/vnd.jupyter.widget-state+json" in nb.metadata.get("widgets", {})
    nbformat.write(nb, saved)
    # (trusted, as `jupyter trust` would: else JupyterLab shows the widget's text line)
    nbformat.sign.NotebookNotary(data_dir=str(lab["root"].parent / "data")).sign(nb)
    with _open(lab, path) as page:
        page.wait_for_function(
            "() => document.querySelector('.ppg-message')?.textContent"
            ".includes('its kernel is gone')",
            timeout=30_000,
        )
        said = page.inner_text(".ppg-message")
        assert "run its cell again to reconnect" in said, said


STEADY = [
    "%load_ext ppg_notebook",
    "import ppg_notebook as ppg\n"
    "def write(path):\n"
    "    path.write_text('x')\n"
    "source = ppg.FileGeneratingJob('in.txt', write)\n"
    "for i in range(20):\n"
    "    ppg.FileGeneratingJob(f'out/{i}.txt', write).depends_on(source)",
    "%%ppg_job raw --no-run\nraw = 1",
    "%%ppg_job total --no-run\ntotal = raw + 1",
    "%ppg_dag",
]

# The middle of the nodes a selector matches (all of them: a group's members), on screen,
# from the graph's canvas corner (the notebook may scroll to a new cell: the widget with it).
MIDDLE = """(sel) => {
    const boxes = Array.from(document.querySelectorAll(sel), (n) => n.getBoundingClientRect());
    if (!boxes.length) return null;
    const c = document.querySelector('.ppg-canvas').getBoundingClientRect();
    const min = (side) => Math.min(...boxes.map((b) => b[side]));
    const max = (side) => Math.max(...boxes.map((b) => b[side]));
    return [(min('left') + max('right')) / 2 - c.left, (min('top') + max('bottom')) / 2 - c.top];
}"""

# Two animation frames: what a resize of the canvas (the details panel) sets off is done.
SETTLED = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"


def _add_cell(page: Any, source: str) -> None:
    """Add a cell at the end of the notebook and run it, as a user would."""
    page.evaluate(
        """(source) => {
            const app = window.jupyterapp;
            const notebook = app.shell.currentWidget.content;
            notebook.activeCellIndex = notebook.widgets.length - 1;
            app.commands.execute('notebook:insert-cell-below');
            notebook.activeCell.model.sharedModel.setSource(source);
            app.commands.execute('notebook:run-cell');
        }""",
        source,
    )


def _moved(before: list[float], after: list[float]) -> float:
    return max(abs(a - b) for a, b in zip(before, after, strict=True))


def test_what_the_user_looks_at_stays_put_when_a_group_expands_or_a_job_is_added(
    frontend: dict[str, Any],
) -> None:
    app = frontend["app"]
    path = _notebook(frontend["root"], f"steady-{app}", STEADY)
    with _open(frontend, path) as page:
        _run_all(page)
        group = '.ppg-dag g.node[data-group="group:out/*.txt"]'
        page.wait_for_selector(group, timeout=30_000)
        page.wait_for_selector(".ppg-dag[data-rendered='4']")

        # One more job, declared by a --no-run cell: the selected job stays where it was.
        page.click('.ppg-dag g.node[data-job="total"]')
        page.wait_for_selector(".ppg-details[data-job='total'][data-complete='true']")
        page.evaluate(SETTLED)
        node = '.ppg-dag g.node[data-job="total"]'
        before = page.evaluate(MIDDLE, node)
        _add_cell(page, "%%ppg_job zzz --no-run\nzzz = 1")
        page.wait_for_selector('.ppg-dag g.node[data-job="zzz"]', timeout=30_000)
        after = page.evaluate(MIDDLE, node)
        assert _moved(before, after) < 3, (before, after)

        # Expand: the group's members are drawn where the group was.
        page.click(group)
        page.wait_for_selector(".ppg-details[data-group] button[data-action='expand']")
        page.evaluate(SETTLED)
        before = page.evaluate(MIDDLE, group)
        page.click(".ppg-details button[data-action='expand']")
        page.wait_for_selector(".ppg-dag[data-rendered='24']", timeout=30_000)
        after = page.evaluate(MIDDLE, '.ppg-dag g.node[data-job^="out/"]')
        assert _moved(before, after) < 3, (before, after)


# Over an animation cycle and more of the running node's border: how opaque it is (its own
# opacity times its ancestors' up to the widget, and the stroke's), and where its dashes are.
RUNNING_SAMPLES = """async (job) => {
    const out = [];
    for (let i = 0; i < 14; i++) {
        const g = document.querySelector(`.ppg-dag g.node[data-job="${job}"]`);
        const shape = g.querySelector('path, polygon, ellipse');
        const style = getComputedStyle(shape);
        let opacity = Number(style.opacity) * Number(style.strokeOpacity);
        for (let e = g; e && !e.classList.contains('ppg-dag'); e = e.parentElement) {
            opacity *= Number(getComputedStyle(e).opacity);
        }
        out.push({
            state: g.getAttribute('data-state'),
            opacity,
            offset: style.strokeDashoffset,
            stroke: style.stroke,
            fill: style.fill,
            text: getComputedStyle(g.querySelector('text')).fill,
            background: getComputedStyle(document.querySelector('.ppg-dag')).backgroundColor,
        });
        await new Promise((r) => setTimeout(r, 80));
    }
    return out;
}"""


def test_a_running_job_has_a_moving_border_that_never_fades(lab: dict[str, Any]) -> None:
    folder = "running"
    release = lab["root"] / folder / "release.flag"
    cells = [
        "%load_ext ppg_notebook",
        "%%ppg_job prep --no-run\nprep = 1",
        "%%ppg_job slow --no-run\nimport os, time\ndeadline = time.time() + 90\n"
        f"while not os.path.exists({str(release)!r}) and time.time() < deadline:\n"
        "    time.sleep(0.05)\nslow = prep + 1",
        "%ppg_run --background slow",
        "%ppg_dag",
    ]
    path = _notebook(lab["root"], folder, cells)
    seen = {}
    with _open(lab, path) as page:
        try:
            _run_all(page)
            _wait_state(page, "slow", "running")
            seen["JupyterLab Light"] = page.evaluate(RUNNING_SAMPLES, "slow")
            page.evaluate(
                "() => window.jupyterapp.commands.execute"
                "('apputils:change-theme', {theme: 'JupyterLab Dark'})"
            )
            page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
            seen["JupyterLab Dark"] = page.evaluate(RUNNING_SAMPLES, "slow")
        finally:
            release.touch()
            page.evaluate(
                "() => window.jupyterapp.commands.execute"
                "('apputils:change-theme', {theme: 'JupyterLab Light'})"
            )
        _wait_state(page, "slow", "ok")
    for theme, samples in seen.items():
        assert {s["state"] for s in samples} == {"running"}, (theme, samples)
        faded = [round(s["opacity"], 2) for s in samples if s["opacity"] < 0.9]
        assert not faded, f"{theme}: the running border fades to opacity {faded}"
        assert len({s["offset"] for s in samples}) >= 3, f"{theme}: the border does not move"
        s = samples[-1]
        background = _rgb(s["background"])
        border = _contrast(_rgb(s["stroke"], background), background)
        text = _contrast(_rgb(s["text"]), _rgb(s["fill"]))
        print(theme, "running border/background", round(border, 2), "text/fill", round(text, 2))
        assert border >= 3, f"{theme}: the running border is {border:.2f}:1 on the background"
        assert text >= MIN_CONTRAST, f"{theme}: a running job's name is {text:.2f}:1 on its fill"


KEYS = [
    "%load_ext ppg_notebook",
    #   a ─┬─ b ─┐
    #      └─ c ─┴─ d
    "%%ppg_job a --no-run\na = 1",
    "%%ppg_job b --no-run\nb = a + 1",
    "%%ppg_job c --no-run\nc = a + 2",
    "%%ppg_job d --no-run\nd = b + c",
    "%ppg_dag",
]


def _selected(page: Any) -> str | None:
    return page.evaluate(
        "() => { const panel = document.querySelector('.ppg-details');"
        " const node = document.querySelectorAll('.ppg-dag g.node.ppg-selected');"
        " if (panel.hidden) return node.length ? 'node without panel' : null;"
        " return node.length === 1 && node[0].getAttribute('data-job') === panel.dataset.job"
        " ? panel.dataset.job : `panel ${panel.dataset.job}, ${node.length} nodes`; }"
    )


def test_keys_move_the_selection_fit_the_graph_and_escape(frontend: dict[str, Any]) -> None:
    app = frontend["app"]
    path = _notebook(frontend["root"], f"keys-{app}", KEYS)
    with _open(frontend, path) as page:
        _run_all(page)
        page.wait_for_selector(".ppg-dag[data-rendered='4']", timeout=30_000)
        page.click('.ppg-dag g.node[data-job="a"]')
        assert _selected(page) == "a"
        for key, job in [
            ("ArrowRight", "b"),  # downstream
            ("ArrowDown", "c"),  # the next sibling
            ("ArrowDown", "b"),  # (round again)
            ("ArrowUp", "c"),
            ("ArrowRight", "d"),
            ("ArrowLeft", "b"),  # upstream
            ("ArrowLeft", "a"),
        ]:
            page.keyboard.press(key)
            page.wait_for_function(
                "(job) => document.querySelector('.ppg-details').dataset.job === job", arg=job
            )
            assert _selected(page) == job, key
        page.keyboard.press("ArrowLeft")  # a has no upstream: it stays selected
        assert _selected(page) == "a"
        page.keyboard.press("Escape")
        assert _selected(page) is None

        # F: after zooming in (the graph no longer fits), everything is in view again.
        page.wait_for_function(ALL_IN_VIEW)
        for _ in range(6):
            page.click(".ppg-toolbar button[data-action='zoom-in']")
        assert not page.evaluate(ALL_IN_VIEW)
        page.keyboard.press("f")
        assert page.evaluate(ALL_IN_VIEW)

        # Esc in the search box empties it and closes its list.
        page.click(".ppg-search")
        page.keyboard.type("b")
        page.wait_for_selector(".ppg-results a[data-goto='b']")
        page.keyboard.press("Escape")
        assert page.input_value(".ppg-search") == ""
        assert page.is_hidden(".ppg-results")
        assert page.evaluate("() => document.activeElement?.classList.contains('ppg-dag')")


VALUES = [
    "%load_ext ppg_notebook",
    "%%ppg_job grid\nimport numpy as np\ngrid = np.arange(12).reshape(3, 4)",
    "%%ppg_job frame\nimport pandas as pd\n"
    "frame = pd.DataFrame({'sample': ['A', 'B', 'C'], 'reads': [120, 98, 143]})",
    "%ppg_dag",
]


def test_the_details_of_a_value_job_preview_its_value(frontend: dict[str, Any]) -> None:
    path = _notebook(frontend["root"], f"values-{frontend['app']}", VALUES)
    with _open(frontend, path) as page:
        _run_all(page)
        page.wait_for_selector(".ppg-dag[data-rendered='2']", timeout=30_000)
        _wait_state(page, "frame", "ok")
        for job, kind, text in [
            ("grid", "numpy.ndarray · (3, 4)", "array([[ 0,  1,  2,  3],"),
            ("frame", "pandas.DataFrame · (3, 2)", "sample  reads"),
        ]:
            page.click(f'.ppg-dag g.node[data-job="{job}"]')
            panel = f".ppg-details[data-job='{job}'][data-complete='true']"
            page.wait_for_selector(f"{panel} pre.ppg-d-repr", timeout=10_000)
            assert page.inner_text(f"{panel} dd.ppg-d-value") == kind
            shown = page.inner_text(f"{panel} pre.ppg-d-repr")
            assert text in shown, shown
            assert page.evaluate(FACTS_APART), "a label of the details panel overlaps its value"


def test_a_graph_that_grows_below_the_widget_stays_in_view(lab: dict[str, Any]) -> None:
    # The widget near the top of a notebook run all: each cell below adds a job to a chain,
    # a picture after the other (they are apart: a cell that takes a moment between them).
    cells = ["%load_ext ppg_notebook", "%%ppg_job step0 --no-run\nstep0 = 0", "%ppg_dag"]
    for i in range(1, 8):
        cells += [
            "import time\ntime.sleep(1)",
            f"%%ppg_job step{i} --no-run\nstep{i} = step{i - 1}",
        ]
    path = _notebook(lab["root"], "grows", cells)
    with _open(lab, path) as page:
        _run_all(page)
        page.wait_for_selector(".ppg-dag[data-rendered='1']", timeout=30_000)
        page.wait_for_selector(".ppg-dag[data-rendered='8']", timeout=60_000)
        assert page.evaluate(ALL_IN_VIEW), "the graph outgrew the view"
