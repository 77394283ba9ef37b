import { describe, expect, it } from "vitest";
import {
  bestFileMetric,
  bestFromScalars,
  formatBestMetric,
} from "../../jobs/after-training/best-metric.ts";

// Lines as MMEngine's LocalVisBackend writes vis_data/scalars.json: training lines by
// iteration, validation lines with the metrics and step = the epoch.
const RUN_1 = [
  '{"lr": 0.002, "loss": 1.52, "epoch": 1, "iter": 24, "step": 24}',
  '{"coco/bbox_mAP": 0.21, "coco/bbox_mAP_50": 0.48, "data_time": 0.01, "time": 0.2, "step": 2}',
  '{"coco/bbox_mAP": 0.55, "coco/bbox_mAP_50": 0.93, "data_time": 0.01, "time": 0.2, "step": 4}',
].join("\n");
// After a restart: a new timestamp folder, a new file; the last line is still being written.
const RUN_2 = [
  '{"coco/bbox_mAP": 0.61, "coco/bbox_mAP_50": 0.91, "data_time": 0.01, "time": 0.2, "step": 6}',
  '{"coco/bbox_mAP": 0.6',
].join("\n");

describe("best metric from the manifest's best file and scalars.json", () => {
  it("reads the metric from save_best's file name", () => {
    expect(bestFileMetric("best_coco_bbox_mAP_50_iter_96.pth")).toBe("coco_bbox_mAP_50");
    expect(bestFileMetric("best_coco_bbox_mAP_epoch_6.pth")).toBe("coco_bbox_mAP");
    expect(bestFileMetric("iter_96.pth")).toBeUndefined();
  });

  it("picks the best value of exactly that metric across restarts, with its epoch", () => {
    const b = bestFromScalars("best_coco_bbox_mAP_50_iter_96.pth", [RUN_1, RUN_2]);
    expect(b).toEqual({
      metric: "coco/bbox_mAP_50",
      value: 0.93,
      epoch: 4,
      file: "best_coco_bbox_mAP_50_iter_96.pth",
    });
    // coco/bbox_mAP is another metric: its best is later.
    expect(bestFromScalars("best_coco_bbox_mAP_iter_144.pth", [RUN_1, RUN_2])?.epoch).toBe(6);
    expect(formatBestMetric(b!)).toBe(
      "coco/bbox_mAP_50 0.9300 at epoch 4 (best_coco_bbox_mAP_50_iter_96.pth)",
    );
  });

  it("a loss is best when lowest; nothing logged yet gives nothing", () => {
    const rows =
      '{"val/loss": 0.9, "step": 1}\n{"val/loss": 0.4, "step": 2}\n{"val/loss": 0.5, "step": 3}';
    expect(bestFromScalars("best_val_loss_epoch_2.pth", [rows])?.value).toBe(0.4);
    expect(bestFromScalars("best_coco_bbox_mAP_iter_8.pth", [""])).toBeUndefined();
  });
});
