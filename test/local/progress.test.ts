import { describe, expect, it } from "vitest";
import {
  formatEvent,
  parseAgentLine,
  parseTrainerLine,
  ProgressTracker,
} from "../../jobs/local/progress.ts";

// Lines as MMEngine 0.10, the launcher and the checkpoint agent print them.
const train = (e: number, b: number, n: number, loss: string): string =>
  `11/28 00:20:01 - mmengine - INFO - Epoch(train) [${e}][${String(b).padStart(String(n).length)}/${n}]  base_lr: 1.0000e-02 lr: 1.0000e-02  eta: 0:00:12  time: 0.2100  data_time: 0.0030  memory: 0  loss: ${loss}  loss_rpn_cls: 0.6931  loss_rpn_bbox: 0.0123  loss_cls: 0.8000  acc: 50.0000  loss_bbox: 0.0100`;

describe("parseTrainerLine", () => {
  it("reads epoch, batch, loss and lr from MMEngine's train lines", () => {
    expect(parseTrainerLine(train(2, 3, 8, "1.5154"))).toEqual({
      kind: "train",
      epoch: 2,
      batch: 3,
      batches: 8,
      loss: 1.5154,
      lr: 0.01,
    });
  });
  it("recognises resume, saves, validation, preemption and the launcher's lines", () => {
    expect(
      parseTrainerLine("11/28 00:20:01 - mmengine - INFO - resumed epoch: 1, iter: 12"),
    ).toEqual({ kind: "resumed", epoch: 1, iter: 12 });
    expect(
      parseTrainerLine("11/28 00:20:01 - mmengine - INFO - Saving checkpoint at 16 iterations"),
    ).toEqual({ kind: "saving", unit: "iter", n: 16 });
    expect(
      parseTrainerLine(
        "11/28 00:20:01 - mmengine - INFO - Epoch(val) [4][4/4]    coco/bbox_mAP: 0.0010  coco/bbox_mAP_50: 0.0040  data_time: 0.0011  time: 0.0300",
      ),
    ).toMatchObject({ kind: "val" });
    expect(
      parseTrainerLine("yunshi-train: preempted: checkpoint /w/iter_13.pth saved at iteration 13"),
    ).toEqual({ kind: "preempted", checkpoint: "/w/iter_13.pth", iter: 13 });
    expect(
      parseTrainerLine("yunshi-launch: started training as pid 4242 (process group 4242)"),
    ).toEqual({ kind: "training-pid", pid: 4242 });
    expect(
      parseTrainerLine("yunshi-launch: training exited with 0: preempted, exit code 1"),
    ).toEqual({ kind: "launcher-exit", outcome: "preempted", code: 1 });
    expect(parseTrainerLine("some other line")).toBeUndefined();
  });
});

describe("parseAgentLine", () => {
  it("reads uploads, commits, restores and errors", () => {
    expect(parseAgentLine("uploading iter_8.pth to s3://b/local/q/checkpoints/iter_8.pth")).toEqual(
      {
        kind: "uploading",
        file: "iter_8.pth",
      },
    );
    expect(parseAgentLine("committed iter_8.pth (5123456 bytes, sha256 0123456789ab…)")).toEqual({
      kind: "committed",
      file: "iter_8.pth",
      bytes: 5123456,
    });
    expect(
      parseAgentLine("restored iter_8.pth to /s/runs/q/work/iter_8.pth; last_checkpoint updated"),
    ).toEqual({ kind: "restored", file: "iter_8.pth" });
    expect(
      parseAgentLine("no committed checkpoint under s3://b/local/q/: fresh run, nothing restored"),
    ).toEqual({ kind: "fresh" });
    expect(parseAgentLine('error: bucket "x" does not exist')).toEqual({
      kind: "agent-error",
      message: 'bucket "x" does not exist',
    });
  });
});

describe("ProgressTracker", () => {
  it("counts global iterations across epochs and continues after a mid-epoch resume", () => {
    const t = new ProgressTracker();
    const feed = (line: string): number | undefined => t.feed(parseTrainerLine(line)!);
    expect(feed(train(1, 1, 8, "2.0"))).toBe(1);
    expect(feed(train(1, 8, 8, "2.0"))).toBe(8);
    expect(feed(train(2, 1, 8, "2.0"))).toBe(9);
    // A new attempt resumed from iter_12 (epoch 1 done): epoch 2 restarts at batch 0.
    const r = new ProgressTracker();
    r.feed({ kind: "resumed", epoch: 1, iter: 12 });
    expect(r.feed(parseTrainerLine(train(2, 1, 8, "1.0"))!)).toBe(13);
    expect(r.feed(parseTrainerLine(train(2, 8, 8, "1.0"))!)).toBe(20);
    expect(r.feed(parseTrainerLine(train(3, 2, 8, "1.0"))!)).toBe(22);
    expect(r.feed({ kind: "saving", unit: "iter", n: 24 })).toBe(24);
  });
});

describe("formatEvent", () => {
  it("prints what a person follows", () => {
    expect(formatEvent(parseTrainerLine(train(2, 3, 8, "1.5154"))!, 11)).toBe(
      "  epoch 2 [3/8] · iter 11 · loss 1.5154",
    );
    expect(
      formatEvent({ kind: "committed", file: "iter_8.pth", bytes: 5_100_000 }, undefined),
    ).toBe("  checkpoint: iter_8.pth committed to the store (5.1 MB)");
    expect(formatEvent({ kind: "fresh" }, undefined)).toBeUndefined();
  });
});
