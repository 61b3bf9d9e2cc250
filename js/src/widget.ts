// The front end of ppg_notebook's DAG widget (Python side: ppg_notebook/widget.py).
//
// The graph arrives once per picture as DOT (trait `graph`: groups of sibling jobs already
// collapsed by the kernel), is laid out by WASM Graphviz in a Web Worker, and inserted as
// SVG. After that only state codes arrive (custom "status" messages) and recolour nodes by
// changing a class: no new layout per status change.
import { groupPanel, jobPanel } from "./details";
import { button, h } from "./dom";
import { JobIndex } from "./index";
import { layout } from "./layout";
import { Painter } from "./painter";
import { PanZoom } from "./panzoom";
import type { AnyWidget, RenderProps } from "@anywidget/types";
import { MARK_CLASS } from "./protocol";
import type { Command, CommandName, Graph, KernelMessage, Reply, Traits, Words } from "./protocol";

// The commands a details panel's buttons send about the selected job or group.
const PANEL_COMMANDS: readonly CommandName[] = ["run", "rerun", "invalidate", "expand"];
const SLOW_REPLY_MS = 1000;
const RESULTS_SHOWN = 12;

function toolbar() {
  const bar = h("div", "ppg-bar");
  const parts = {
    bar,
    done: h("div", "ppg-bar-done"),
    running: h("div", "ppg-bar-running"),
    failed: h("div", "ppg-bar-failed"),
    text: h("span", "ppg-progress-text"),
    search: h("input", "ppg-search"),
    results: h("div", "ppg-results"),
    el: h("div", "ppg-toolbar"),
  };
  bar.append(parts.done, parts.running, parts.failed);
  parts.search.type = "search";
  parts.search.placeholder = "Find a job";
  parts.search.title = "Find a job by its id (press / over the graph); Enter opens the first";
  parts.results.hidden = true;
  const find = h("span", "ppg-find");
  find.append(parts.search, parts.results);
  parts.el.append(
    button("▶ Run all", "Run every job that must run", "run_all"),
    bar,
    parts.text,
    find,
    h("span", "ppg-spacer"),
    button("Show all", "Show every job again (after Focus or Expand)", "show_all"),
    button("Refresh", "Read the graph and the files on disk again", "refresh"),
    button("−", "Zoom out (or Ctrl + wheel)", "zoom-out"),
    button("Fit", "Fit the graph to the view (F)", "fit"),
    button("+", "Zoom in (or Ctrl + wheel)", "zoom-in"),
  );
  return parts;
}

/** The legend: each part of a state code (`words`, from the kernel) by its swatch. */
function fillLegend(el: HTMLElement, words: Words | undefined) {
  el.replaceChildren();
  for (const [part, word] of Object.entries(words?.words ?? {})) {
    const item = h("span", "ppg-legend-item");
    item.title = words?.meanings[part] ?? word;
    item.append(h("span", `ppg-swatch ppg-sw-${MARK_CLASS[part] ?? part}`), document.createTextNode(word));
    el.append(item);
  }
  el.append(h("span", "ppg-legend-shapes", "box: file or value job · ellipse: loading job · double border: a group"));
}

/** The cell of the notebook `root` is in that declared a job: by its id, else its prompt. */
function findCell(root: HTMLElement, cellId: string, count: string): Element | null {
  const notebook = root.closest(".jp-Notebook") ?? document;
  if (cellId) {
    const byId = notebook.querySelector(`.jp-Cell[data-cell-id="${CSS.escape(cellId)}"]`);
    if (byId) return byId;
  }
  for (const prompt of Array.from(notebook.querySelectorAll(".jp-InputPrompt"))) {
    if (prompt.textContent?.trim() === `[${count}]:`) return prompt.closest(".jp-Cell");
  }
  return null;
}

/** The saved-notebook picture (`dag_static.py`) beside this live widget is not needed
 *  while it lives; a class (not a one-off hide) because the picture is re-rendered. */
function hideStaticPicture(el: HTMLElement) {
  el.closest(".jp-OutputArea")?.classList.add("ppg-live");
}

