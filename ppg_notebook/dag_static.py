"""A static picture of the DAG widget's graph for saved notebooks (SPEC §7a).

HTML only (no Graphviz binary, no script): the drawn nodes in columns by depth, each named
and coloured by its state, a group with its count and its members' states. nbviewer and
GitHub show it; JupyterLab and Notebook 7 show it in place of the widget when the notebook is
reopened (its <style> hides their "model not found"); the live widget hides it (`.ppg-static`)
while it runs.
"""

from __future__ import annotations

import html
from collections import Counter

from . import status
from .dag_model import GraphModel, GraphView

FILL = {
    "ok": "#a5d6a7",
    "running": "#42a5f5",
    "queued": "#bbdefb",
    "failed": "#ef5350",
    "upstream": "#bdbdbd",
    "none": "#f5f5f5",
    "lazy": "#e0e0e0",
}
_WORST = ["failed", "running", "queued", "upstream", "none", "lazy", "ok"]

# A notebook reopened in JupyterLab or Notebook 7 has no widget model (a fresh kernel):
# the widget's output below the picture then holds only the text "Error displaying widget:
# model not found" ("Loading widget..." until there is a kernel), with no element in it, in
# the widget renderer's node (a Lumino Panel, `lm-Panel`; JupyterLab's renderers of text,
# HTML and images are not). This hides that node; a live widget's node holds the widget's
# elements and stays (and the widget's own CSS hides the picture). `~`, not `+`: a stream
# output may come between the two. A <style> in an output applies to the whole page, and
# only in a trusted notebook (JupyterLab's sanitizer drops it from an untrusted one, which
# does not render the output as a widget either but shows its text/plain). nbconvert's HTML
# has no `lm-Panel`: no effect there.
FALLBACK_STYLE = (
    "<style>.jp-OutputArea-child:has(.ppg-static) ~ .jp-OutputArea-child"
    " > .jp-OutputArea-output.lm-Panel:not(:has(*)) { display: none; }</style>"
)


def picture(model: GraphModel, view: GraphView, states: dict[str, str], title: str) -> str:
    """The HTML of the graph as drawn now, with each node's state."""
    depth = [0] * len(view.drawn)
    for a, b in view.edges:  # drawn in topological order: one pass is enough
        depth[b] = max(depth[b], depth[a] + 1)
    columns: dict[int, list[str]] = {}
    for i, d in enumerate(view.drawn):
        codes = [states.get(model.nodes[m], "none*") for m in d.members]
        health = Counter(c.rstrip("*?") for c in codes)
        worst = next((s for s in _WORST if s in health), "none")
        must = any(c.endswith("*") for c in codes)
        border = "2px dashed #e69500" if must else "1px solid #616161"
        text = html.escape(d.label)
        if d.is_group:
            said = " · ".join(f"{n} {status.code_words(s)}" for s, n in health.most_common())
        else:
            said = status.code_words(codes[0])
        text += f"<br><small>{html.escape(said)}</small>"
        columns.setdefault(depth[i], []).append(
            f'<div style="background-color:{FILL.get(worst, "#f5f5f5")};color:#212121;'
            f"border:{border};border-radius:4px;padding:2px 6px;margin:3px 0;"
            f'font-size:12px">{text}</div>'
        )
    cols = "".join(
        f'<div style="display:inline-block;vertical-align:middle;margin-right:18px">'
        f"{''.join(columns[k])}</div>"
        for k in sorted(columns)
    )
    count = len(model.nodes)
    return (
        f'<div class="ppg-static" style="font-family:sans-serif">{FALLBACK_STYLE}'
        f"<div><b>ppg pipeline</b> {html.escape(title)}: {count} jobs"
        f" (a picture saved with the notebook; run the cell for the live graph)</div>"
        f"<div>{cols}</div></div>"
    )
