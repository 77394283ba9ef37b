import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { loadExperimentFile, parseExperiment } from "../../jobs/spec/load-experiment.ts";
import { INDEX_OVERRIDES_KEY } from "../../jobs/pod-contract.ts";
import { defaultSteps, renderMmdetConfig } from "../../jobs/render/mmdet-config.ts";
import { patched, specYaml } from "../spec-fixtures.ts";

/**
 * Executes a generated config in python3 (the `_base_` line is only a string here: no
 * MMEngine needed) and returns facts computed by Python itself, so types are Python's.
 */
function pythonFacts(configText: string): Record<string, unknown> {
  const probe = `
import json, sys
ns = {}
exec(sys.stdin.read(), ns)
ow = ns['optim_wrapper']
ps = ns['param_scheduler']
tdl = ns['train_dataloader']
def find(t):
    return [s for s in ps if s['type'] == t]
heads = ns.get('model', {}).get('roi_head', {}).get('bbox_head', {})
print(json.dumps({
  'base': ns['_base_'],
  'loss_scale': ow.get('loss_scale'),
  'loss_scale_is_float': isinstance(ow.get('loss_scale'), float),
  'wrapper_type': ow['type'],
  'dtype': ow.get('dtype'),
  'accumulative_counts': ow.get('accumulative_counts'),
  'optimizer': ow['optimizer'],
  'linear_end': [s['end'] for s in find('LinearLR')],
  'linear_start_factor': [s['start_factor'] for s in find('LinearLR')],
  'cosine': find('CosineAnnealingLR'),
  'num_workers': tdl['num_workers'],
  'persistent_workers': tdl['persistent_workers'],
  'batch_size': tdl['batch_size'],
  'classes': list(ns['metainfo']['classes']),
  'classes_is_tuple': isinstance(ns['metainfo']['classes'], tuple),
  'num_classes': heads.get('num_classes') if isinstance(heads, dict) else None,
  'resize_scale_is_tuple': [isinstance(p.get('scale'), tuple) for p in ns.get('train_pipeline', []) if p['type'] == 'Resize'],
  'dataset_pipeline_is_train_pipeline': tdl['dataset'].get('pipeline') is ns.get('train_pipeline'),
  'data_root': tdl['dataset']['data_root'],
  'ann_file': tdl['dataset']['ann_file'],
  'val_ann': ns['val_evaluator']['ann_file'],
  'max_epochs': ns['train_cfg']['max_epochs'],
  'checkpoint': ns['default_hooks']['checkpoint'],
  'auto_scale_lr': ns['auto_scale_lr'],
  'load_from': ns['load_from'],
  'vis_backends': [b['type'] for b in ns['visualizer']['vis_backends']],
  'seed': ns['randomness']['seed'],
  'index_overrides': ns.get('${INDEX_OVERRIDES_KEY}'),
  'env_cfg': ns.get('env_cfg'),
  'model': ns.get('model'),
  'keys': sorted(k for k in ns if not k.startswith('__')),
}, ensure_ascii=False))
`;
  const out = execFileSync("python3", ["-c", probe], { input: configText, encoding: "utf8" });
  return JSON.parse(out) as Record<string, unknown>;
}

const TWO_X_KEYS = [
  "fp16",
  "optimizer_config",
  "lr_config",
  "checkpoint_config",
  "data",
  "optimizer",
  "runner",
  "evaluation",
];

describe("the tutorial example, executed in python3", () => {
  it("has every knob of the 2.x tutorial in 3.x terms", async () => {
    const { experiment } = await loadExperimentFile("examples/cn-traffic-faster-rcnn.yaml");
    const facts = pythonFacts(renderMmdetConfig(experiment));
    expect(facts.base).toBe("mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py");
    expect(facts.loss_scale).toBe(512);
    expect(facts.loss_scale_is_float).toBe(true);
    expect(facts.wrapper_type).toBe("AmpOptimWrapper");
    expect(facts.accumulative_counts).toBe(2);
    expect(facts.linear_end).toEqual([500]);
    expect(facts.linear_start_factor).toEqual([0.1]);
    expect(facts.cosine).toEqual([
      {
        type: "CosineAnnealingLR",
        T_max: 12,
        eta_min: 0,
        by_epoch: true,
        begin: 0,
        end: 12,
        convert_to_iter_based: true,
      },
    ]);
    expect(facts.num_workers).toBe(4);
    expect(facts.persistent_workers).toBe(true);
    expect(facts.batch_size).toBe(2);
    expect(facts.classes).toEqual(["行人", "车辆", "交通灯"]);
    expect(facts.classes_is_tuple).toBe(true);
    expect(facts.num_classes).toBe(3);
    expect(facts.resize_scale_is_tuple).toEqual([true]);
    expect(facts.dataset_pipeline_is_train_pipeline).toBe(true);
    expect(facts.data_root).toBe("/yunshi/data/");
    expect(facts.val_ann).toBe("/yunshi/data/annotations/val.json");
    expect(facts.max_epochs).toBe(12);
    expect(facts.checkpoint).toMatchObject({
      interval: 1,
      by_epoch: true,
      max_keep_ckpts: 3,
      save_best: "coco/bbox_mAP",
      rule: "greater",
    });
    expect(facts.auto_scale_lr).toEqual({ enable: false, base_batch_size: 16 });
    expect(String(facts.load_from)).toMatch(
      /^https:\/\/download\.openmmlab\.com\/.*faster_rcnn_r50_fpn_1x_coco.*\.pth$/,
    );
    expect(facts.vis_backends).toEqual(["LocalVisBackend", "TensorboardVisBackend"]);
    expect(facts.seed).toBe(0);
    expect(facts.optimizer).toEqual({
      _delete_: true,
      type: "SGD",
      lr: 0.02,
      weight_decay: 0.0001,
      momentum: 0.9,
    });
    for (const k of TWO_X_KEYS) expect(facts.keys).not.toContain(k);
  });
});

