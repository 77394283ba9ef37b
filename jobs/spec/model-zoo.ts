/**
 * What yunshi knows about MMDetection 3.3.0 base configs: where `num_classes` lives in
 * each model family (it differs: `roi_head.bbox_head` for Faster R-CNN, a list of three
 * heads for Cascade, `bbox_head` for single-stage detectors) and the COCO checkpoint of
 * the model zoo for `pretrained: coco`. URLs from mmdetection's
 * .dev_scripts/benchmark_options.py (v3.x). A base not listed here needs
 * `model.numClassesAt` in the spec.
 */

export interface ModelFamily {
  /** Dotted paths of every num_classes. Paths with a numeric segment index into a list. */
  readonly numClassesAt: readonly string[];
  /** The model has a mask head: pipelines must load masks, evaluation adds segm. */
  readonly masks: boolean;
  /** The base trains with AdamW (transformer backbones); SGD there is a likely mistake. */
  readonly prefersAdamW: boolean;
}

const twoStage: ModelFamily = {
  numClassesAt: ["model.roi_head.bbox_head.num_classes"],
  masks: false,
  prefersAdamW: false,
};
const twoStageMask: ModelFamily = {
  numClassesAt: ["model.roi_head.bbox_head.num_classes", "model.roi_head.mask_head.num_classes"],
  masks: true,
  prefersAdamW: false,
};
const cascade: ModelFamily = {
  numClassesAt: [0, 1, 2].map((i) => `model.roi_head.bbox_head.${i}.num_classes`),
  masks: false,
  prefersAdamW: false,
};
const cascadeMask: ModelFamily = {
  numClassesAt: [...cascade.numClassesAt, "model.roi_head.mask_head.num_classes"],
  masks: true,
  prefersAdamW: false,
};
const singleStage: ModelFamily = {
  numClassesAt: ["model.bbox_head.num_classes"],
  masks: false,
  prefersAdamW: false,
};

/** Model families by the folder of the base config (`mmdet::<folder>/...`). */
const familyByFolder: Readonly<Record<string, ModelFamily>> = {
  faster_rcnn: twoStage,
  mask_rcnn: twoStageMask,
  cascade_rcnn: cascade,
  retinanet: singleStage,
  fcos: singleStage,
  atss: singleStage,
  gfl: singleStage,
  tood: singleStage,
  vfnet: singleStage,
  paa: singleStage,
  fsaf: singleStage,
  yolox: singleStage,
  yolo: singleStage,
  yolof: singleStage,
  ssd: singleStage,
  rtmdet: singleStage,
  centernet: singleStage,
};

/** Folders holding several families: decided by the file name's prefix. */
function familyFromFileName(file: string): ModelFamily | undefined {
  if (file.startsWith("cascade-mask-rcnn")) return cascadeMask;
  if (file.startsWith("cascade-rcnn")) return cascade;
  if (file.startsWith("mask-rcnn")) return twoStageMask;
  if (file.startsWith("faster-rcnn")) return twoStage;
  if (file.startsWith("retinanet")) return singleStage;
  return undefined;
}

/** COCO checkpoints of the model zoo, by base config. */
const cocoCheckpoints: Readonly<Record<string, string>> = {
  "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py":
    "https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/faster_rcnn_r50_fpn_1x_coco/faster_rcnn_r50_fpn_1x_coco_20200130-047c8118.pth",
  "mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py":
    "https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/mask_rcnn_r50_fpn_1x_coco/mask_rcnn_r50_fpn_1x_coco_20200205-d4b0c5d6.pth",
  "cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py":
    "https://download.openmmlab.com/mmdetection/v2.0/cascade_rcnn/cascade_rcnn_r50_fpn_1x_coco/cascade_rcnn_r50_fpn_1x_coco_20200316-3dc56deb.pth",
  "cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py":
    "https://download.openmmlab.com/mmdetection/v2.0/cascade_rcnn/cascade_mask_rcnn_r50_fpn_1x_coco/cascade_mask_rcnn_r50_fpn_1x_coco_20200203-9d4dcb24.pth",
  "retinanet/retinanet_r50_fpn_1x_coco.py":
    "https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_r50_fpn_1x_coco/retinanet_r50_fpn_1x_coco_20200130-c2398f9e.pth",
  "swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py":
    "https://download.openmmlab.com/mmdetection/v2.0/swin/mask_rcnn_swin-t-p4-w7_fpn_1x_coco/mask_rcnn_swin-t-p4-w7_fpn_1x_coco_20210902_120937-9d6b7cfa.pth",
  "atss/atss_r50_fpn_1x_coco.py":
    "https://download.openmmlab.com/mmdetection/v2.0/atss/atss_r50_fpn_1x_coco/atss_r50_fpn_1x_coco_20200209-985f7bd0.pth",
  "tood/tood_r50_fpn_1x_coco.py":
    "https://download.openmmlab.com/mmdetection/v2.0/tood/tood_r50_fpn_1x_coco/tood_r50_fpn_1x_coco_20211210_103425-20e20746.pth",
  "yolox/yolox_tiny_8xb8-300e_coco.py":
    "https://download.openmmlab.com/mmdetection/v2.0/yolox/yolox_tiny_8x8_300e_coco/yolox_tiny_8x8_300e_coco_20211124_171234-b4047906.pth",
};

/** `mmdet::faster_rcnn/x.py` → `faster_rcnn/x.py`. */
export const baseConfigPath = (config: string): string => config.replace(/^mmdet::/, "");

export function modelFamily(config: string): ModelFamily | undefined {
  const path = baseConfigPath(config);
  const [folder, ...rest] = path.split("/");
  const file = rest.join("/");
  const byName = familyFromFileName(file);
  const family = byName ?? (folder === undefined ? undefined : familyByFolder[folder]);
  if (family === undefined) return undefined;
  // Transformer backbones (Swin, PVT, ConvNeXt) train with AdamW in their base configs.
  const transformer = /swin|pvt|convnext/.test(path);
  return transformer ? { ...family, prefersAdamW: true } : family;
}

export function cocoCheckpoint(config: string): string | undefined {
  return cocoCheckpoints[baseConfigPath(config)];
}

/** Base configs with a known COCO checkpoint, for error messages. */
export const knownCocoBases = (): string[] =>
  Object.keys(cocoCheckpoints).map((p) => `mmdet::${p}`);
