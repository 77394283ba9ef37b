/**
 * The experiment spec (`exp.yaml`): the single source of truth. Types derive from it with
 * z.infer; the committed JSON Schema (jobs/experiment.schema.json) is generated from it.
 * Field names follow MMDetection 2.x tutorials where users expect them (batchPerGpu for
 * samples_per_gpu, workersPerGpu for workers_per_gpu); the renderer maps them to 3.x.
 *
 * Every object is strict: unknown keys are errors (with a "did you mean" from the loader).
 * Cross-field rules live in `experimentRules` below, so they run after the shape is valid.
 */
import { closest, distance } from "fastest-levenshtein";
// A namespace import, not `{ z }`: the CLI bundle then keeps only the parts of zod it uses
// (scripts/build-cli.js; `{ z }` kept all 40 locales, half of the bundle).
import * as z from "zod";
import { httpsUrlProblem } from "./https-url.ts";
import { parseS3Uri } from "./s3-uri.ts";
import { Limits } from "./limits.ts";

/** DNS-1035 label: Services need a leading letter, and `-config` must still fit in 63. */
const dnsLabel = (max: number) =>
  z
    .string()
    .max(max, `at most ${max} characters`)
    .regex(
      /^[a-z]([-a-z0-9]*[a-z0-9])?$/,
      "lower-case letters, digits and '-', starting with a letter and ending with a letter or digit (DNS-1123 label)",
    );

/** A whole number from 1 to `max`; every count in the spec has a ceiling (see limits.ts). */
const countUpTo = (max: number) => z.int().min(1).max(max, `at most ${max}`);

/** Segments of dotted keys that would reach JavaScript's prototype chain (issue 10). */
export const FORBIDDEN_KEY_SEGMENTS: ReadonlySet<string> = new Set(["__proto__", "prototype"]);
const hasForbiddenSegment = (dottedKey: string): boolean =>
  dottedKey.split(".").some((s) => FORBIDDEN_KEY_SEGMENTS.has(s));

/**
 * Adds a zod issue whose `params.fix` the loader prints as the fix line; `secret` keeps
 * the loader from repeating the value (a URL with a password in it).
 */
const addIssue = (
  ctx: z.core.$RefinementCtx<string>,
  message: string,
  fix?: string,
  secret = false,
): void => {
  const params = { ...(fix === undefined ? {} : { fix }), ...(secret ? { secret } : {}) };
  ctx.addIssue({ code: "custom", message, params });
};

const s3UriCheck = (value: string, ctx: z.core.$RefinementCtx<string>): void => {
  const r = parseS3Uri(value);
  if (!r.ok)
    addIssue(ctx, `not a valid S3 URI: ${r.problem}`, "write s3://<bucket>/<key or prefix/>");
};

/** No control characters or line breaks: they end up in paths and process arguments. */
const CONTROL = /[\p{Cc}\p{Zl}\p{Zp}]/u;

/** A path relative to dataset.uri: no absolute paths, no `..` (it must stay inside). */
const relativePath = z
  .string()
  .min(1)
  .max(Limits.pathLength)
  .refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), {
    message: "a path relative to dataset.uri, without a leading '/' or '..'",
  });

/**
 * `mmdet::<folder>/<file>.py`: a config inside the installed mmdet package. Every segment
 * is a plain name, so `_base_` cannot climb out of mmdet's configs (`..`) or name an
 * absolute file. yunshi has no local-config feature: cfgOptions changes any key.
 */
const MMDET_CONFIG =
  /^mmdet::([A-Za-z0-9_+-][A-Za-z0-9_+.-]*\/)*[A-Za-z0-9_+-][A-Za-z0-9_+.-]*\.py$/;

const split = z
  .object({
    /** COCO JSON annotation file, relative to dataset.uri. */
    annotations: relativePath.describe("COCO JSON annotation file, relative to dataset.uri"),
    /** Image folder, relative to dataset.uri. */
    images: relativePath.describe("image folder, relative to dataset.uri"),
  })
  .strict();

export const PRECISIONS = ["fp32", "fp16", "bf16"] as const;
export const OPTIMIZERS = ["SGD", "AdamW", "Adam"] as const;
export const LR_POLICIES = ["cosine", "step", "constant"] as const;
export const WARMUPS = ["linear", "constant", "none"] as const;

