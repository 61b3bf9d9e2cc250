"""Run a notebook headless in a real kernel (nbclient) and print what its pipeline did.

    python notebooks/run_demo.py [NOTEBOOK]      (default: notebooks/demo.ipynb)

The notebook runs in its own directory, so its pipeline state (`.ppg/`) and outputs stay
next to it: run this twice and the second run computes nothing. Prints each job's one-line
status and the final `%ppg_status` table. (`ppg-notebook run`, issue 5, will supersede it.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbclient
import nbformat


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else Path(__file__).with_name("demo.ipynb")).resolve()
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, resources={"metadata": {"path": str(path.parent)}}
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:
        print(e, file=sys.stderr)
        return 1
    table = ""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            if cell.source.startswith("%ppg_status"):
                table = text
            for line in text.splitlines():
                if line.startswith("ppg: "):
                    print(line)
    print()
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
