// Every job of the graph, indexed: its neighbours (for links, arrow keys and the details
// shown before the kernel answers) and a search by id substring.
import { Graph } from "./protocol";

export class JobIndex {
  readonly ids: string[];
  readonly labels: string[];
  readonly kinds: string[];
  private at = new Map<string, number>();
  private ups: number[][];
  private downs: number[][];
  private lower: string[];

  constructor(graph: Graph) {
    const jobs = graph.jobs ?? [];
    this.ids = jobs.map((j) => j[0]);
    this.labels = jobs.map((j) => j[1]);
    this.kinds = jobs.map((j) => j[2]);
    this.lower = this.ids.map((id, i) => `${id}\n${this.labels[i]}`.toLowerCase());
    this.ids.forEach((id, i) => this.at.set(id, i));
    this.ups = this.ids.map(() => []);
    this.downs = this.ids.map(() => []);
    for (const [a, b] of graph.edges ?? []) {
      this.ups[b].push(a);
      this.downs[a].push(b);
    }
  }

  has(id: string) {
    return this.at.has(id);
  }
  label(id: string) {
    const i = this.at.get(id);
    return i === undefined ? id : this.labels[i];
  }
  kind(id: string) {
    const i = this.at.get(id);
    return i === undefined ? "" : this.kinds[i];
  }
  upstream(id: string): string[] {
    return (this.ups[this.at.get(id) ?? -1] ?? []).map((i) => this.ids[i]);
  }
  downstream(id: string): string[] {
    return (this.downs[this.at.get(id) ?? -1] ?? []).map((i) => this.ids[i]);
  }

  /** Jobs whose id (or label) contains `text`, case-insensitively, in graph order. */
  find(text: string, limit = 50): string[] {
    const t = text.trim().toLowerCase();
    if (!t) return [];
    const out: string[] = [];
    for (let i = 0; i < this.lower.length && out.length < limit; i++) {
      if (this.lower[i].includes(t)) out.push(this.ids[i]);
    }
    return out;
  }
}
