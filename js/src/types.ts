// The data the Python side (ppg_notebook/widget.py) syncs and sends; mirrors its docstring.

/** A drawn node: [key, label, kind, member job indices]; a group's key is `group:<pattern>`. */
export type DrawnNode = [string, string, string, number[]];

export interface Graph {
  dot: string;
  nodes: DrawnNode[];
  jobs: [string, string, string][]; // [job id, label, kind], every job shown
  edges: [number, number][]; // job indices: [upstream, downstream]
  focus: string | null;
}

export interface Traits {
  graph: Graph;
  progress: {
    active: boolean;
    what: string;
    total: number;
    done: number;
    running: number;
    queued: number;
    failed: number;
    tally: string;
  };
  title: string;
}

export interface Model {
  get<K extends keyof Traits>(key: K): Traits[K];
  on(event: string, cb: (...args: any[]) => void): void;
  off(event: string, cb: (...args: any[]) => void): void;
  send(content: unknown): void;
}

export type Details = {
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
  value: { type: string; shape: string; repr: string } | null;
  cell_id: string;
  execution_count: number | null;
};

export type Reply = {
  type: "reply";
  req: number;
  cmd: string;
  ok: boolean;
  message?: string;
  error?: string;
  details?: Details;
};

/** A state code: health, then `*` (must run) or `?` (may run). */
export function splitState(code: string): { health: string; fresh: "" | "*" | "?" } {
  const last = code.slice(-1);
  if (last === "*" || last === "?") return { health: code.slice(0, -1), fresh: last };
  return { health: code, fresh: "" };
}
