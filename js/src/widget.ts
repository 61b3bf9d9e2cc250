// The front end of ppg_notebook's DAG widget (Python side: ppg_notebook/widget.py).
//
// The graph arrives once per shape as DOT (trait `graph`), is laid out by WASM Graphviz in
// a Web Worker, and inserted as SVG. After that only state codes arrive (custom "status"
// messages) and recolour nodes by changing a class: no new layout per status change.
import workerSource from "layout-worker-source";

/** Mirrors the synced traits of PipelineWidget. */
interface Traits {
  graph: { dot: string; nodes: [string, string, string][] };
  progress: {
    active: boolean;
    what: string;
    total: number;
    done: number;
    running: number;
    queued: number;
    failed: number;
  };
  title: string;
}

interface Model {
  get<K extends keyof Traits>(key: K): Traits[K];
  on(event: string, cb: (...args: any[]) => void): void;
  off(event: string, cb: (...args: any[]) => void): void;
  send(content: unknown): void;
}

type Reply = {
  type: "reply";
  req: number;
  cmd: string;
  ok: boolean;
  message?: string;
  error?: string;
  details?: Details;
};
type Details = {
  job: string;
  label: string;
  kind: string;
  state: string;
  outputs: string[];
  upstream: string[];
  downstream: string[];
  last_run: string;
  duration: string;
  why: string;
  reads: string[];
  modules: string[];
  traceback: string;
  log_tail: string;
};

const HEALTH_WORDS: Record<string, string> = {
  ok: "up to date",
  running: "running",
  queued: "queued",
  failed: "failed",
  upstream: "not run: an upstream job failed",
  none: "never ran (or invalidated)",
  lazy: "on demand (runs when a dependant needs it)",
};

const LEGEND: [string, string][] = [
  ["ok", "up to date"],
  ["running", "running"],
  ["queued", "queued"],
  ["failed", "failed"],
  ["upstream", "upstream failed"],
  ["none", "not run yet"],
  ["lazy", "on demand"],
  ["stale", "must run (dashed amber border)"],
];

const SLOW_REPLY_MS = 1000;

// --- layout: one worker for every view on the page -----------------------------------
let worker: Worker | null = null;
let nextLayout = 0;
const layoutWaiters = new Map<number, (r: { svg?: string; error?: string }) => void>();
const layoutCache = new Map<string, Promise<string>>();

function layout(dot: string): Promise<string> {
  const cached = layoutCache.get(dot);
  if (cached) return cached;
  if (!worker) {
    const url = URL.createObjectURL(new Blob([workerSource], { type: "text/javascript" }));
    worker = new Worker(url);
    worker.onmessage = (e) => {
      const waiter = layoutWaiters.get(e.data.id);
      layoutWaiters.delete(e.data.id);
      waiter?.(e.data);
    };
  }
  const id = nextLayout++;
  const promise = new Promise<string>((resolve, reject) => {
    layoutWaiters.set(id, (r) => (r.svg !== undefined ? resolve(r.svg) : reject(new Error(r.error))));
  });
  worker.postMessage({ id, dot });
  if (layoutCache.size > 4) layoutCache.delete(layoutCache.keys().next().value as string);
  layoutCache.set(dot, promise);
  promise.catch(() => layoutCache.delete(dot));
  return promise;
}

// --- small DOM helpers -----------------------------------------------------------------
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls = "",
  text = "",
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

function button(text: string, title: string, action: string): HTMLButtonElement {
  const b = h("button", "ppg-btn", text);
  b.title = title;
  b.dataset.action = action;
  return b;
}

