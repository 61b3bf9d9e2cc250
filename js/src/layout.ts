// Layout with WASM Graphviz in one Web Worker for every view on the page, cached by DOT
// text: two widgets of one pipeline (or a widget shown again) lay out once.
import workerSource from "layout-worker-source";

let worker: Worker | null = null;
let nextLayout = 0;
const waiters = new Map<number, (r: { svg?: string; error?: string }) => void>();
const cache = new Map<string, Promise<string>>();
const CACHE_SIZE = 16;

export function layout(dot: string): Promise<string> {
  const cached = cache.get(dot);
  if (cached) return cached;
  if (!worker) {
    const url = URL.createObjectURL(new Blob([workerSource], { type: "text/javascript" }));
    worker = new Worker(url);
    worker.onmessage = (e) => {
      const waiter = waiters.get(e.data.id);
      waiters.delete(e.data.id);
      waiter?.(e.data);
    };
  }
  const id = nextLayout++;
  const promise = new Promise<string>((resolve, reject) => {
    waiters.set(id, (r) => (r.svg !== undefined ? resolve(r.svg) : reject(new Error(r.error))));
  });
  worker.postMessage({ id, dot });
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  cache.set(dot, promise);
  promise.catch(() => cache.delete(dot));
  return promise;
}