function render({ model, el }: RenderProps<Traits>) {
  const root = h("div", "ppg-dag");
  root.tabIndex = 0;
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  const tb = toolbar();
  const message = h("div", "ppg-message");
  message.hidden = true;
  const body = h("div", "ppg-body");
  const canvas = h("div", "ppg-canvas");
  const holder = h("div", "ppg-holder");
  const placeholder = h("div", "ppg-placeholder", "laying out the graph…");
  canvas.append(holder, placeholder);
  const panel = h("div", "ppg-details");
  panel.hidden = true;
  body.append(canvas, panel);
  const legend = h("div", "ppg-legend");
  root.append(tb.el, message, body, legend);
  el.append(root);

  // --- state ---
  const states = new Map<string, string>();
  const durations = new Map<string, string>();
  const painter = new Painter(states, durations);
  let graph: Graph | null = null;
  let index = new JobIndex({ dot: "", nodes: [], jobs: [], edges: [], focus: null });
  let selected: string | null = null; // a job id or a group key
  let wanted: string | null = null; // a job to select once the next picture is drawn
  let actedOn: string | null = null; // the node whose command asked for the next picture
  let nextReq = 1;
  const pending = new Map<number, { cmd: CommandName; timer: number }>();
  let layoutToken = 0;
  let detailsTimer = 0;
  let drawnOnce = false;
  let hover = false;
  const words = (): Words => model.get("words") ?? { words: {}, meanings: {} };

  const pz = new PanZoom(canvas, holder, (target) => {
    const g = target.closest?.("g.node");
    if (g) select(g.getAttribute("data-job") ?? g.getAttribute("data-group"));
  });
  // Also the first sign that the view is in the page (render() runs before it is).
  new ResizeObserver(() => {
    hideStaticPicture(el);
    if (pz.fitted) pz.fit();
    else pz.reveal(selected ? painter.nodeOf.get(selected) : undefined);
  }).observe(canvas);

  function showMessage(text: string, ok: boolean) {
    message.hidden = !text;
    message.textContent = text;
    message.classList.toggle("ppg-error", !ok);
    message.dataset.ok = String(ok);
  }

  function send(cmd: CommandName, job?: string) {
    const req = nextReq++;
    const timer = window.setTimeout(() => {
      showMessage(
        `waiting for the kernel: no answer yet. It may be busy running a cell ("${cmd}" is handled when that cell finishes), or this view was saved with the notebook and its kernel is gone: run its cell again to reconnect`,
        true,
      );
    }, SLOW_REPLY_MS);
    pending.set(req, { cmd, timer });
    const command: Command = job === undefined ? { cmd, req } : { cmd, req, job };
    model.send(command);
  }

  // --- states ---
  function applyStates(changes: Record<string, string>, full: boolean, times?: Record<string, string>) {
    if (full) states.clear();
    if (times) {
      durations.clear();
      for (const [job, t] of Object.entries(times)) durations.set(job, t);
    }
    for (const [job, code] of Object.entries(changes)) {
      states.set(job, code);
      if (!full) painter.job(job);
    }
    if (full) painter.all();
    if (selected && (full || selected in changes)) scheduleDetails();
    root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
  }

  // --- the picture ---
  async function drawGraph() {
    const g = model.get("graph");
    if (!g || !g.dot) return;
    const token = ++layoutToken;
    const t0 = performance.now();
    placeholder.hidden = false;
    placeholder.textContent = `laying out ${g.nodes.length} nodes (${(g.jobs ?? g.nodes).length} jobs)…`;
    let svg: string;
    try {
      svg = await layout(g.dot);
    } catch (err) {
      placeholder.textContent = `the graph could not be laid out: ${err}`;
      return;
    }
    if (token !== layoutToken) return;
    const keep = drawnOnce ? anchor() : null;
    const fitted = pz.fitted;
    graph = g;
    index = new JobIndex(g);
    holder.innerHTML = svg;
    const svgEl = holder.querySelector("svg");
    if (!svgEl) return;
    pz.size = { w: svgEl.width.baseVal.value, h: svgEl.height.baseVal.value };
    svgEl.removeAttribute("width");
    svgEl.removeAttribute("height");
    svgEl.style.width = `${pz.size.w}px`;
    svgEl.style.height = `${pz.size.h}px`;
    painter.adopt(holder, g);
    placeholder.hidden = true;
    root.dataset.focus = g.focus ?? "";
    if (wanted && painter.drawnOf.has(wanted)) {
      const job = wanted;
      wanted = null;
      select(painter.drawnOf.get(job) ?? job, true);
    } else if (!drawnOnce) {
      pz.open();
    } else {
      if (keep) stay(keep);
      // All of the graph was in view and the user chose no node: keep it all in view.
      if (fitted && !keep?.chosen) {
        if (inView(svgEl)) pz.fitted = true;
        else pz.fit();
      }
      if (selected && !painter.nodeOf.has(selected) && !index.has(selected)) select(null);
    }
    drawnOnce = true;
    root.dataset.layoutMs = String(Math.round(performance.now() - t0));
    root.dataset.rendered = String(g.nodes.length);
    root.dataset.jobs = String(index.ids.length);
  }

  // --- a new picture keeps what the user looks at where it was ---
  // Graphviz lays out every picture afresh: expanding a group or one more job can move any
  // node. The view is panned so that the node the user acted on (the group expanded), else
  // the selected one, else the one nearest the middle of the view, stays where it was on
  // screen; a group expanded is where its members now are, a job grouped where its group is.
  // A graph that was all in view (fitted) with no node chosen is fitted again if it has
  // outgrown the view: a notebook run all with the widget near its top draws a graph that
  // grows cell by cell.
  type Anchor = { jobs: string[]; x: number; y: number; chosen: boolean };

  function middle(boxes: DOMRect[]): { x: number; y: number } {
    const c = canvas.getBoundingClientRect();
    const left = Math.min(...boxes.map((b) => b.left));
    const right = Math.max(...boxes.map((b) => b.right));
    const top = Math.min(...boxes.map((b) => b.top));
    const bottom = Math.max(...boxes.map((b) => b.bottom));
    return { x: (left + right) / 2 - c.left, y: (top + bottom) / 2 - c.top };
  }

  function anchor(): Anchor | null {
    const acted = actedOn;
    actedOn = null;
    let key = [acted, selected].find((k) => k && painter.nodeOf.has(k)) ?? null;
    const chosen = key !== null;
    if (!key) {
      const c = canvas.getBoundingClientRect();
      let best = Infinity;
      for (const [k, node] of painter.nodeOf) {
        const r = node.getBoundingClientRect();
        if (r.right < c.left || r.left > c.right || r.bottom < c.top || r.top > c.bottom) continue;
        const d = Math.hypot(r.left + r.width / 2 - c.left - c.width / 2, r.top + r.height / 2 - c.top - c.height / 2);
        if (d < best) [best, key] = [d, k];
      }
    }
    const node = key ? painter.nodeOf.get(key) : undefined;
    if (!key || !node) return null;
    return { jobs: painter.jobsOf(key), ...middle([node.getBoundingClientRect()]), chosen };
  }

  function inView(e: Element): boolean {
    const c = canvas.getBoundingClientRect();
    const r = e.getBoundingClientRect();
    return r.left >= c.left - 1 && r.right <= c.right + 1 && r.top >= c.top - 1 && r.bottom <= c.bottom + 1;
  }

  function stay(a: Anchor) {
    const keys = new Set(a.jobs.map((j) => painter.drawnOf.get(j)).filter((k) => k !== undefined));
    const boxes = Array.from(keys, (k) => painter.nodeOf.get(k)?.getBoundingClientRect()).filter((b) => b !== undefined);
    if (!boxes.length) return;
    const now = middle(boxes);
    pz.set(pz.scale, pz.tx + a.x - now.x, pz.ty + a.y - now.y);
  }

  // --- selection and the details panel ---
  /** Select a job or group; a job inside a group is shown in the group's panel's stead. */
  function select(key: string | null, centre = false) {
    const previous = selected;
    selected = key;
    painter.selected = key;
    if (previous) painter.paintNow(previous);
    if (!key) {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    if (key.startsWith("group:")) {
      const entry = graph?.nodes.find((n) => n[0] === key);
      if (!entry || !graph) return;
      painter.paintNow(key);
      groupPanel(panel, key, entry[1], entry[3].map((m) => graph!.jobs[m][0]), states, index, words());
      if (centre) pz.centre(painter.nodeOf.get(key)!);
      return;
    }
    painter.paintNow(key);
    jobPanel(panel, key, states.get(key) ?? "none*", index, words(), null);
    const node = painter.nodeOf.get(key);
    if (centre && node) pz.centre(node);
    send("details", key);
  }

  /** Go to a job: drawn, in a group (expanded first), or hidden by Focus (shown all). */
  function goTo(job: string) {
    const key = painter.drawnOf.get(job);
    if (key === job) return select(job, true);
    wanted = job;
    if (key) send("expand", key);
    else send("show_all");
  }

  function scheduleDetails() {
    window.clearTimeout(detailsTimer);
    detailsTimer = window.setTimeout(() => {
      if (!selected) return;
      if (selected.startsWith("group:")) select(selected);
      else send("details", selected);
    }, 250);
  }

  function neighbour(key: string) {
    const job = selected && !selected.startsWith("group:") ? selected : null;
    if (!job) return;
    let next: string | undefined;
    if (key === "ArrowLeft") next = index.upstream(job)[0];
    else if (key === "ArrowRight") next = index.downstream(job)[0];
    else {
      const up = index.upstream(job)[0];
      const siblings = up ? index.downstream(up) : index.ids.filter((id) => !index.upstream(id).length);
      const i = siblings.indexOf(job) + (key === "ArrowDown" ? 1 : -1);
      next = siblings[(i + siblings.length) % siblings.length];
    }
    if (next) goTo(next);
  }

  // --- search ---
  function showResults() {
    const found = index.find(tb.search.value, RESULTS_SHOWN + 1);
    tb.results.replaceChildren(
      ...found.slice(0, RESULTS_SHOWN).map((id) => {
        const a = h("a", "ppg-result", index.label(id));
        a.href = "#";
        a.dataset.goto = id;
        return a;
      }),
    );
    if (!found.length && tb.search.value.trim()) tb.results.append(h("span", "ppg-result-none", "no job matches"));
    if (found.length > RESULTS_SHOWN) tb.results.append(h("span", "ppg-more", "more: type more of the id"));
    tb.results.hidden = !tb.search.value.trim();
  }
  function clearSearch() {
    tb.search.value = "";
    tb.results.hidden = true;
  }
  tb.search.addEventListener("input", showResults);

  // --- keys: window capture, so that the notebook's shortcuts do not see ours ---
  root.addEventListener("pointerenter", () => (hover = true));
  root.addEventListener("pointerleave", () => (hover = false));
  canvas.addEventListener("pointerdown", () => root.focus({ preventScroll: true }));
  function onKey(e: KeyboardEvent) {
    const target = e.target as HTMLElement;
    const inside = root.contains(target);
    const typing = target instanceof HTMLInputElement;
    let handled = true;
    if (e.key === "/" && !typing && (hover || inside)) tb.search.focus();
    else if (!inside) handled = false;
    else if (target === tb.search && e.key === "Enter") {
      const first = index.find(tb.search.value, 1)[0];
      if (first) {
        tb.results.hidden = true;
        goTo(first);
      }
    } else if (target === tb.search && e.key === "Escape") {
      clearSearch();
      root.focus({ preventScroll: true });
    } else if (typing || e.ctrlKey || e.metaKey || e.altKey) handled = false;
    else if (e.key === "Escape") select(null);
    else if (e.key === "f" || e.key === "F") pz.fit();
    else if (e.key.startsWith("Arrow")) neighbour(e.key);
    else handled = false;
    if (handled) {
      e.preventDefault();
      e.stopPropagation();
    }
  }
  window.addEventListener("keydown", onKey, true);

  // --- clicks ---
  root.addEventListener("click", (e) => {
    const t = e.target as HTMLElement;
    const link = t.closest?.("a[data-goto]") as HTMLElement | null;
    if (link) {
      e.preventDefault();
      tb.results.hidden = true;
      return goTo(link.dataset.goto!);
    }
    const b = t.closest?.("button") as HTMLElement | null;
    const action = b?.dataset.action;
    if (!action) return;
    if (panel.contains(b)) return panelAction(action, b!);
    if (action === "run_all" || action === "show_all" || action === "refresh") send(action);
    else if (action === "fit") pz.fit();
    else if (action === "zoom-in") pz.zoom(1.25);
    else if (action === "zoom-out") pz.zoom(1 / 1.25);
  });
  function panelAction(action: string, b: HTMLElement) {
    if (action === "close") return select(null);
    if (action === "goto-cell") {
      const cell = findCell(root, b.dataset.declaredBy ?? "", b.dataset.count ?? "");
      if (!cell) return showMessage("the cell that declared this job is not in this notebook (any more)", false);
      cell.scrollIntoView({ block: "center" });
      cell.classList.add("ppg-cell-flash");
      window.setTimeout(() => cell.classList.remove("ppg-cell-flash"), 1500);
      return;
    }
    if (!selected) return;
    if (action === "expand") actedOn = selected;
    if (action === "focus") {
      wanted = selected;
      return send("focus", selected);
    }
    const cmd = PANEL_COMMANDS.find((c) => c === action);
    if (cmd) send(cmd, selected);
    else showMessage(`the widget has no action ${JSON.stringify(action)}`, false);
  }

  // --- progress ---
  function drawProgress() {
    const p = model.get("progress");
    if (!p) return;
    const total = Math.max(p.total, 1);
    tb.done.style.width = `${(100 * (p.done - p.failed)) / total}%`;
    tb.failed.style.width = `${(100 * p.failed) / total}%`;
    tb.running.style.width = `${(100 * p.running) / total}%`;
    root.classList.toggle("ppg-active", p.active);
    let text = "idle";
    if (p.active) {
      text = `${p.done}/${p.total} done · ${p.running} running`;
      if (p.failed) text += ` · ${p.failed} failed`;
    } else if (p.tally) {
      text = `last run: ${p.tally}`;  // (the words of every other summary)
    }
    tb.text.textContent = text;
    tb.text.title = p.what;
  }

  // --- messages from Python ---
  function onMessage(msg: KernelMessage) {
    if (msg.type === "status") applyStates(msg.states, msg.full, msg.durations);
    else if (msg.type === "reply") onReply(msg);
    else if (msg.type === "notice") {
      showMessage(msg.text, msg.ok);
      if (selected) scheduleDetails();
    }
  }
  function onReply(r: Reply) {
    const p = r.req === null ? undefined : pending.get(r.req);
    if (p && r.req !== null) {
      window.clearTimeout(p.timer);
      pending.delete(r.req);
    }
    if (!r.ok) return showMessage(r.error ?? "failed", false);
    if (r.details && r.details.job === selected) {
      jobPanel(panel, r.details.job, states.get(r.details.job) ?? r.details.state, index, words(), r.details);
    }
    if (r.message) showMessage(r.message, true);
    else if (p && message.textContent?.startsWith("waiting for the kernel")) showMessage("", true);
  }

  const onGraph = () => void drawGraph();
  const onWords = () => fillLegend(legend, model.get("words"));
  model.on("change:graph", onGraph);
  model.on("change:progress", drawProgress);
  model.on("change:words", onWords);
  model.on("msg:custom", onMessage);
  onWords();
  drawProgress();
  void drawGraph();
  send("hello");
  return () => {
    model.off("change:graph", onGraph);
    model.off("change:progress", drawProgress);
    model.off("change:words", onWords);
    model.off("msg:custom", onMessage);
    window.removeEventListener("keydown", onKey, true);
    for (const p of pending.values()) window.clearTimeout(p.timer);
  };
}

export default { render } satisfies AnyWidget<Traits>;
