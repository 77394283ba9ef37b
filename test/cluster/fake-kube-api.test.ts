/** The fake API server is as strict as the real one for what yunshi uses. */
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { FakeKubeApi } from "../fake-kube-api/index.ts";

let fake: FakeKubeApi;
beforeEach(async () => {
  fake = new FakeKubeApi({ namespaces: ["team"] });
  await fake.start();
});
afterEach(async () => {
  await fake.close();
});

const AUTH = { authorization: "Bearer fake-token" };
const CM = "/api/v1/namespaces/team/configmaps";
const JOBS = "/apis/batch/v1/namespaces/team/jobs";

async function req(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(fake.url + path, {
    method,
    headers: { ...AUTH, ...headers },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* plain text (logs) */
  }
  return { status: res.status, json, text };
}
const apply = (path: string, body: unknown, query = "fieldManager=yunshi") =>
  req("PATCH", `${path}?${query}`, body, { "content-type": "application/apply-patch+yaml" });
const cm = (data: Record<string, unknown>, labels: Record<string, string> = {}) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "c1", namespace: "team", labels },
  data,
});
const job = (image: string, restartPolicy = "Never") => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name: "j1" },
  spec: { template: { spec: { restartPolicy, containers: [{ name: "trainer", image }] } } },
});

describe("authentication, discovery, routing", () => {
  test("401 Status without the bearer token", async () => {
    const r = await req("GET", "/api/v1", undefined, { authorization: "Bearer wrong" });
    expect(r.status).toBe(401);
    expect(r.json).toMatchObject({
      kind: "Status",
      status: "Failure",
      reason: "Unauthorized",
      code: 401,
    });
  });

  test("discovery lists installed groups; a missing CRD's group version is a 404", async () => {
    const groups = await req("GET", "/apis");
    expect((groups.json.groups as { name: string }[]).map((g) => g.name)).toEqual([
      "batch",
      "jobset.x-k8s.io",
      "kueue.x-k8s.io",
    ]);
    const core = await req("GET", "/api/v1");
    expect(core.json.resources).toContainEqual(expect.objectContaining({ name: "pods/log" }));
    fake.crds.jobset = false;
    const js = await req("GET", "/apis/jobset.x-k8s.io/v1alpha2");
    expect(js.status).toBe(404);
    expect(js.json.message).toBe("the server could not find the requested resource");
    expect(
      (await req("GET", "/apis/jobset.x-k8s.io/v1alpha2/namespaces/team/jobsets")).status,
    ).toBe(404);
  });

  test("403 names the user, verb, resource, group and namespace", async () => {
    fake.forbid.push({ verb: "create", resource: "jobs.batch", namespace: "team" });
    const r = await req("POST", JOBS, job("busybox"), { "content-type": "application/json" });
    expect(r.status).toBe(403);
    expect(r.json.message).toBe(
      `jobs.batch is forbidden: User "alice@example.com" cannot create resource "jobs" in API group "batch" in the namespace "team"`,
    );
  });
});

