import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { ClusterClient } from "../../jobs/cluster/client.ts";
import { ClusterError } from "../../jobs/cluster/errors.ts";
import { loadKubeConfig } from "../../jobs/cluster/kubeconfig.ts";
import type { WatchEventType } from "../../jobs/cluster/types.ts";
import { FakeKubeApi } from "../fake-kube-api/index.ts";

let fake: FakeKubeApi;
let dir: string;
let client: ClusterClient;
beforeEach(async () => {
  fake = new FakeKubeApi({ namespaces: ["team"] });
  await fake.start();
  dir = mkdtempSync(join(tmpdir(), "yunshi-client-"));
  writeFileSync(join(dir, "config"), fake.kubeconfig([{ name: "fake", namespace: "team" }]));
  client = ClusterClient.connect({ env: { KUBECONFIG: join(dir, "config") } });
});
afterEach(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const cm = (name: string, data: Record<string, string>) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "team", labels: { app: "x" } },
  data,
});

describe("ClusterClient", () => {
  test("the context's namespace is the default", () => {
    expect(client.defaultNamespace).toBe("team");
    expect(client.context).toBe("fake");
  });

  test("apply, get (undefined when missing), list with a selector, delete", async () => {
    const applied = await client.apply(cm("a", { k: "v" }));
    expect(applied.metadata.resourceVersion).toMatch(/^\d+$/);
    expect(typeof applied.metadata.creationTimestamp).toBe("string"); // plain JSON, not Date
    expect(
      await client.get({ apiVersion: "v1", kind: "ConfigMap", namespace: "team", name: "zzz" }),
    ).toBeUndefined();
    const { items } = await client.list("v1", "ConfigMap", "team", "app=x");
    expect(items.map((i) => [i.kind, i.metadata.name])).toEqual([["ConfigMap", "a"]]);
    // Background: gone at once (a foreground delete keeps it, marked, until its dependents go).
    const ref = { apiVersion: "v1", kind: "ConfigMap", namespace: "team", name: "a" };
    expect(await client.delete(ref, "Background")).toBe(true);
    expect(await client.delete(ref, "Background")).toBe(false);
  });

  test("a missing CRD is an error even for get, not 'not found'", async () => {
    fake.crds.kueue = false;
    const err = await client
      .get({
        apiVersion: "kueue.x-k8s.io/v1beta2",
        kind: "LocalQueue",
        namespace: "team",
        name: "q",
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterError);
    expect((err as ClusterError).kind).toBe("crd-missing");
  });

  test("watch delivers events from a resourceVersion and stops on request", async () => {
    const { resourceVersion } = await client.list("v1", "ConfigMap", "team");
    const events: [WatchEventType, string, unknown][] = [];
    const stop = await client.watch(
      "v1",
      "ConfigMap",
      "team",
      { resourceVersion, labelSelector: "app=x" },
      (t, o) => events.push([t, o.metadata.name, o.data]),
      () => {},
    );
    await client.apply(cm("a", { k: "1" }));
    await client.apply(cm("a", { k: "2" }));
    await client.delete(
      { apiVersion: "v1", kind: "ConfigMap", namespace: "team", name: "a" },
      "Background",
    );
    const end = Date.now() + 3000;
    while (events.length < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    stop();
    expect(events.map(([t, n]) => `${t} ${n}`)).toEqual(["ADDED a", "MODIFIED a", "DELETED a"]);
    expect(events[1]?.[2]).toEqual({ k: "2" });
  });

  test("pod logs: follow until the container ends; a missing pod is an error", async () => {
    fake.upsert({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", namespace: "team" },
      spec: { containers: [{ name: "trainer", image: "x" }] },
    });
    fake.writeLog("team", "p", "trainer", "a\n");
    let text = "";
    const done = client.podLogs("team", "p", "trainer", { follow: true }, (t) => (text += t));
    await new Promise((r) => setTimeout(r, 50));
    fake.writeLog("team", "p", "trainer", "b\n");
    fake.terminateContainer("team", "p", "trainer");
    await done;
    expect(text).toBe("a\nb\n");
    await expect(client.podLogs("team", "nope", "trainer", {}, () => {})).rejects.toThrow(
      ClusterError,
    );
  });
});

describe("kubeconfig", () => {
  test("none at all → no-kubeconfig with the fix", () => {
    const home = mkdtempSync(join(tmpdir(), "yunshi-home-"));
    const e = (() => {
      try {
        loadKubeConfig({ env: { HOME: home } });
      } catch (err) {
        return err as ClusterError;
      }
      return undefined;
    })();
    rmSync(home, { recursive: true, force: true });
    expect(e?.kind).toBe("no-kubeconfig");
    expect(e?.message).toContain(`${home}/.kube/config does not exist`);
  });

  test("unreadable YAML and a kubeconfig without a current context", () => {
    writeFileSync(join(dir, "broken"), "clusters: [");
    expect(() => loadKubeConfig({ env: { KUBECONFIG: join(dir, "broken") } })).toThrow(
      /Cannot read your kubeconfig/,
    );
    writeFileSync(
      join(dir, "nocurrent"),
      fake.kubeconfig().replace(/^current-context: .*$/m, 'current-context: ""'),
    );
    expect(() => loadKubeConfig({ env: { KUBECONFIG: join(dir, "nocurrent") } })).toThrow(
      /no current context. Pass --context \(one of: fake\)/,
    );
  });
});
