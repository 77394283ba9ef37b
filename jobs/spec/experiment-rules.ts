/**
 * Cross-field rules of the experiment spec: what one field's validity depends on another.
 * Pure; runs after the schema accepted the shape. Errors stop everything (exit 2);
 * warnings are printed and the spec is used.
 */
import type { Experiment } from "./experiment.ts";
import { cocoCheckpoint, knownCocoBases, modelFamily } from "./model-zoo.ts";

export interface RuleFinding {
  /** Path segments; the loader turns them into `a.b.0` and a YAML position. */
  readonly path: readonly (string | number)[];
  readonly message: string;
  readonly fix?: string;
}

export interface RuleResult {
  readonly errors: RuleFinding[];
  readonly warnings: RuleFinding[];
}

export function checkExperimentRules(exp: Experiment): RuleResult {
  const errors: RuleFinding[] = [];
  const warnings: RuleFinding[] = [];
  const { train, resources, dataset, model, checkpoint } = exp;

  // Mixed precision: AmpOptimWrapper needs CUDA; lossScale belongs to fp16 alone.
  if (train.lossScale !== undefined && train.precision !== "fp16") {
    errors.push({
      path: ["train", "lossScale"],
      message: `lossScale applies only to precision fp16, got ${JSON.stringify(train.lossScale)} with precision ${train.precision}`,
      fix: "set train.precision: fp16, or remove train.lossScale",
    });
  }
  if (train.precision !== "fp32" && resources.gpusPerNode === 0) {
    errors.push({
      path: ["train", "precision"],
      message: `precision ${train.precision} needs a GPU (MMEngine's AmpOptimWrapper requires CUDA), but resources.gpusPerNode is 0`,
      fix: "use precision: fp32 on CPU, or set resources.gpusPerNode ≥ 1",
    });
  }
  if (
    train.precision === "bf16" &&
    resources.gpu.instanceTypes?.some((t) => t.startsWith("g4dn"))
  ) {
    warnings.push({
      path: ["train", "precision"],
      message: "bf16 needs an Ampere or newer GPU; g4dn (T4) emulates it slowly",
      fix: "use fp16 on g4dn, or g5/g6 instances for bf16",
    });
  }

  // Data loading.
  if (train.persistentWorkers === true && train.workersPerGpu === 0) {
    errors.push({
      path: ["train", "persistentWorkers"],
      message:
        "persistentWorkers needs workersPerGpu > 0 (PyTorch refuses persistent workers without workers)",
      fix: "set train.workersPerGpu ≥ 1, or persistentWorkers: false",
    });
  }
  const seen = new Map<string, number>();
  dataset.classes.forEach((name, i) => {
    const first = seen.get(name);
    if (first !== undefined) {
      errors.push({
        path: ["dataset", "classes", i],
        message: `duplicate class name ${JSON.stringify(name)} (also at index ${first}); COCO matches classes by name`,
        fix: "list each category name once, exactly as in categories[].name",
      });
    } else seen.set(name, i);
  });

  // Optimizer fields that belong to one type only.
  const opt = train.optimizer;
  if (opt.momentum !== undefined && opt.type !== "SGD") {
    errors.push({
      path: ["train", "optimizer", "momentum"],
      message: `momentum applies to SGD only, got optimizer type ${opt.type}`,
      fix: `remove momentum, or use betas for ${opt.type}`,
    });
  }
  if (opt.betas !== undefined && opt.type === "SGD") {
    errors.push({
      path: ["train", "optimizer", "betas"],
      message: "betas apply to Adam and AdamW only, got optimizer type SGD",
      fix: "remove betas, or use momentum for SGD",
    });
  }

  // Schedule.
  const s = train.schedule;
  if (s.steps !== undefined && s.policy !== "step") {
    errors.push({
      path: ["train", "schedule", "steps"],
      message: `steps apply to policy step only, got policy ${s.policy}`,
      fix: "remove steps, or set policy: step",
    });
  }
  s.steps?.forEach((step, i) => {
    if (step > train.epochs) {
      errors.push({
        path: ["train", "schedule", "steps", i],
        message: `step at epoch ${step} is after the last epoch (${train.epochs})`,
        fix: `use epochs ≤ ${train.epochs}, or raise train.epochs`,
      });
    }
  });
  if (s.policy === "cosine" && s.minLr >= opt.lr) {
    errors.push({
      path: ["train", "schedule", "minLr"],
      message: `minLr ${s.minLr} must be below the optimizer lr ${opt.lr}`,
      fix: "use a smaller minLr (0 is common)",
    });
  }
  if (s.policy !== "cosine" && s.minLr > 0) {
    warnings.push({
      path: ["train", "schedule", "minLr"],
      message: `minLr is used by policy cosine only and is ignored with policy ${s.policy}`,
    });
  }

  if (train.autoScaleLr !== false && train.gradAccumulation > 1) {
    warnings.push({
      path: ["train", "autoScaleLr"],
      message:
        "auto_scale_lr counts world_size × batchPerGpu, not gradient accumulation: the LR will not be scaled for gradAccumulation",
      fix: "scale optimizer.lr yourself, or set autoScaleLr.baseBatchSize accordingly",
    });
  }

  // Model: num_classes placement and pretrained weights.
  const family = modelFamily(model.config);
  if (family === undefined && model.numClassesAt === undefined) {
    errors.push({
      path: ["model", "config"],
      message: `yunshi does not know where num_classes lives in ${model.config}`,
      fix: "add model.numClassesAt with every head's path, e.g. [model.bbox_head.num_classes]",
    });
  }
  if (model.pretrained === "coco" && cocoCheckpoint(model.config) === undefined) {
    errors.push({
      path: ["model", "pretrained"],
      message: `the model zoo has no COCO checkpoint yunshi knows for ${model.config}`,
      fix: `use pretrained: none (the backbone keeps its ImageNet init), an https:// or s3:// checkpoint, or one of: ${knownCocoBases().join(", ")}`,
    });
  }
  if (family?.prefersAdamW === true && opt.type === "SGD") {
    warnings.push({
      path: ["train", "optimizer", "type"],
      message: `${model.config} is a transformer backbone whose base trains with AdamW (lr 1e-4, weight decay 0.05); SGD often diverges or underfits here`,
      fix: "use optimizer: { type: AdamW, lr: 0.0001, weightDecay: 0.05 }",
    });
  }

  // Resources.
  if (resources.gpu.minMemoryGiB !== undefined && resources.gpu.instanceTypes !== undefined) {
    errors.push({
      path: ["resources", "gpu"],
      message: "give either minMemoryGiB or instanceTypes, not both",
      fix: "keep instanceTypes to pin machines, or minMemoryGiB to let the platform choose",
    });
  }

  // JobSet's webhook refuses a set whose longest pod name would exceed 63 characters.
  const nameLimit = multiNodeNameLimit(resources.nodes);
  if (resources.nodes > 1 && exp.name.length > nameLimit) {
    errors.push({
      path: ["name"],
      message: `${JSON.stringify(exp.name)} has ${exp.name.length} characters; a ${resources.nodes}-node run's pods are named <name>-node-0-${resources.nodes - 1}-xxxxx, which JobSet requires to fit in 63 characters, so the name may have at most ${nameLimit}`,
      fix: `shorten the name to ${nameLimit} characters or fewer`,
    });
  }

  // Checkpoints.
  if ("epochs" in checkpoint.every && checkpoint.every.epochs > train.epochs) {
    warnings.push({
      path: ["checkpoint", "every", "epochs"],
      message: `checkpoint every ${checkpoint.every.epochs} epochs but training has ${train.epochs}: only the final checkpoint protects this run`,
    });
  }
  if (checkpoint.bestRule !== undefined && checkpoint.best === undefined) {
    errors.push({
      path: ["checkpoint", "bestRule"],
      message: "bestRule needs checkpoint.best (the metric to compare)",
      fix: "add checkpoint.best, e.g. coco/bbox_mAP",
    });
  }

  for (const key of Object.keys(train.cfgOptions)) {
    if (key === "_base_" || key.startsWith("_base_.")) {
      errors.push({
        path: ["train", "cfgOptions", key],
        message: "cfgOptions cannot change _base_",
        fix: "set model.config instead",
      });
    }
  }

  return { errors, warnings };
}

/**
 * The longest experiment name a multi-node run may have. JobSet (v0.12 webhook) names pods
 * `<name>-<replicatedJob>-<jobIndex>-<podIndex>-<5 random>` and requires that to be a DNS-1035
 * label (≤ 63): with replicated job "node" and one replica that is name + 8 + digits + 6.
 */
export function multiNodeNameLimit(nodes: number): number {
  const podIndexDigits = String(Math.max(0, nodes - 1)).length;
  return 63 - "-node-0-".length - podIndexDigits - "-xxxxx".length;
}
