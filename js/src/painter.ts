// The drawn nodes of one layout: a node's class follows its state (fill = health, border =
// must/may run), a job node shows its last duration, a group node a bar of its members.
import { SVG_NS } from "./dom";
import { Graph, MARK_CLASS, splitState } from "./protocol";

// Worst first: a group's fill is its worst member's.
const ORDER = ["failed", "running", "queued", "upstream", "none", "lazy", "ok"];
const BAR_ORDER = ["ok", "running", "queued", "failed", "upstream", "lazy", "none"];

export class Painter {
  readonly nodeOf = new Map<string, Element>(); // drawn key -> <g class="node">
  readonly drawnOf = new Map<string, string>(); // job id -> drawn key
  private members = new Map<string, string[]>(); // group key -> job ids
  private dirty = new Set<string>();
  private frame = 0;
  selected: string | null = null;

  constructor(
    private states: Map<string, string>,
    private durations: Map<string, string>,
  ) {}

  /** Take over the nodes of a freshly inserted SVG. */
  adopt(holder: HTMLElement, graph: Graph) {
    this.nodeOf.clear();
    this.drawnOf.clear();
    this.members.clear();
    for (const g of Array.from(holder.querySelectorAll("g.node"))) {
      const entry = graph.nodes[Number(g.id.slice(1))];
      g.removeAttribute("id"); // ids repeat across widgets on the page
      if (!entry) continue;
      const [key, , , members] = entry;
      const ids = members.map((m) => graph.jobs[m][0]);
      const title = g.querySelector("title");
      if (key.startsWith("group:")) {
        g.setAttribute("data-group", key);
        g.setAttribute("data-count", String(ids.length));
        this.members.set(key, ids);
        this.addBar(g);
        if (title) title.textContent = `${ids.length} jobs: ${ids.slice(0, 3).join(", ")}, …`;
      } else {
        g.setAttribute("data-job", key);
        if (title) title.textContent = key; // the hover text: the job's full id
      }
      for (const id of ids) this.drawnOf.set(id, key);
      this.nodeOf.set(key, g);
    }
    for (const key of this.nodeOf.keys()) this.paintNow(key);
  }

  /** A job's state changed: repaint its node (a group's once per frame). */
  job(id: string) {
    const key = this.drawnOf.get(id);
    if (!key) return;
    if (!this.members.has(key)) return this.paintNow(key);
    this.dirty.add(key);
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        for (const k of this.dirty) this.paintNow(k);
        this.dirty.clear();
      });
    }
  }

  /** The jobs a drawn node stands for: a group's members, or the job itself. */
  jobsOf(key: string): string[] {
    return this.members.get(key) ?? [key];
  }

  all() {
    for (const key of this.nodeOf.keys()) this.paintNow(key);
  }

  paintNow(key: string) {
    const g = this.nodeOf.get(key);
    if (!g) return;
    const ids = this.members.get(key);
    const code = ids ? this.groupCode(g, ids) : (this.states.get(key) ?? "none*");
    const { health, fresh } = splitState(code);
    let cls = `node ppg-s-${health}`;
    if (fresh) cls += ` ppg-${MARK_CLASS[fresh]}`;
    if (ids) cls += " ppg-group";
    if (key === this.selected) cls += " ppg-selected";
    g.setAttribute("class", cls);
    g.setAttribute("data-state", code);
    if (!ids) this.showDuration(g, this.durations.get(key) ?? "");
  }

  private groupCode(g: Element, ids: string[]): string {
    const counts = new Map<string, number>();
    let must = false;
    let may = false;
    for (const id of ids) {
      const { health, fresh } = splitState(this.states.get(id) ?? "none*");
      counts.set(health, (counts.get(health) ?? 0) + 1);
      must ||= fresh === "*";
      may ||= fresh === "?";
    }
    this.fillBar(g, counts, ids.length);
    const worst = ORDER.find((s) => counts.has(s)) ?? "none";
    return worst + (must ? "*" : may ? "?" : "");
  }

  private secondLine(g: Element): SVGTextElement | null {
    const texts = g.querySelectorAll("text");
    return texts.length > 1 ? (texts[texts.length - 1] as SVGTextElement) : null;
  }

  private showDuration(g: Element, text: string) {
    const line = this.secondLine(g);
    if (!line || line.textContent === text) return;
    line.textContent = text;
    line.setAttribute("class", "ppg-duration");
  }

  private addBar(g: Element) {
    const line = this.secondLine(g);
    const shape = g.querySelector("path, polygon, ellipse") as SVGGraphicsElement | null;
    if (!line || !shape) return;
    const box = shape.getBBox();
    const y = Number(line.getAttribute("y")) - 8;
    line.remove();
    const bar = document.createElementNS(SVG_NS, "g");
    bar.setAttribute("class", "ppg-gbar");
    bar.dataset.x = String(box.x + 10);
    bar.dataset.w = String(box.width - 20);
    bar.dataset.y = String(y);
    g.append(bar);
  }

  private fillBar(g: Element, counts: Map<string, number>, total: number) {
    const bar = g.querySelector("g.ppg-gbar") as SVGGElement | null;
    if (!bar) return;
    const x0 = Number(bar.dataset.x);
    const w = Number(bar.dataset.w);
    const y = bar.dataset.y ?? "0";
    bar.replaceChildren();
    let x = x0;
    for (const s of BAR_ORDER) {
      const n = counts.get(s);
      if (!n) continue;
      const r = document.createElementNS(SVG_NS, "rect");
      const width = (w * n) / total;
      r.setAttribute("x", String(x));
      r.setAttribute("y", y);
      r.setAttribute("width", String(width));
      r.setAttribute("height", "6");
      r.setAttribute("class", `ppg-gbar-${s}`);
      r.setAttribute("data-count", String(n));
      bar.append(r);
      x += width;
    }
    const frame = document.createElementNS(SVG_NS, "rect");
    frame.setAttribute("x", String(x0));
    frame.setAttribute("y", y);
    frame.setAttribute("width", String(w));
    frame.setAttribute("height", "6");
    frame.setAttribute("class", "ppg-gbar-frame");
    bar.append(frame);
  }
}