describe("server-side apply", () => {
  test("requires the apply content type and a field manager", async () => {
    const merge = await req("PATCH", `${CM}/c1?fieldManager=yunshi`, cm({ a: "1" }), {
      "content-type": "application/json",
    });
    expect(merge.status).toBe(415);
    const noManager = await apply(`${CM}/c1`, cm({ a: "1" }), "");
    expect(noManager.status).toBe(422);
    expect(noManager.json.message).toContain(
      "fieldManager: Required value: is required for apply patch",
    );
  });

  test("creates (201), is idempotent (same resourceVersion), removes fields the manager dropped", async () => {
    const created = await apply(`${CM}/c1`, cm({ a: "1", b: "2" }));
    expect(created.status).toBe(201);
    const rv = (created.json.metadata as { resourceVersion: string }).resourceVersion;
    const again = await apply(`${CM}/c1`, cm({ a: "1", b: "2" }));
    expect(again.status).toBe(200);
    expect((again.json.metadata as { resourceVersion: string }).resourceVersion).toBe(rv);
    const dropped = await apply(`${CM}/c1`, cm({ a: "1" }));
    expect(dropped.json.data).toEqual({ a: "1" });
    expect(
      Number((dropped.json.metadata as { resourceVersion: string }).resourceVersion),
    ).toBeGreaterThan(Number(rv));
    expect(
      (dropped.json.metadata as { managedFields: { manager: string; operation: string }[] })
        .managedFields,
    ).toEqual([
      expect.objectContaining({ manager: "yunshi", operation: "Apply", fieldsType: "FieldsV1" }),
    ]);
  });

  test("a field owned by another manager with another value is a 409 conflict unless force", async () => {
    await apply(`${CM}/c1`, cm({ a: "1" }), "fieldManager=kubectl");
    const conflict = await apply(`${CM}/c1`, cm({ a: "2" }));
    expect(conflict.status).toBe(409);
    expect(conflict.json).toMatchObject({ reason: "Conflict", code: 409 });
    expect(conflict.json.message).toBe(
      `Apply failed with 1 conflict: conflict with "kubectl" using v1: .data.a`,
    );
    expect((conflict.json.details as { causes: unknown[] }).causes).toEqual([
      {
        type: "FieldManagerConflict",
        message: `conflict with "kubectl" using v1`,
        field: ".data.a",
      },
    ]);
    // Same value: shared ownership, no conflict.
    expect((await apply(`${CM}/c1`, cm({ a: "1" }))).status).toBe(200);
    const forced = await apply(`${CM}/c1`, cm({ a: "2" }), "fieldManager=yunshi&force=true");
    expect(forced.status).toBe(200);
    expect(forced.json.data).toEqual({ a: "2" });
  });

  test("the name in the body must match the URL; the namespace must exist", async () => {
    expect((await apply(`${CM}/other`, cm({}))).status).toBe(400);
    const r = await apply("/api/v1/namespaces/nope/configmaps/c1", {
      ...cm({}),
      metadata: { name: "c1" },
    });
    expect(r.status).toBe(404);
    expect(r.json.message).toBe(`namespaces "nope" not found`);
  });

  test("core bodies are validated against the OpenAPI schema (422 with causes)", async () => {
    const bad = await apply(`${CM}/c1`, cm({ a: 1 }));
    expect(bad.status).toBe(422);
    expect(bad.json.message).toBe(`ConfigMap "c1" is invalid: data.a: must be string`);
    const badJob = await apply(`${JOBS}/j1`, job("busybox", "Always"));
    expect(badJob.status).toBe(422);
    expect(badJob.json.message).toContain("spec.template.spec.restartPolicy");
  });

  test("a Job's template is immutable", async () => {
    expect((await apply(`${JOBS}/j1`, job("busybox:1"))).status).toBe(201);
    const r = await apply(`${JOBS}/j1`, job("busybox:2"));
    expect(r.status).toBe(422);
    expect(r.json.message).toContain("spec.template: Invalid value: field is immutable");
  });

  test("dryRun=All checks everything and stores nothing", async () => {
    expect((await apply(`${CM}/c1`, cm({ a: "1" }), "fieldManager=yunshi&dryRun=All")).status).toBe(
      201,
    );
    expect((await req("GET", `${CM}/c1`)).status).toBe(404);
  });
});

describe("create, get, list, delete", () => {
  test("real status codes and Status bodies", async () => {
    const post = (b: unknown) => req("POST", CM, b, { "content-type": "application/json" });
    expect((await post(cm({ a: "1" }, { team: "a" }))).status).toBe(201);
    const dup = await post(cm({ a: "1" }));
    expect(dup.status).toBe(409);
    expect(dup.json).toMatchObject({
      reason: "AlreadyExists",
      message: `configmaps "c1" already exists`,
    });
    const missing = await req("GET", `${CM}/nope`);
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: `configmaps "nope" not found`,
      reason: "NotFound",
      details: { name: "nope", kind: "configmaps" },
      code: 404,
    });
    const list = await req("GET", `${CM}?labelSelector=team%3Da`);
    expect(list.json.kind).toBe("ConfigMapList");
    expect((list.json.items as unknown[]).length).toBe(1);
    expect((await req("GET", `${CM}?labelSelector=team%20in%20(b)`)).json.items).toEqual([]);
    expect((await req("GET", `${CM}?labelSelector=%3D%3D`)).status).toBe(400);
    const del = await req("DELETE", `${CM}/c1`);
    expect(del.json).toMatchObject({
      kind: "Status",
      status: "Success",
      details: { name: "c1", kind: "configmaps" },
    });
    expect((await req("DELETE", `${CM}/c1`)).status).toBe(404);
  });

  test("foreground deletion marks the owner, removes dependents, then the owner", async () => {
    const created = await apply(`${JOBS}/j1`, job("busybox"));
    const uid = (created.json.metadata as { uid: string }).uid;
    fake.upsert({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: "j1-0-abcde",
        namespace: "team",
        ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: "j1", uid }],
      },
      spec: { containers: [{ name: "trainer", image: "busybox" }] },
    });
    const del = await req("DELETE", `${JOBS}/j1?propagationPolicy=Foreground`);
    expect(del.status).toBe(200);
    expect(del.json.metadata).toMatchObject({
      finalizers: ["foregroundDeletion"],
      deletionTimestamp: expect.any(String) as unknown,
    });
    await new Promise((r) => setTimeout(r, 60));
    expect(fake.get("v1", "Pod", "team", "j1-0-abcde")).toBeUndefined();
    expect((await req("GET", `${JOBS}/j1`)).status).toBe(404);
  });

  test("quota: object counts (count/jobs.batch) → 403 exceeded quota", async () => {
    fake.upsert({
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "q", namespace: "team" },
      spec: { hard: { "count/jobs.batch": "1" } },
    });
    expect((await apply(`${JOBS}/j1`, job("busybox"))).status).toBe(201);
    const r = await apply(`${JOBS}/j2`, { ...job("busybox"), metadata: { name: "j2" } });
    expect(r.status).toBe(403);
    expect(r.json.message).toBe(
      `jobs.batch "j2" is forbidden: exceeded quota: q, requested: count/jobs.batch=1, used: count/jobs.batch=1, limited: count/jobs.batch=1`,
    );
  });
});

