// What the page and the kernel side (ppg_notebook/widget.py) say to each other: the same
// types, field for field, as ppg_notebook/widget_protocol.py (tests/test_widget_protocol.py
// compares the two files). One field per line: that test reads them.
/** The commands the page sends; the kernel answers each with one `Reply`. */
export type CommandName =
  | "hello"
  | "refresh"
  | "details"
  | "expand"
  | "focus"
  | "show_all"
  | "run"
  | "rerun"
  | "invalidate"
  | "run_all";

/** Page -> kernel: `job` is a job id or a group's key (`group:<pattern>`). */
export interface Command {
  cmd: CommandName;
  req: number;
  job?: string;
}

/** Kernel -> page: job id -> state code, every job's (`full`) or those that changed. */
export interface Status {
  type: "status";
  full: boolean;
  states: Record<string, string>;
  durations?: Record<string, string>;
}

/** A value job's value in short. */
export interface ValuePreview {
  type: string;
  shape: string;
  repr: string;
}

/** What the details panel shows about one job (the answer to `details`). */
export interface Details {
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
  value: ValuePreview | null;
  cell_id: string;
  execution_count: number | null;
}

/** What a command that succeeded says: a message for the user, the details asked for. */
export interface Answer {
  message?: string;
  details?: Details;
}

/** Kernel -> page: the answer to one command (`req`, as the command said); `error` when not `ok`. */
export interface Reply extends Answer {
  type: "reply";
  req: number | null;
  cmd: string;
  ok: boolean;
  error?: string;
}

/** Kernel -> page: something the user did not ask for just now (a run ended). */
export interface Notice {
  type: "notice";
  ok: boolean;
  text: string;
}

export type KernelMessage = Status | Reply | Notice;

/** A drawn node: [key, label, kind, member job indices]; a group's key is `group:<pattern>`. */
export type DrawnNode = [string, string, string, number[]];

/** Trait `graph`: node `n<i>` of the DOT is `nodes[i]`; `jobs` and `edges`: every job shown. */
export interface Graph {
  dot: string;
  nodes: DrawnNode[];
  jobs: [string, string, string][];
  edges: [number, number][];
  focus: string | null;
}

/** Trait `progress`: the run going on, or the last run's counts (`tally`). */
export interface Progress {
  active: boolean;
  what: string;
  total: number;
  done: number;
  running: number;
  queued: number;
  failed: number;
  tally: string;
}

/** Trait `words`: what a state code's health and mark are called (in the legend's order)
 *  and what they mean (ppg_notebook/status.py: the page has no words of its own). */
export interface Words {
  words: Record<string, string>;
  meanings: Record<string, string>;
}

/** The widget's synced traits. */
export type Traits = {
  graph: Graph;
  progress: Progress;
  title: string;
  words: Words;
};

/** A state code (see ppg_notebook/dag_model.py): health, then `*` (must run) or `?` (may run). */
export function splitState(code: string): { health: string; fresh: "" | "*" | "?" } {
  const last = code.slice(-1);
  if (last === "*" || last === "?") return { health: code.slice(0, -1), fresh: last };
  return { health: code, fresh: "" };
}

/** A state code in `table`'s words: its health's, then "; " and its mark's
 *  (as status.code_words says it). */
export function codeWords(code: string, table: Record<string, string>): string {
  const { health, fresh } = splitState(code);
  const said = table[health] ?? health;
  return fresh ? `${said}; ${table[fresh] ?? fresh}` : said;
}

/** The class a mark gives a node and its legend swatch (widget.css). */
export const MARK_CLASS: Record<string, string> = { "*": "stale", "?": "maybe" };
