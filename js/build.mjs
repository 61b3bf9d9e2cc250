// Bundles the widget into ../ppg_notebook/static/ (widget.js, widget.css).
// `node build.mjs --outdir DIR` writes elsewhere (the staleness test compares the two).
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const i = process.argv.indexOf("--outdir");
const outdir = i > 0 ? process.argv[i + 1] : join(here, "..", "ppg_notebook", "static");
mkdirSync(outdir, { recursive: true });

const worker = await esbuild.build({
  entryPoints: [join(here, "src", "layout.worker.ts")],
  bundle: true,
  format: "iife",
  minify: true,
  write: false,
  target: "es2020",
  legalComments: "none",
});

const inlineWorker = {
  name: "inline-worker",
  setup(build) {
    build.onResolve({ filter: /^layout-worker-source$/ }, () => ({
      path: "layout-worker-source",
      namespace: "inline-worker",
    }));
    build.onLoad({ filter: /.*/, namespace: "inline-worker" }, () => ({
      contents: worker.outputFiles[0].text,
      loader: "text",
    }));
  },
};

await esbuild.build({
  entryPoints: [join(here, "src", "widget.ts")],
  bundle: true,
  format: "esm",
  minify: true,
  outfile: join(outdir, "widget.js"),
  target: "es2020",
  legalComments: "none",
  plugins: [inlineWorker],
});
copyFileSync(join(here, "src", "widget.css"), join(outdir, "widget.css"));
