/**
 * Issue 14 on the real control plane:
 * - the job rules' ValidatingAdmissionPolicy (policies/admission-policy.ts, with the registry
 *   and GPU limit `pulumi up` gives it) type-checks against the real Job and JobSet schemas,
 *   admits what yunshi renders, and rejects each rule's violation with the rule's message,
 *   whoever applies it;
 * - the GitOps pipeline (examples/gitops/ci/pipeline.sh) renders a spec, the rendered objects
 *   pass a server-side dry run, and are applied by server-side apply with the field manager a
 *   GitOps controller uses; `yunshi status` then reads the run, and `yunshi submit` of the
 *   same spec is a no-op rather than a conflict.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse, parseAllDocuments, stringify } from "yaml";
import { expect, test } from "vitest";
import { writeSpec } from "../cluster/harness.ts";
import { ADMISSION_POLICY_NAME, admissionPolicyObjects } from "../../policies/admission-policy.ts";
import { pathOf, type Obj as ApiObj } from "./admin-client.ts";
import { describeOnControlPlane, NS } from "./harness.ts";
import type { Session } from "./harness.ts";
import { MUTATIONS, type Obj } from "../policies/rule-mutations.ts";

const REGISTRY = "123456789012.dkr.ecr.us-west-2.amazonaws.com";
const GITOPS_MANAGER = "argocd-controller";

interface Rendered {
  objects: ApiObj[];
}

/** `yunshi render` of an example with this cluster's platform ConfigMap, as objects. */
async function renderWithPlatform(s: Session, file: string): Promise<Rendered> {
  const cm = await s.cp.admin.get("v1", "ConfigMap", NS, "yunshi-platform");
  const data = (cm?.["data"] ?? {}) as Record<string, string>;
  const r = await s.yunshi(
    "render",
    file,
    "--format",
    "json",
    "-n",
    NS,
    "--bucket",
    data["bucket"] ?? "",
    "--trainer-image",
    data["trainerImage"] ?? "",
    "--agent-image",
    data["checkpointAgentImage"] ?? "",
  );
  expect(r.code, r.all).toBe(0);
  return { objects: JSON.parse(r.out) as ApiObj[] };
}

/** POST with dryRun=All: admission runs in full, nothing is stored. */
async function dryRunCreate(s: Session, o: object) {
  const obj = o as ApiObj;
  const path = pathOf(obj.apiVersion, obj.kind, obj.metadata.namespace, undefined);
  return s.cp.admin.request("POST", `${path}?dryRun=All`, JSON.stringify(o), "application/json");
}

