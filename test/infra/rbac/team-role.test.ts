/**
 * The team Role allows what `yunshi submit/status/logs/cancel` do, and no more: the CLI runs
 * against the fake API server, every request it makes is put through RBAC's decision for the
 * Role that `pulumi up` creates (infra/platform-objects/team-objects.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { teamRoleRules } from "../../../infra/platform-objects/team-objects.ts";
import { simulate } from "../../fake-kube-api/index.ts";
import { cli, NS, startCluster, writeSpec, type Cluster } from "../../cluster/harness.ts";
import { allowedByRole, requestAttributes, type RequestAttributes } from "./rbac-authorizer.ts";

let c: Cluster;
beforeAll(async () => {
  c = await startCluster();
  const name = "cn-traffic-frcnn";
  const submit = await cli("submit", writeSpec(c.dir));
  expect(submit.code, submit.err).toBe(0);
  simulate.kueuePending(c.fake, NS, name);
  simulate.kueueAdmit(c.fake, NS, name);
  const [pod] = simulate.createPods(c.fake, NS, name);
  simulate.podTraining(c.fake, NS, pod as string);
  c.fake.writeLog(NS, pod as string, "trainer", "Epoch(train) [1][50/100] loss: 1.2\n");
  for (const argv of [["status"], ["status", name], ["logs", name], ["cancel", name]]) {
    const r = await cli(...argv);
    expect(r.code, `${argv.join(" ")}: ${r.err}`).toBe(0);
  }
}, 60_000);
afterAll(async () => {
  await c.close();
});

const key = (a: RequestAttributes) =>
  `${a.verb} ${a.apiGroup === "" ? "core" : a.apiGroup}/${a.resource}${a.namespace === undefined ? " (cluster)" : ""}`;

describe("the team Role", () => {
  it("allows every namespaced request submit, status, logs and cancel make", () => {
    const requests = c.fake.requests
      .map((r) => requestAttributes(r.method, r.path, r.query))
      .filter((a): a is RequestAttributes => a !== undefined);
    const namespaced = requests.filter((a) => a.namespace !== undefined);
    expect(namespaced.length).toBeGreaterThan(10);
    const denied = [
      ...new Set(namespaced.filter((a) => !allowedByRole(teamRoleRules(), a)).map(key)),
    ];
    expect(denied).toEqual([]);
    // They did exercise apply, delete, logs and the Kueue reads.
    const made = new Set(namespaced.map(key));
    for (const k of [
      "patch batch/jobs",
      "delete batch/jobs",
      "get core/pods/log",
      "list kueue.x-k8s.io/workloads",
    ])
      expect(made, k).toContain(k);
  });

  it("makes no cluster-scoped request (a namespaced Role could not grant it)", () => {
    const cluster = c.fake.requests
      .map((r) => requestAttributes(r.method, r.path, r.query))
      .filter((a): a is RequestAttributes => a !== undefined && a.namespace === undefined);
    expect([...new Set(cluster.map(key))]).toEqual([]);
  });

  it("grants nothing beyond that: no secrets, exec, RBAC, quota or queue changes", () => {
    const req = (verb: string, apiGroup: string, resource: string) =>
      allowedByRole(teamRoleRules(), { verb, apiGroup, resource, namespace: NS, name: "x" });
    expect(req("get", "", "secrets")).toBe(false);
    expect(req("create", "", "pods/exec")).toBe(false);
    expect(req("create", "", "pods")).toBe(false);
    expect(req("patch", "rbac.authorization.k8s.io", "rolebindings")).toBe(false);
    expect(req("patch", "", "resourcequotas")).toBe(false);
    expect(req("patch", "kueue.x-k8s.io", "localqueues")).toBe(false);
    expect(req("update", "batch", "jobs")).toBe(false);
  });
});
