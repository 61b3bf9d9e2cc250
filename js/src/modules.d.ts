// The layout worker's bundled source, inlined as a string by build.mjs.
declare module "layout-worker-source" {
  const source: string;
  export default source;
}