describe("watch", () => {
  test("streams events from a resourceVersion, then live; 410 when too old", async () => {
    const first = await apply(`${CM}/c1`, cm({ a: "1" }));
    const rv = (first.json.metadata as { resourceVersion: string }).resourceVersion;
    await apply(`${CM}/c1`, cm({ a: "2" }));
    const ctl = new AbortController();
    const res = await fetch(`${fake.url}${CM}?watch=true&resourceVersion=${rv}`, {
      headers: AUTH,
      signal: ctl.signal,
    });
    const reader = res.body?.getReader() as ReadableStreamDefaultReader<Uint8Array>;
    let text = "";
    const read = async (n: number) => {
      while (text.split("\n").filter(Boolean).length < n)
        text += new TextDecoder().decode((await reader.read()).value);
    };
    await read(1);
    await req("DELETE", `${CM}/c1`);
    await read(2);
    ctl.abort();
    const events = text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; object: { data?: unknown } });
    expect(events.map((e) => e.type)).toEqual(["MODIFIED", "DELETED"]);
    expect(events[0]?.object.data).toEqual({ a: "2" });
    const old = await req("GET", `${CM}?watch=1&resourceVersion=5`);
    expect(JSON.parse(old.text.trim())).toMatchObject({
      type: "ERROR",
      object: { code: 410, reason: "Expired" },
    });
  });
});

describe("pod logs", () => {
  const pod = () =>
    fake.upsert({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", namespace: "team" },
      spec: {
        initContainers: [{ name: "restore", image: "a" }],
        containers: [
          { name: "trainer", image: "b" },
          { name: "x", image: "c" },
        ],
      },
    });
  const LOG = "/api/v1/namespaces/team/pods/p/log";

  test("container required, not started yet, tailLines, previous instance", async () => {
    pod();
    expect((await req("GET", LOG)).json.message).toBe(
      "a container name must be specified for pod p, choose one of: [trainer x] or one of the init containers: [restore]",
    );
    expect((await req("GET", `${LOG}?container=trainer`)).json.message).toBe(
      `container "trainer" in pod "p" is waiting to start: PodInitializing`,
    );
    expect((await req("GET", `${LOG}?container=nope`)).status).toBe(400);
    fake.writeLog("team", "p", "trainer", "one\ntwo\nthree\n");
    expect((await req("GET", `${LOG}?container=trainer&tailLines=2`)).text).toBe("two\nthree\n");
    fake.startContainer("team", "p", "trainer"); // a container restart
    fake.writeLog("team", "p", "trainer", "after restart\n");
    expect((await req("GET", `${LOG}?container=trainer`)).text).toBe("after restart\n");
    expect((await req("GET", `${LOG}?container=trainer&previous=true`)).text).toBe(
      "one\ntwo\nthree\n",
    );
    expect(
      (await req("GET", "/api/v1/namespaces/team/pods/gone/log?container=trainer")).status,
    ).toBe(404);
  });

  test("follow streams new lines and ends when the container terminates", async () => {
    pod();
    fake.writeLog("team", "p", "trainer", "first\n");
    const res = req("GET", `${LOG}?container=trainer&follow=true`);
    await new Promise((r) => setTimeout(r, 50));
    fake.writeLog("team", "p", "trainer", "second\n");
    fake.terminateContainer("team", "p", "trainer");
    expect((await res).text).toBe("first\nsecond\n");
  });
});