describe("Python literals", () => {
  it("keeps a one-class tuple valid when a long name wraps it over lines (was `'…',,`)", () => {
    const name = `车辆-${"x".repeat(100)}`;
    const text = renderMmdetConfig(
      parseExperiment(specYaml(patched({ dataset: { classes: [name] } }))).experiment,
    );
    expect(text).not.toContain(",,");
    const facts = pythonFacts(text);
    expect(facts.classes).toEqual([name]);
    expect(facts.classes_is_tuple).toBe(true);
  });
});

describe("renderer rules", () => {
  const render = (patch: Record<string, unknown>) =>
    pythonFacts(renderMmdetConfig(parseExperiment(specYaml(patched(patch))).experiment));

  it("fp32 uses OptimWrapper with no loss scale", () => {
    const f = render({ train: { precision: "fp32" } });
    expect(f.wrapper_type).toBe("OptimWrapper");
    expect(f.loss_scale).toBeNull();
  });

  it("fp16 without lossScale is dynamic; bf16 sets dtype", () => {
    expect(render({ train: { precision: "fp16" } }).loss_scale).toBe("dynamic");
    const bf = render({ train: { precision: "bf16" } });
    expect(bf.dtype).toBe("bfloat16");
    expect(bf.wrapper_type).toBe("AmpOptimWrapper");
  });

  it("Cascade R-CNN sets all three heads through the index overrides", () => {
    const f = render({ model: { config: "mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py" } });
    expect(f.index_overrides).toEqual({
      "model.roi_head.bbox_head.0.num_classes": 3,
      "model.roi_head.bbox_head.1.num_classes": 3,
      "model.roi_head.bbox_head.2.num_classes": 3,
    });
  });

  it("RetinaNet sets bbox_head.num_classes; Mask R-CNN sets the mask head and segm metric", () => {
    const r = render({ model: { config: "mmdet::retinanet/retinanet_r50_fpn_1x_coco.py" } });
    expect(r.model).toEqual({ bbox_head: { num_classes: 3 } });
    const m = render({ model: { config: "mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py" } });
    expect(m.model).toEqual({
      roi_head: { bbox_head: { num_classes: 3 }, mask_head: { num_classes: 3 } },
    });
  });

  it("workers 0 turns persistent workers off", () => {
    const f = render({ train: { workersPerGpu: 0 } });
    expect(f.num_workers).toBe(0);
    expect(f.persistent_workers).toBe(false);
  });

  it("cfgOptions merge last; list indices go to the overrides; floats stay floats", () => {
    const f = render({
      train: {
        cfgOptions: {
          "model.backbone.depth": 18,
          "model.neck.in_channels": [64, 128, 256, 512],
          "model.roi_head.bbox_head.loss_cls.loss_weight": 1.5,
          "train_dataloader.batch_size": 8,
          "param_scheduler.0.end": 100,
        },
      },
    });
    expect(f.model).toEqual({
      roi_head: { bbox_head: { num_classes: 3, loss_cls: { loss_weight: 1.5 } } },
      backbone: { depth: 18 },
      neck: { in_channels: [64, 128, 256, 512] },
    });
    expect(f.batch_size).toBe(8);
    expect(f.index_overrides).toEqual({ "param_scheduler.0.end": 100 });
  });

  it("step policy uses MMDetection's 8/11 of 12 epochs unless steps are given", () => {
    expect(defaultSteps(12)).toEqual([8, 11]);
    expect(defaultSteps(24)).toEqual([16, 22]);
    expect(defaultSteps(1)).toEqual([]);
  });

  it("CPU runs rendezvous over gloo; iteration checkpoints are not by epoch", () => {
    const f = render({
      resources: { gpusPerNode: 0 },
      checkpoint: { every: { iters: 500 }, keep: 2 },
    });
    expect(f.env_cfg).toEqual({ dist_cfg: { backend: "gloo" } });
    expect(f.checkpoint).toMatchObject({ interval: 500, by_epoch: false, max_keep_ckpts: 2 });
  });

  it("s3:// pretrained weights load from the fetched local file; none loads nothing", () => {
    expect(render({ model: { pretrained: "s3://bucket/weights/model.pth" } }).load_from).toBe(
      "/yunshi/pretrained/model.pth",
    );
    expect(render({ model: { pretrained: "none" } }).load_from).toBeNull();
  });

  it("escapes quotes and backslashes in strings", () => {
    const f = render({ dataset: { classes: ["it's", "back\\slash", "行人"] } });
    expect(f.classes).toEqual(["it's", "back\\slash", "行人"]);
  });
});
