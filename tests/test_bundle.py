"""The bundled front end in ppg_notebook/static/ is what js/ builds: never stale, and its
TypeScript type-checks (js/tsconfig.json, strict); and a wheel of the project ships it
(issue 4: "a fresh `pip install .` must ship the bundle").

Type-checks js/ with its locked TypeScript and rebuilds it with its locked esbuild (`npm ci`
first when js/node_modules lacks them) into a tmp dir, and compares byte for byte. Without
node/npm this fails under CI and skips elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
JS = REPO / "js"
STATIC = REPO / "ppg_notebook" / "static"


def test_the_shipped_bundle_is_built_from_js(tmp_path: Path) -> None:
    if not (shutil.which("node") and shutil.which("npm")):
        if os.environ.get("CI"):
            pytest.fail("node and npm are needed to check the widget bundle")
        pytest.skip("node/npm are missing")
    tools = JS / "node_modules" / ".bin"
    if not ((tools / "esbuild").exists() and (tools / "tsc").exists()):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS, check=True)
    check = subprocess.run(
        [str(tools / "tsc"), "--noEmit", "-p", "."], cwd=JS, capture_output=True, text=True
    )
    assert check.returncode == 0, (
        f"`cd js && npx tsc --noEmit` fails:\n{check.stdout}{check.stderr}"
    )
    subprocess.run(["node", "build.mjs", "--outdir", str(tmp_path)], cwd=JS, check=True)
    for name in ("widget.js", "widget.css"):
        fresh = (tmp_path / name).read_bytes()
        assert fresh == (STATIC / name).read_bytes(), (
            f"ppg_notebook/static/{name} is stale: run `cd js && npm ci && npm run build`"
        )


def test_a_wheel_of_the_project_ships_the_bundle(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        check=True,
    )
    [wheel] = tmp_path.glob("ppg_notebook-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name: archive.read(name) for name in archive.namelist()}
    for name in ("widget.js", "widget.css"):
        assert shipped.get(f"ppg_notebook/static/{name}") == (STATIC / name).read_bytes(), name
