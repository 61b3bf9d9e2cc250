// The details panel: one job (what the page knows at once, completed by the kernel's
// answer), or one group (its members, filterable, and Expand).
import { button, h } from "./dom";
import { JobIndex } from "./index";
import { codeWords, Details, Words } from "./protocol";

const LINKS_SHOWN = 10;
const MEMBERS_SHOWN = 500;

function head(title: string): HTMLElement {
  const head = h("div", "ppg-d-head");
  head.append(h("span", "ppg-d-title", title), button("×", "Close (Esc)", "close"));
  return head;
}

function actions(extra: HTMLElement[] = []): HTMLElement {
  const row = h("div", "ppg-d-actions");
  row.append(
    button("Run", "Run this and what it depends on, if they must run", "run"),
    button("Rerun", "Invalidate, then run", "rerun"),
    button("Invalidate", "Make this run on the next run", "invalidate"),
    ...extra,
  );
  return row;
}

/** Job links: the first `LINKS_SHOWN`, then "and N more" that shows the rest. */
function links(ids: string[], index: JobIndex): HTMLElement {
  const dd = h("span", "ppg-links");
  if (!ids.length) dd.textContent = "—";
  const add = (list: string[]) => {
    for (const id of list) {
      const a = h("a", "ppg-link", index.label(id));
      a.href = "#";
      a.dataset.goto = id;
      dd.append(a, document.createTextNode(" "));
    }
  };
  add(ids.slice(0, LINKS_SHOWN));
  if (ids.length > LINKS_SHOWN) {
    const more = h("a", "ppg-more", `and ${(ids.length - LINKS_SHOWN).toLocaleString("en")} more`);
    more.href = "#";
    more.addEventListener("click", (e) => {
      e.preventDefault();
      more.remove();
      add(ids.slice(LINKS_SHOWN));
    });
    dd.append(more);
  }
  return dd;
}

function facts(rows: [string, string | HTMLElement][]): HTMLElement {
  const dl = h("dl", "ppg-d-facts");
  for (const [k, v] of rows) {
    const dd = h("dd", `ppg-d-${k.replace(" ", "-")}`);
    if (typeof v === "string") dd.textContent = v;
    else dd.append(v);
    dl.append(h("dt", "", k), dd);
  }
  return dl;
}

/** A job's panel: `d` is the kernel's answer, or null while it is on its way. */
export function jobPanel(
  panel: HTMLElement,
  job: string,
  state: string,
  index: JobIndex,
  words: Words,
  d: Details | null,
) {
  panel.replaceChildren();
  panel.dataset.job = job;
  delete panel.dataset.group;
  panel.dataset.complete = String(!!d);
  panel.append(head(d?.label ?? index.label(job)));
  const focus = button("Focus", "Show only this job and what is up- and downstream of it", "focus");
  const extra = [focus];
  if (d && d.execution_count != null) {
    const go = button("Go to cell", "Scroll the notebook to the cell that declared this job", "goto-cell");
    go.dataset.declaredBy = d.cell_id;
    go.dataset.count = String(d.execution_count);
    extra.push(go);
  }
  panel.append(actions(extra));
  const wait = d ? "" : "…";
  const rows: [string, string | HTMLElement][] = [
    ["kind", d?.kind ?? index.kind(job)],
    ["state", codeWords(state, words.meanings)],
  ];
  if (d) {
    rows.push(
      ["outputs", d.outputs.join(", ") || "—"],
      ["last run", d.last_run],
      ["duration", d.duration || "—"],
      ["why", d.why],
      ["reads", (d.reads ?? []).join(", ") || "—"],
      ["code in", (d.modules ?? []).join(", ") || "—"],
    );
    if (d.value) rows.push(["value", `${d.value.type}${d.value.shape ? ` · ${d.value.shape}` : ""}`]);
  } else {
    rows.push(["last run", wait], ["why", wait]);
  }
  rows.push(["upstream", links(index.upstream(job), index)], ["downstream", links(index.downstream(job), index)]);
  panel.append(facts(rows));
  if (d?.value) panel.append(h("pre", "ppg-d-repr", d.value.repr));
  if (d?.traceback) panel.append(h("div", "ppg-d-label", "error"), h("pre", "ppg-d-traceback", d.traceback));
  if (d?.log_tail) panel.append(h("div", "ppg-d-label", "log (last lines)"), h("pre", "ppg-d-log", d.log_tail));
}

/** A group's panel: counts, a filterable list of its members, Expand. */
export function groupPanel(
  panel: HTMLElement,
  key: string,
  label: string,
  members: string[],
  states: Map<string, string>,
  index: JobIndex,
  words: Words,
) {
  panel.replaceChildren();
  panel.dataset.group = key;
  delete panel.dataset.job;
  panel.dataset.complete = "true";
  panel.append(head(label));
  panel.append(actions([button("Expand", "Draw this group's jobs one by one", "expand")]));
  const counts = new Map<string, number>();
  for (const id of members) {
    const w = codeWords(states.get(id) ?? "none*", words.meanings);
    counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  const summary = Array.from(counts, ([w, n]) => `${n.toLocaleString("en")} ${w}`).join(" · ");
  panel.append(facts([["jobs", members.length.toLocaleString("en")], ["states", summary]]));
  const filter = h("input", "ppg-g-filter");
  filter.placeholder = "Filter the jobs";
  filter.type = "search";
  const list = h("ul", "ppg-g-members");
  const fill = () => {
    const t = filter.value.trim().toLowerCase();
    const shown = t ? members.filter((id) => id.toLowerCase().includes(t)) : members;
    list.replaceChildren(
      ...shown.slice(0, MEMBERS_SHOWN).map((id) => {
        const li = h("li", "");
        const a = h("a", "ppg-link", index.label(id));
        a.href = "#";
        a.dataset.goto = id;
        li.append(a, h("span", "ppg-g-state", ` ${codeWords(states.get(id) ?? "none*", words.meanings)}`));
        return li;
      }),
    );
    if (shown.length > MEMBERS_SHOWN) {
      list.append(h("li", "ppg-more", `and ${(shown.length - MEMBERS_SHOWN).toLocaleString("en")} more: filter to find them`));
    }
  };
  filter.addEventListener("input", fill);
  fill();
  panel.append(filter, list);
}