const model = z
  .object({
    config: z
      .string()
      .max(Limits.pathLength)
      .regex(
        MMDET_CONFIG,
        "an MMDetection 3.x base config inside the mmdet package, such as mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py (no '..', no absolute paths)",
      )
      .describe("MMDetection 3.x base config (mmdet::<folder>/<file>.py)"),
    pretrained: z
      .string()
      .superRefine((p, ctx) => {
        if (p === "coco" || p === "none") return;
        if (p.startsWith("s3://")) return s3UriCheck(p, ctx);
        if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(p)) {
          const bad = httpsUrlProblem(p);
          if (bad !== undefined)
            addIssue(ctx, `not a usable https:// URL: ${bad.problem}`, bad.fix, bad.secret);
          return;
        }
        const near = closest(p, ["coco", "none"]);
        addIssue(
          ctx,
          "expected one of coco | none, an s3:// URI or an https:// URL",
          distance(p, near) <= 2 ? `did you mean ${near}?` : undefined,
        );
      })
      .default("coco")
      .describe(
        "coco: the model zoo checkpoint of the base config; none; or an s3:// / https:// checkpoint (load_from)",
      )
      // Editors offer these (the JSON Schema of a refined string has no enum).
      .meta({ examples: ["coco", "none", "s3://bucket/team/weights/model.pth"] }),
    /** For base configs yunshi does not know: dotted paths of every num_classes to set. */
    numClassesAt: z
      .array(
        z
          .string()
          .regex(/^model(\.[A-Za-z_][A-Za-z0-9_]*|\.\d+)+\.num_classes$/)
          .refine((p) => !hasForbiddenSegment(p), {
            message: "__proto__ and prototype are not config keys",
            params: { fix: "name the real path of the head, e.g. model.bbox_head.num_classes" },
          }),
      )
      .min(1)
      .optional()
      .describe(
        "dotted paths of every num_classes in the model, e.g. model.bbox_head.num_classes (only for base configs yunshi does not know)",
      ),
  })
  .strict();

const dataset = z
  .object({
    uri: z
      .string()
      .min(1)
      .max(Limits.pathLength)
      .superRefine((u, ctx) => {
        if (u.startsWith("s3://")) return s3UriCheck(u, ctx);
        if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(u))
          return addIssue(ctx, "an s3:// prefix (or, for local runs, a local directory)");
        if (CONTROL.test(u)) addIssue(ctx, "no control characters or line breaks in a local path");
      })
      .describe(
        "prefix holding the files below: s3://bucket/path/ (or a local directory for --local)",
      ),
    train: split,
    val: split,
    /** Defaults to val. */
    test: split.optional(),
    classes: z
      .array(z.string().min(1, "class names must not be empty").max(Limits.className))
      .min(1, "at least one class")
      .max(Limits.classes, `at most ${Limits.classes} classes`)
      .describe("class names; must equal the COCO categories[].name, character for character"),
  })
  .strict();

const optimizer = z
  .object({
    type: z.enum(OPTIMIZERS).default("SGD"),
    lr: z.number().positive().max(Limits.lr, `at most ${Limits.lr}`),
    /** SGD only. */
    momentum: z.number().min(0).max(1).optional(),
    weightDecay: z.number().min(0).max(1, "at most 1").default(0.0001),
    /** Adam/AdamW only. */
    betas: z.tuple([z.number().gt(0).lt(1), z.number().gt(0).lt(1)]).optional(),
  })
  .strict();

const schedule = z
  .object({
    policy: z.enum(LR_POLICIES).default("step"),
    warmup: z.enum(WARMUPS).default("linear"),
    warmupIters: z.int().min(0).max(Limits.iterations, `at most ${Limits.iterations}`).default(500),
    /** Start LR = lr × warmupRatio (mmcv 1.x called it warmup_ratio). */
    warmupRatio: z.number().gt(0).max(1).default(0.001),
    /** Cosine only: the final LR (eta_min). */
    minLr: z.number().min(0).max(Limits.lr, `at most ${Limits.lr}`).default(0),
    /** Step only: epochs at which the LR is multiplied by gamma. */
    steps: z.array(countUpTo(Limits.epochs)).min(1).max(100).optional(),
    gamma: z.number().gt(0).max(1).default(0.1),
  })
  .strict();

