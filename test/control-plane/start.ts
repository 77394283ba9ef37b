/**
 * Start the test control plane by hand and keep it running (Ctrl-C stops it), e.g. to try the
 * CLI as a user or to capture docs/cluster.md's walk-through:
 *   npx tsx test/control-plane/start.ts
 *   export KUBECONFIG=<the printed path>; yunshi status
 */
import { join } from "node:path";
import { availability } from "./binaries.ts";
import { startControlPlane } from "./control-plane.ts";
import { BUCKET, NODES, NS, TEAM } from "./harness-config.ts";

const a = availability();
if (a.missing) {
  console.error(a.missing);
  process.exit(1);
}
const cp = await startControlPlane({
  binDir: join(a.dir, "bin"),
  assetsDir: join(a.dir, "assets"),
  teams: [TEAM],
  nodes: NODES,
  bucket: BUCKET,
  keep: true,
});
console.log(`control plane up in ${cp.timings.total} ms at ${cp.server}; logs in ${cp.dir}`);
console.log(`team member (alice, namespace ${NS}): KUBECONFIG=${cp.kubeconfig("alice", NS)}`);
console.log(`cluster admin: KUBECONFIG=${cp.kubeconfig("admin")}`);
const stop = () => void cp.stop().then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