// --- the view --------------------------------------------------------------------------
function render({ model, el }: { model: Model; el: HTMLElement }) {
  const root = h("div", "ppg-dag");
  const toolbar = h("div", "ppg-toolbar");
  const runAll = button("▶ Run all", "Run every job that must run", "run_all");
  const bar = h("div", "ppg-bar");
  const barDone = h("div", "ppg-bar-done");
  const barRunning = h("div", "ppg-bar-running");
  const barFailed = h("div", "ppg-bar-failed");
  bar.append(barDone, barRunning, barFailed);
  const progressText = h("span", "ppg-progress-text");
  const fitBtn = button("Fit", "Fit the graph to the view", "fit");
  const zoomIn = button("+", "Zoom in (or Ctrl + wheel)", "zoom-in");
  const zoomOut = button("−", "Zoom out (or Ctrl + wheel)", "zoom-out");
  toolbar.append(runAll, bar, progressText, h("span", "ppg-spacer"), zoomOut, fitBtn, zoomIn);

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
  for (const [code, words] of LEGEND) {
    const item = h("span", "ppg-legend-item");
    const sw = h("span", `ppg-swatch ppg-sw-${code}`);
    item.append(sw, document.createTextNode(words));
    legend.append(item);
  }
  legend.append(h("span", "ppg-legend-shapes", "box: file or value job · ellipse: loading job"));
  root.append(toolbar, message, body, legend);
  el.append(root);

  // --- state ---
  const states = new Map<string, string>();
  const nodeOf = new Map<string, Element>();
  let selected: string | null = null;
  let scale = 1;
  let tx = 0;
  let ty = 0;
  let svgSize = { w: 0, h: 0 };
  let fitted = false; // the view is as fit() left it: refit when the canvas changes size
  let nextReq = 1;
  const pending = new Map<number, { cmd: string; timer: number }>();
  let layoutToken = 0;
  let detailsTimer = 0;

  function showMessage(text: string, ok: boolean) {
    message.hidden = !text;
    message.textContent = text;
    message.classList.toggle("ppg-error", !ok);
    message.dataset.ok = String(ok);
  }

  function send(cmd: string, job?: string) {
    const req = nextReq++;
    const timer = window.setTimeout(() => {
      showMessage(
        `waiting for the kernel: it is busy (a cell is running); "${cmd}" is handled when ` +
          "that cell finishes",
        true,
      );
    }, SLOW_REPLY_MS);
    pending.set(req, { cmd, timer });
    model.send({ cmd, job, req });
  }

  // --- colouring ---
  function paint(job: string, code: string) {
    const g = nodeOf.get(job);
    if (!g) return;
    const stale = code.endsWith("*");
    const health = stale ? code.slice(0, -1) : code;
    const extra = (stale ? " ppg-stale" : "") + (job === selected ? " ppg-selected" : "");
    g.setAttribute("class", `node ppg-s-${health}${extra}`);
    g.setAttribute("data-state", code);
  }

  function applyStates(changes: Record<string, string>, full: boolean) {
    if (full) states.clear();
    for (const [job, code] of Object.entries(changes)) {
      states.set(job, code);
      paint(job, code);
    }
    if (full) for (const job of nodeOf.keys()) if (!states.has(job)) paint(job, "none*");
    if (selected && selected in changes && !["running", "queued"].includes(changes[selected])) {
      scheduleDetails();
    }
    root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
  }

  // --- the graph ---
  async function drawGraph() {
    const graph = model.get("graph");
    if (!graph || !graph.dot) return;
    const token = ++layoutToken;
    const t0 = performance.now();
    placeholder.hidden = false;
    placeholder.textContent = `laying out ${graph.nodes.length} jobs…`;
    let svg: string;
    try {
      svg = await layout(graph.dot);
    } catch (err) {
      placeholder.textContent = `the graph could not be laid out: ${err}`;
      return;
    }
    if (token !== layoutToken) return;
    holder.innerHTML = svg;
    const svgEl = holder.querySelector("svg");
    if (!svgEl) return;
    svgSize = { w: svgEl.width.baseVal.value, h: svgEl.height.baseVal.value };
    svgEl.removeAttribute("width");
    svgEl.removeAttribute("height");
    svgEl.style.width = `${svgSize.w}px`;
    svgEl.style.height = `${svgSize.h}px`;
    nodeOf.clear();
    for (const g of Array.from(holder.querySelectorAll("g.node"))) {
      const i = Number(g.id.slice(1));
      const entry = graph.nodes[i];
      g.removeAttribute("id"); // ids repeat across widgets on the page
      if (!entry) continue;
      g.setAttribute("data-job", entry[0]);
      const title = g.querySelector("title");
      if (title) title.textContent = entry[0]; // the hover text: the job's full id
      nodeOf.set(entry[0], g);
    }
    for (const job of nodeOf.keys()) paint(job, states.get(job) ?? "none*");
    placeholder.hidden = true;
    fit();
    root.dataset.layoutMs = String(Math.round(performance.now() - t0));
    root.dataset.rendered = String(graph.nodes.length);
  }

  // --- pan and zoom ---
  function applyTransform() {
    holder.style.transform = `translate(${tx}px, ${ty}px) scale(${scale})`;
  }
  function fit() {
    const cw = canvas.clientWidth || 800;
    const ch = canvas.clientHeight || 400;
    if (!svgSize.w || !svgSize.h) return;
    scale = Math.min(cw / svgSize.w, ch / svgSize.h, 1.5);
    tx = (cw - svgSize.w * scale) / 2;
    ty = (ch - svgSize.h * scale) / 2;
    fitted = true;
    applyTransform();
  }
  /** Pan so that `job`'s node is inside the canvas (after the canvas shrank, say). */
  function reveal(job: string | null) {
    const node = job ? nodeOf.get(job) : undefined;
    if (!node) return;
    const c = canvas.getBoundingClientRect();
    const n = node.getBoundingClientRect();
    const margin = 12;
    let dx = 0;
    let dy = 0;
    if (n.right > c.right - margin) dx = c.right - margin - n.right;
    if (n.left + dx < c.left + margin) dx = c.left + margin - n.left;
    if (n.bottom > c.bottom - margin) dy = c.bottom - margin - n.bottom;
    if (n.top + dy < c.top + margin) dy = c.top + margin - n.top;
    if (!dx && !dy) return;
    tx += dx;
    ty += dy;
    applyTransform();
  }
  // The details panel opening or closing, the notebook's width, the user dragging the
  // widget's height: a fitted view is fitted again, else the selected node stays in view.
  new ResizeObserver(() => (fitted ? fit() : reveal(selected))).observe(canvas);
  function zoom(factor: number, cx = canvas.clientWidth / 2, cy = canvas.clientHeight / 2) {
    const next = Math.max(0.02, Math.min(8, scale * factor));
    tx = cx - ((cx - tx) * next) / scale;
    ty = cy - ((cy - ty) * next) / scale;
    scale = next;
    fitted = false;
    applyTransform();
  }
  let drag: { x: number; y: number; tx: number; ty: number; moved: boolean } | null = null;
  canvas.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, tx, ty, moved: false };
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (drag.moved) {
      tx = drag.tx + dx;
      ty = drag.ty + dy;
      fitted = false;
      applyTransform();
    }
  });
  canvas.addEventListener("pointerup", (e) => {
    const moved = drag?.moved;
    drag = null;
    if (moved) return;
    const g = (e.target as Element).closest?.("g.node");
    if (g) select(g.getAttribute("data-job"));
  });
  canvas.addEventListener(
    "wheel",
    (e) => {
      if (!e.ctrlKey && !e.metaKey) return; // plain wheel scrolls the notebook
      e.preventDefault();
      const r = canvas.getBoundingClientRect();
      zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
    },
    { passive: false },
  );

  // --- details ---
  function select(job: string | null) {
    const previous = selected;
    selected = job;
    if (previous) paint(previous, states.get(previous) ?? "none*");
    if (!job) {
      panel.hidden = true;
      return;
    }
    paint(job, states.get(job) ?? "none*");
    panel.hidden = false;
    panel.dataset.job = job;
    if (!panel.querySelector(".ppg-d-title")) panel.textContent = "loading…";
    send("details", job);
  }
  function scheduleDetails() {
    window.clearTimeout(detailsTimer);
    detailsTimer = window.setTimeout(() => selected && send("details", selected), 250);
  }
  function showDetails(d: Details) {
    if (d.job !== selected) return;
    panel.replaceChildren();
    const head = h("div", "ppg-d-head");
    head.append(h("span", "ppg-d-title", d.label));
    const close = button("×", "Close", "close");
    head.append(close);
    panel.append(head);
    const actions = h("div", "ppg-d-actions");
    actions.append(
      button("Run", "Run this job and what it depends on, if they must run", "run"),
      button("Rerun", "Invalidate this job, then run it", "rerun"),
      button("Invalidate", "Make this job run on the next run", "invalidate"),
    );
    panel.append(actions);
    const dl = h("dl", "ppg-d-facts");
    const stale = d.state.endsWith("*");
    const health = stale ? d.state.slice(0, -1) : d.state;
    const facts: [string, string][] = [
      ["kind", d.kind],
      ["state", (HEALTH_WORDS[health] ?? health) + (stale ? "; must run" : "")],
      ["outputs", d.outputs.join(", ") || "—"],
      ["last run", d.last_run],
      ["duration", d.duration || "—"],
      ["why", d.why],
      ["reads", (d.reads ?? []).join(", ") || "—"],
      ["code in", (d.modules ?? []).join(", ") || "—"],
      ["upstream", d.upstream.join(", ") || "—"],
      ["downstream", d.downstream.join(", ") || "—"],
    ];
    for (const [k, v] of facts) {
      dl.append(h("dt", "", k), h("dd", `ppg-d-${k.replace(" ", "-")}`, v));
    }
    panel.append(dl);
    if (d.traceback) {
      panel.append(h("div", "ppg-d-label", "error"), h("pre", "ppg-d-traceback", d.traceback));
    }
    if (d.log_tail) {
      panel.append(h("div", "ppg-d-label", "log (last lines)"), h("pre", "ppg-d-log", d.log_tail));
    }
  }
  panel.addEventListener("click", (e) => {
    const action = (e.target as HTMLElement).closest?.("button")?.dataset.action;
    if (!action) return;
    if (action === "close") return select(null);
    if (selected) send(action, selected);
  });
  toolbar.addEventListener("click", (e) => {
    const action = (e.target as HTMLElement).closest?.("button")?.dataset.action;
    if (action === "run_all") send("run_all");
    else if (action === "fit") fit();
    else if (action === "zoom-in") zoom(1.25);
    else if (action === "zoom-out") zoom(1 / 1.25);
  });

  // --- progress ---
  function drawProgress() {
    const p = model.get("progress");
    if (!p) return;
    const total = Math.max(p.total, 1);
    barDone.style.width = `${(100 * (p.done - p.failed)) / total}%`;
    barFailed.style.width = `${(100 * p.failed) / total}%`;
    barRunning.style.width = `${(100 * p.running) / total}%`;
    root.classList.toggle("ppg-active", p.active);
    let text = p.active
      ? `${p.done}/${p.total} done · ${p.running} running`
      : p.total
        ? `last run: ${p.done} jobs`
        : "idle";
    if (p.failed) text += ` · ${p.failed} failed`;
    progressText.textContent = text;
    progressText.title = p.what;
  }

  // --- messages from Python ---
  function onMessage(msg: any) {
    if (msg.type === "status") applyStates(msg.states, msg.full);
    else if (msg.type === "reply") onReply(msg as Reply);
    else if (msg.type === "notice") {
      showMessage(msg.text, msg.ok);
      if (selected) scheduleDetails();
    }
  }
  function onReply(r: Reply) {
    const p = pending.get(r.req);
    if (p) {
      window.clearTimeout(p.timer);
      pending.delete(r.req);
    }
    if (!r.ok) return showMessage(r.error ?? "failed", false);
    if (r.details) showDetails(r.details);
    if (r.message) showMessage(r.message, true);
    else if (p && message.textContent?.startsWith("waiting for the kernel")) showMessage("", true);
  }

  const onGraph = () => void drawGraph();
  model.on("change:graph", onGraph);
  model.on("change:progress", drawProgress);
  model.on("msg:custom", onMessage);
  drawProgress();
  void drawGraph();
  send("hello");
  return () => {
    model.off("change:graph", onGraph);
    model.off("change:progress", drawProgress);
    model.off("msg:custom", onMessage);
    for (const p of pending.values()) window.clearTimeout(p.timer);
  };
}

export default { render };
