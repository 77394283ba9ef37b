/**
 * The walk-through in docs/cluster.md, run for real: the yunshi CLI against the fake API
 * server, with Kueue, the Job controller and the kubelet played by simulate.ts (so the
 * training log lines are the simulation's, not a trainer's).
 * Run: npx tsx test/fake-kube-api/walkthrough.ts
 */
import { readFileSync, writeFileSync } from "node:fs";
import { cli, installPlatform, NS, startCluster } from "../cluster/harness.ts";
import { simulate as sim } from "./index.ts";

const SPEC = "examples/cn-traffic-faster-rcnn.yaml";
const NAME = "cn-traffic-frcnn";
const c = await startCluster({ platform: false });
installPlatform(c.fake, NS);

async function show(...argv: string[]): Promise<void> {
  const r = await cli(...argv);
  print(argv, r);
}
function print(argv: string[], r: { code: number; all: string }): void {
  process.stdout.write(
    `$ yunshi ${argv.join(" ")}\n${r.all}${r.code === 0 ? "" : `(exit ${r.code})\n`}\n`,
  );
}
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (pod: string, container: string, text: string) =>
  c.fake.writeLog(NS, pod, container, text);
let minute = 10;
const mmengine = (epoch: number, iter: number, loss: number) =>
  `11/28 09:${String(minute++).padStart(2, "0")}:00 - mmengine - INFO - Epoch(train)  [${epoch}][${String(iter).padStart(4)}/1250]  lr: 2.0000e-02  eta: 1:4${epoch}:12  time: 0.4810  data_time: 0.0093  memory: 5120  loss: ${loss.toFixed(4)}\n`;

await show("submit", SPEC);
sim.kueuePending(c.fake, NS, NAME);
await show("status");

sim.kueueAdmit(c.fake, NS, NAME);
const [pod1] = sim.createPods(c.fake, NS, NAME) as [string];
sim.podRestoring(c.fake, NS, pod1);
log(
  pod1,
  "restore",
  "no manifest at s3://acme-training/vision/cn-traffic-frcnn/checkpoints/LATEST.json: starting from the pretrained weights\n",
);
await show("status", NAME);

sim.podTraining(c.fake, NS, pod1);
log(pod1, "trainer", mmengine(1, 50, 1.9312) + mmengine(1, 100, 1.4127));
log(
  pod1,
  "snapshot",
  "uploading epoch_1.pth to s3://acme-training/vision/cn-traffic-frcnn/checkpoints/epoch_1.pth\ncommitted epoch_1.pth (167772160 bytes, sha256 3f5a0c9e1b2d…)\n",
);
log(pod1, "trainer", mmengine(2, 50, 1.1034));
await show("status");
await show("logs", NAME);

// Spot reclaim while someone follows the log: the log continues on the replacement pod.
const following = cli("logs", NAME, "--follow");
await pause(300);
sim.podDisrupted(c.fake, NS, pod1);
await show("status", NAME);
sim.podTerminatedAfterDisruption(c.fake, NS, pod1);
const [pod2] = sim.createPods(c.fake, NS, NAME) as [string];
sim.podRestoring(c.fake, NS, pod2);
await pause(200);
sim.podTraining(c.fake, NS, pod2);
log(
  pod2,
  "trainer",
  "11/28 09:31:40 - mmengine - INFO - Load checkpoint from /yunshi/work/epoch_1.pth\n11/28 09:31:40 - mmengine - INFO - resumed epoch: 1, iter: 1250\n" +
    ((minute = 32), "") +
    "" +
    mmengine(2, 50, 1.0987),
);
await pause(300);
const submitAgain = await cli("submit", SPEC);
const changedSpec = `${c.dir}/cn-traffic-faster-rcnn-24e.yaml`;
writeFileSync(changedSpec, readFileSync(SPEC, "utf8").replace("epochs: 12", "epochs: 24"));
const changed = await cli("submit", changedSpec);
const cancelled = cli("cancel", NAME);
await pause(100);
print(["logs", NAME, "--follow"], await following);
print(["submit", SPEC], submitAgain);
print(["submit", "cn-traffic-faster-rcnn-24e.yaml"], changed);
print(["cancel", NAME], await cancelled);
await show("status");
await c.close();
