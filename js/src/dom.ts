// Small DOM helpers.

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls = "",
  text = "",
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

export function button(text: string, title: string, action: string): HTMLButtonElement {
  const b = h("button", "ppg-btn", text);
  b.title = title;
  b.dataset.action = action;
  return b;
}

export const SVG_NS = "http://www.w3.org/2000/svg";
