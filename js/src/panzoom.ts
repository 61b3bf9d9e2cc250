// Pan and zoom of the laid-out SVG inside the canvas (CSS transform of its holder).

// Graphviz sizes the SVG in points (1pt = 4/3 px) and labels at 11pt: at this scale a
// label is 11 px high, the smallest we call readable.
export const READABLE = 0.75;
const MAX_OPEN = 1.5;

export class PanZoom {
  scale = 1;
  tx = 0;
  ty = 0;
  size = { w: 0, h: 0 };
  fitted = false; // the view is as fit() left it: refit when the canvas changes size

  constructor(
    private canvas: HTMLElement,
    private holder: HTMLElement,
    onClick: (target: Element) => void,
  ) {
    let drag: { x: number; y: number; tx: number; ty: number; moved: boolean } | null = null;
    canvas.addEventListener("pointerdown", (e) => {
      drag = { x: e.clientX, y: e.clientY, tx: this.tx, ty: this.ty, moved: false };
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (drag.moved) this.set(this.scale, drag.tx + dx, drag.ty + dy);
    });
    canvas.addEventListener("pointerup", (e) => {
      const moved = drag?.moved;
      drag = null;
      if (!moved) onClick(e.target as Element);
    });
    canvas.addEventListener(
      "wheel",
      (e) => {
        if (!e.ctrlKey && !e.metaKey) return; // plain wheel scrolls the notebook
        e.preventDefault();
        const r = canvas.getBoundingClientRect();
        this.zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
      },
      { passive: false },
    );
  }

  private get cw() {
    return this.canvas.clientWidth || 800;
  }
  private get ch() {
    return this.canvas.clientHeight || 400;
  }

  set(scale: number, tx: number, ty: number) {
    this.scale = scale;
    this.tx = tx;
    this.ty = ty;
    this.fitted = false;
    this.holder.style.transform = `translate(${tx}px, ${ty}px) scale(${scale})`;
  }

  /** Everything in view, however small. */
  fit() {
    if (!this.size.w || !this.size.h) return;
    const s = Math.min(this.cw / this.size.w, this.ch / this.size.h, MAX_OPEN);
    this.set(s, (this.cw - this.size.w * s) / 2, (this.ch - this.size.h * s) / 2);
    this.fitted = true;
  }

  /** The opening view: fitted if labels stay readable, else readable from the left edge
   *  (where a left-to-right pipeline starts), centred vertically. */
  open() {
    if (!this.size.w || !this.size.h) return;
    const s = Math.min(this.cw / this.size.w, this.ch / this.size.h, MAX_OPEN);
    if (s >= READABLE) return this.fit();
    const ty = Math.min(12, (this.ch - this.size.h * READABLE) / 2);
    this.set(READABLE, 12, Math.max(ty, this.ch / 2 - (this.size.h * READABLE) / 2));
  }

  zoom(factor: number, cx = this.cw / 2, cy = this.ch / 2) {
    const next = Math.max(0.02, Math.min(8, this.scale * factor));
    this.set(next, cx - ((cx - this.tx) * next) / this.scale, cy - ((cy - this.ty) * next) / this.scale);
  }

  /** `node` in the middle of the canvas, at a readable zoom at least. */
  centre(node: Element) {
    const s = Math.max(this.scale, READABLE);
    this.set(s, this.tx, this.ty);
    const c = this.canvas.getBoundingClientRect();
    const n = node.getBoundingClientRect();
    this.set(s, this.tx + c.left + c.width / 2 - (n.left + n.width / 2), this.ty + c.top + c.height / 2 - (n.top + n.height / 2));
  }

  /** Pan so that `node` is inside the canvas (after the canvas shrank, say). */
  reveal(node: Element | undefined) {
    if (!node) return;
    const c = this.canvas.getBoundingClientRect();
    const n = node.getBoundingClientRect();
    const margin = 12;
    let dx = 0;
    let dy = 0;
    if (n.right > c.right - margin) dx = c.right - margin - n.right;
    if (n.left + dx < c.left + margin) dx = c.left + margin - n.left;
    if (n.bottom > c.bottom - margin) dy = c.bottom - margin - n.bottom;
    if (n.top + dy < c.top + margin) dy = c.top + margin - n.top;
    if (dx || dy) this.set(this.scale, this.tx + dx, this.ty + dy);
  }
}
