// Lays out DOT with WASM Graphviz off the page's main thread; bundled as a string into
// widget.js and started from a Blob URL (no separate file, no network).
import { instance } from "@viz-js/viz";

interface LayoutRequest {
  id: number;
  dot: string;
}

const viz = instance();

self.onmessage = async (event: MessageEvent<LayoutRequest>) => {
  const { id, dot } = event.data;
  try {
    const result = (await viz).render(dot, { format: "svg" });
    if (result.status === "success") {
      self.postMessage({ id, svg: result.output });
    } else {
      self.postMessage({ id, error: result.errors.map((e) => e.message).join("\n") });
    }
  } catch (err) {
    self.postMessage({ id, error: String(err) });
  }
};