const train = z
  .object({
    epochs: countUpTo(Limits.epochs).default(12),
    batchPerGpu: countUpTo(Limits.batchPerGpu)
      .default(2)
      .describe("images per GPU (2.x samples_per_gpu)"),
    workersPerGpu: z
      .int()
      .min(0)
      .max(Limits.workersPerGpu, `at most ${Limits.workersPerGpu}`)
      .default(2)
      .describe("dataloader workers per GPU (2.x workers_per_gpu)"),
    /** Defaults to workersPerGpu > 0 (PyTorch refuses persistent workers without workers). */
    persistentWorkers: z.boolean().optional(),
    optimizer: optimizer.default({ type: "SGD", lr: 0.02, momentum: 0.9, weightDecay: 0.0001 }),
    schedule: schedule.default({
      policy: "step",
      warmup: "linear",
      warmupIters: 500,
      warmupRatio: 0.001,
      minLr: 0,
      gamma: 0.1,
    }),
    precision: z.enum(PRECISIONS).default("fp32"),
    /** fp16 only: a fixed scale (e.g. 512, the 2.x tutorial's) or "dynamic". */
    lossScale: z
      .union([
        z.number().positive().max(Limits.lossScale, `at most ${Limits.lossScale} (2^24)`),
        z.literal("dynamic"),
      ])
      .optional(),
    gradAccumulation: countUpTo(Limits.gradAccumulation)
      .default(1)
      .describe("optim_wrapper.accumulative_counts"),
    /** Clip gradients by total norm (2.x optimizer_config.grad_clip). */
    gradClip: z
      .object({ maxNorm: z.number().positive().max(Limits.gradNorm, `at most ${Limits.gradNorm}`) })
      .strict()
      .optional(),
    autoScaleLr: z
      .union([z.boolean(), z.object({ baseBatchSize: countUpTo(Limits.baseBatchSize) }).strict()])
      .default(false)
      .describe("scale lr by world_size × batchPerGpu / baseBatchSize (default 16)"),
    /** NumPy seeds are 32-bit: MMEngine passes the seed to np.random.seed. */
    seed: z
      .int()
      .min(0)
      .max(Limits.seed, `at most ${Limits.seed} (2^32 − 1, NumPy's limit)`)
      .default(0),
    deterministic: z.boolean().default(false),
    /** Resize scale [width, height] for train and test pipelines (2.x img_scale). */
    imageScale: z.tuple([countUpTo(Limits.imageSide), countUpTo(Limits.imageSide)]).optional(),
    /** Validate every N epochs. */
    valInterval: countUpTo(Limits.epochs).default(1),
    /** Log every N iterations. */
    logInterval: countUpTo(Limits.iterations).default(50),
    /** Escape hatch: dotted keys merged last, like tools/train.py --cfg-options. */
    cfgOptions: z
      .record(
        z
          .string()
          .max(Limits.pathLength)
          .regex(/^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|\d+))*$/, {
            message: "a dotted config key such as model.backbone.frozen_stages",
          })
          .refine((k) => !hasForbiddenSegment(k), {
            message: "__proto__ and prototype are not config keys",
            params: { fix: "remove the key; no MMDetection setting has that name" },
          })
          .refine((k) => k.split(".").length <= Limits.keySegments, {
            message: `at most ${Limits.keySegments} dotted segments`,
            params: { fix: "no MMDetection setting is nested that deep: check the key" },
          }),
        z.json(),
      )
      .default({}),
  })
  .strict();

const resources = z
  .object({
    nodes: countUpTo(64).default(1),
    /** 0 trains on CPU (local runs, tests). */
    gpusPerNode: z.int().min(0).max(8).default(1),
    gpu: z
      .object({
        minMemoryGiB: countUpTo(192).optional(),
        instanceTypes: z
          .array(
            z
              .string()
              .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "an EC2 instance type such as g5.2xlarge"),
          )
          .min(1)
          .optional(),
      })
      .strict()
      .default({ minMemoryGiB: 16 }),
    spot: z.boolean().default(true),
    /** CPU cores requested per GPU (per node when gpusPerNode is 0). */
    cpuPerGpu: z
      .number()
      .min(
        Limits.minCpu,
        `at least ${Limits.minCpu} (100m: a trainer needs a real share of a core)`,
      )
      .max(96, "at most 96")
      .optional(),
    /** Memory requested per GPU (per node when gpusPerNode is 0), GiB. */
    memoryPerGpuGiB: z
      .number()
      .min(
        Limits.minMemoryGiB,
        `at least ${Limits.minMemoryGiB} GiB: PyTorch and MMDetection alone need more`,
      )
      .max(2048, "at most 2048")
      .optional(),
  })
  .strict();

