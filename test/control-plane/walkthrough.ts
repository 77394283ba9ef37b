/**
 * Capture docs/cluster.md's walk-through against the real control plane: the CLI as alice
 * (kube context namespace `vision`), with kwok standing in for GPU nodes and the test playing
 * the world (the prepare sidecar's, the trainer's and the snapshot sidecar's log lines, a spot
 * eviction).
 *   npx tsx test/control-plane/walkthrough.ts > /tmp/walkthrough.txt
 */
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { run } from "../../jobs/program.ts";
import { availability } from "./binaries.ts";
import { startControlPlane } from "./control-plane.ts";
import { BUCKET, NODES, NS, TEAM } from "./harness-config.ts";
import { criLine } from "./kwok-config.ts";

const a = availability();
if (a.missing) throw new Error(a.missing);
const cp = await startControlPlane({
  binDir: join(a.dir, "bin"),
  assetsDir: join(a.dir, "assets"),
  teams: [TEAM],
  nodes: NODES,
  bucket: BUCKET,
});
process.env.KUBECONFIG = cp.kubeconfig("alice", NS);
for (const k of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"])
  delete process.env[k];
const dir = mkdtempSync(join(tmpdir(), "yunshi-walkthrough-"));
process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, "none");
process.env.AWS_CONFIG_FILE = join(dir, "none");

const out: string[] = [];
async function yunshi(shown: string, ...argv: string[]): Promise<void> {
  out.push(`$ yunshi ${shown}`);
  const text: string[] = [];
  const code = await run(argv, { out: (t) => void text.push(t), err: (t) => void text.push(t) });
  out.push(text.join("").trimEnd());
  if (code !== 0) out.push(`(exit ${code})`);
  out.push("");
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pods = async () =>
  (await cp.admin.list("v1", "Pod", NS, "yunshi.dev/experiment=cn-traffic-frcnn")).filter(
    (p) => p.metadata.deletionTimestamp === undefined,
  );
const log = (file: string | undefined, lines: string[]) => {
  if (file) for (const l of lines) appendFileSync(file, criLine(l));
};

try {
  const spec = join("examples", "cn-traffic-faster-rcnn.yaml");
  const changed = join(dir, "cn-traffic-faster-rcnn-24e.yaml");
  const doc = parse(readFileSync(spec, "utf8")) as { train: { epochs: number } };
  doc.train.epochs = 24;
  writeFileSync(changed, stringify(doc));

  await yunshi(`submit ${spec}`, "submit", spec);
  log(cp.logFiles.prepare, ["fetch-dataset: fetched 2310/6000 files, 1.4 GB, 212.0 MB/s, 6.8 s"]);
  await sleep(1500);
  await yunshi("status", "status");
  await yunshi("status cn-traffic-frcnn", "status", "cn-traffic-frcnn");
  log(cp.logFiles.prepare, ["prepared in 14.2 s: training may start"]);
  log(cp.logFiles.trainer, [
    "11/30 09:10:00 - mmengine - INFO - Epoch(train)  [1][  50/1250]  lr: 2.0000e-02  loss: 1.9312",
    "11/30 09:11:00 - mmengine - INFO - Epoch(train)  [1][ 100/1250]  lr: 2.0000e-02  loss: 1.4127",
  ]);
  log(cp.logFiles.snapshot, ["committed epoch_1.pth (171 bytes)"]);
  await sleep(1500);
  await yunshi("status", "status");
  await yunshi("logs cn-traffic-frcnn", "logs", "cn-traffic-frcnn");
  const [victim] = await pods();
  if (victim) await cp.admin.evict(NS, victim.metadata.name);
  await sleep(300);
  await yunshi("status cn-traffic-frcnn", "status", "cn-traffic-frcnn");
  // The Job controller replaces the pod once it is terminal (podReplacementPolicy: Failed).
  for (
    let i = 0;
    i < 60 && !(await pods()).some((p) => p.metadata.name !== victim?.metadata.name);
    i++
  )
    await sleep(500);
  log(cp.logFiles.prepare, ["restoring epoch_1.pth: 62% 106/171 MB, 180.3 MB/s"]);
  await sleep(1500);
  await yunshi("status", "status");
  log(cp.logFiles.prepare, ["prepared in 1.1 s: training may start"]);
  await sleep(1500);
  await yunshi("status", "status");
  await yunshi(`submit ${spec}`, "submit", spec);
  await yunshi("submit cn-traffic-faster-rcnn-24e.yaml", "submit", changed);
  await yunshi("cancel cn-traffic-frcnn", "cancel", "cn-traffic-frcnn");
  await yunshi("status", "status");
} finally {
  await cp.stop();
}
console.log(out.join("\n"));