describeOnControlPlane("issue 14 on a real kube-apiserver", (session) => {
  test("the admission policy type-checks against the real Job and JobSet schemas", async () => {
    const s = session();
    for (const o of admissionPolicyObjects({ registry: REGISTRY, maxGpusPerPod: 8 }))
      await s.cp.admin.apply(o);
    const policy = await s.waitFor("the policy's type check", async () => {
      const p = await s.cp.admin.get(
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicy",
        undefined,
        ADMISSION_POLICY_NAME,
      );
      const st = p?.["status"] as { observedGeneration?: number } | undefined;
      return st?.observedGeneration !== undefined ? p : undefined;
    });
    // Warnings name expressions that refer to fields the schemas do not have.
    expect((policy["status"] as { typeChecking?: unknown }).typeChecking).toBeDefined();
    expect(
      (policy["status"] as { typeChecking?: { expressionWarnings?: unknown[] } }).typeChecking
        ?.expressionWarnings ?? [],
    ).toEqual([]);
  }, 60_000);

  test("admits what yunshi renders and rejects each rule's violation with its message", async () => {
    const s = session();
    const single = await renderWithPlatform(s, writeSpec(s.dir));
    const multi = await renderWithPlatform(
      s,
      writeSpec(s.dir, (e) => (e["name"] = "guard-multi"), "multinode-2x8-faster-rcnn.yaml"),
    );
    const workloads = [...single.objects, ...multi.objects].filter(
      (o) => o.kind === "Job" || o.kind === "JobSet",
    ) as unknown as Obj[];
    expect(workloads.map((w) => w.kind).sort()).toEqual(["Job", "JobSet"]);

    // The policy takes effect once the API server's informer has it: wait for a denial.
    await s.waitFor("the policy to take effect", async () => {
      const o = structuredClone(workloads[0]!);
      MUTATIONS.find(([rule]) => rule === "platform-registry")![1](o);
      return (await dryRunCreate(s, o)).status === 403;
    });

    for (const w of workloads) {
      const ok = await dryRunCreate(s, w);
      expect(ok.status, `${w.kind}: ${ok.text}`).toBe(201);
    }
    for (const [rule, mutate] of MUTATIONS)
      for (const w of workloads) {
        const o = structuredClone(w);
        mutate(o);
        const r = await dryRunCreate(s, o);
        if (rule === "kueue-queue") {
          // Kueue's mutating webhook runs first and defaults a missing queue name to the
          // namespace's LocalQueue `default` (which the platform creates), so the object the
          // policy sees is compliant. Where no such queue exists, the policy denies it.
          expect(r.status, r.text).toBe(201);
          const labels = (JSON.parse(r.text) as ApiObj).metadata.labels ?? {};
          expect(labels["kueue.x-k8s.io/queue-name"]).toBe("default");
          continue;
        }
        expect(r.status, `${rule} on ${w.kind}: ${r.text.slice(0, 400)}`).toBe(403);
        const message = (JSON.parse(r.text) as { message: string }).message;
        expect(message).toContain(`yunshi rule ${rule}:`);
        expect(message).toContain("Fix: ");
      }
  }, 120_000);

  test("GitOps: pipeline render, server dry run, apply as the controller; status reads it; submit is a no-op", async () => {
    const s = session();
    // An experiments repository with one spec, named as the pipeline wants.
    const repo = join(s.dir, "experiments-repo");
    const name = "gitops-run";
    mkdirSync(join(repo, "experiments", NS), { recursive: true });
    const spec = parse(readFileSync(writeSpec(s.dir), "utf8")) as Record<string, unknown>;
    spec["name"] = name;
    const specFile = join(repo, "experiments", NS, `${name}.yaml`);
    writeFileSync(specFile, stringify(spec));
    // The namespace's platform ConfigMap, exported as the example's README says.
    const cm = await s.cp.admin.get("v1", "ConfigMap", NS, "yunshi-platform");
    mkdirSync(join(repo, "platform"));
    writeFileSync(
      join(repo, "platform", `${NS}.yaml`),
      stringify({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "yunshi-platform", namespace: NS },
        data: cm?.["data"],
      }),
    );
    execFileSync("bash", [resolve("examples/gitops/ci/pipeline.sh"), "render", "rendered"], {
      cwd: repo,
      env: {
        ...process.env,
        YUNSHI: `${process.execPath} ${resolve("bin/yunshi.js")}`,
      },
    });
    const dir = join(repo, "rendered", NS, name);
    const objects = readdirSync(dir)
      .filter((f) => f !== "kustomization.yaml")
      .sort()
      .flatMap((f) =>
        parseAllDocuments(readFileSync(join(dir, f), "utf8")).map((d) => d.toJS() as ApiObj),
      );
    expect(objects.map((o) => o.kind).sort()).toEqual(["ConfigMap", "Job", "Service"]);
    for (const o of objects) {
      const path = pathOf(o.apiVersion, o.kind, NS, o.metadata.name);
      const body = JSON.stringify(o);
      const dry = await s.cp.admin.request(
        "PATCH",
        `${path}?fieldManager=${GITOPS_MANAGER}&dryRun=All`,
        body,
        "application/apply-patch+yaml",
      );
      expect(dry.status, `${o.kind} dry run: ${dry.text}`).toBe(201);
    }
    for (const o of objects) {
      const path = pathOf(o.apiVersion, o.kind, NS, o.metadata.name);
      const applied = await s.cp.admin.request(
        "PATCH",
        `${path}?fieldManager=${GITOPS_MANAGER}`,
        JSON.stringify(o),
        "application/apply-patch+yaml",
      );
      expect(applied.status, `${o.kind} apply: ${applied.text}`).toBe(201);
    }
    const st = await s.waitFor("status of the GitOps-applied run", async () => {
      const r = await s.yunshi("status", name, "-o", "json");
      return r.code === 0 ? (JSON.parse(r.out) as { name: string; phase: string }) : undefined;
    });
    expect(st.name).toBe(name);
    expect(st.phase).not.toBe("");
    // yunshi submit of the same spec: the spec hash matches, nothing is sent.
    const submit = await s.yunshi("submit", specFile, "-n", NS);
    expect(submit.code, submit.all).toBe(0);
    expect(submit.out).toContain(`unchanged: experiment ${name}`);
    const job = await s.cp.admin.get("batch/v1", "Job", NS, name);
    const managers = (
      (job?.metadata as { managedFields?: { manager: string }[] }).managedFields ?? []
    ).map((m) => m.manager);
    expect(managers).toContain(GITOPS_MANAGER);
    expect(managers).not.toContain("yunshi");
  }, 120_000);
});
