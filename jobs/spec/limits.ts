/**
 * Upper and lower bounds of the spec's numbers and sizes. Every count has a ceiling so
 * that no value renders as `8.64e+24`, loses precision past 2^53, or builds a config
 * Python cannot parse; the floors keep requests Kubernetes would round to zero away.
 * The bounds are generous: far past any real run, well short of nonsense.
 */
export const Limits = {
  /** A spec file larger than this is not an exp.yaml. */
  specBytes: 1024 * 1024,
  /** YAML aliases expanded per document: anchors are fine, alias bombs are not. */
  yamlAliases: 100,
  /** Nesting of mappings and lists anywhere in the document. */
  documentDepth: 64,
  /** Nesting inside one cfgOptions value; CPython refuses about 200 levels of brackets. */
  cfgOptionsDepth: 32,
  /** Segments of one dotted cfgOptions key; with cfgOptionsDepth, well below CPython's 200. */
  keySegments: 32,
  pathLength: 1024,
  className: 256,
  classes: 10_000,
  epochs: 10_000,
  iterations: 100_000_000,
  batchPerGpu: 1024,
  workersPerGpu: 64,
  gradAccumulation: 1024,
  baseBatchSize: 65_536,
  imageSide: 16_384,
  keepCheckpoints: 1000,
  lr: 10,
  lossScale: 2 ** 24,
  gradNorm: 1_000_000,
  seed: 2 ** 32 - 1,
  minCpu: 0.1,
  minMemoryGiB: 1,
  minRuntimeSeconds: 60,
  maxRuntimeSeconds: 90 * 86_400,
} as const;