const checkpoint = z
  .object({
    every: z
      .union([
        z.object({ epochs: countUpTo(Limits.epochs) }).strict(),
        z.object({ iters: countUpTo(Limits.iterations) }).strict(),
      ])
      .default({ epochs: 1 }),
    /** MMEngine deletes the oldest checkpoint BEFORE writing the new one: keep ≥ 2. */
    keep: z
      .int()
      .min(2, "at least 2: MMEngine deletes the oldest checkpoint before writing the new one")
      .max(Limits.keepCheckpoints, `at most ${Limits.keepCheckpoints}`)
      .default(3),
    /** Metric for save_best, e.g. coco/bbox_mAP. */
    best: z
      .string()
      .regex(/^[A-Za-z0-9_]+\/[A-Za-z0-9_.]+$/, "a metric such as coco/bbox_mAP")
      .optional(),
    /** greater for accuracy-like metrics, less for losses. */
    bestRule: z.enum(["greater", "less"]).optional(),
  })
  .strict();

/** Durations like 30m, 24h, 2d, 1h30m. */
export const DURATION_PATTERN = /^(\d+d)?(\d+h)?(\d+m)?(\d+s)?$/;

export const ExperimentSchema = z
  .object({
    version: z.literal(1),
    name: dnsLabel(50).describe("experiment name: DNS-1123 label, at most 50 characters"),
    namespace: dnsLabel(63).optional(),
    description: z.string().max(1000).optional(),
    model,
    dataset,
    // jitless: see parseExperiment (load-experiment.ts); these parses run on every start.
    train: train.default(train.parse({}, { jitless: true })),
    resources: resources.default(resources.parse({}, { jitless: true })),
    checkpoint: checkpoint.default(checkpoint.parse({}, { jitless: true })),
    queue: dnsLabel(63).optional().describe("Kueue LocalQueue; defaults to the platform's"),
    maxRuntime: z
      .string()
      .regex(DURATION_PATTERN, "a duration such as 30m, 24h, 2d or 1h30m")
      .refine((d) => d !== "", "a duration such as 30m, 24h, 2d or 1h30m")
      .superRefine((d, ctx) => {
        if (!DURATION_PATTERN.test(d) || d === "") return;
        const seconds = durationSeconds(d);
        if (seconds < Limits.minRuntimeSeconds)
          addIssue(
            ctx,
            `at least 1m (${Limits.minRuntimeSeconds} s): the pod needs time to fetch data and restore a checkpoint`,
            "use a duration such as 30m or 24h",
          );
        else if (seconds > Limits.maxRuntimeSeconds)
          addIssue(
            ctx,
            `at most ${Limits.maxRuntimeSeconds / 86400}d`,
            "split the run, or raise maxRuntime only up to 90d: checkpoints let a later run resume",
          );
      })
      .default("24h"),
    retries: z
      .int()
      .min(0)
      .max(100)
      .default(10)
      .describe("restarts after failures; preemptions do not count"),
  })
  .strict();

/** What the loader hands to everything else: validated, defaults filled, read-only. */
export type Experiment = Readonly<z.infer<typeof ExperimentSchema>>;
/** What a user may write. */
export type ExperimentInput = z.input<typeof ExperimentSchema>;

/** "1h30m" → 5400. Callers check DURATION_PATTERN first. */
export function durationSeconds(d: string): number {
  const units: Readonly<Record<string, number>> = { d: 86400, h: 3600, m: 60, s: 1 };
  let total = 0;
  for (const [, n, u] of d.matchAll(/(\d+)([dhms])/g)) total += Number(n) * (units[u ?? ""] ?? 0);
  return total;
}
