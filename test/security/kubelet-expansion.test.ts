/**
 * Issue 10, item 5: the kubelet expands `$(VAR)` in container args and env values. A user's
 * string must reach the program exactly as written, on the cluster (escaped `$$`) and in a
 * local run (which expands like the kubelet). The rule is Kubernetes' own expand.go,
 * ported byte for byte in jobs/render/kubernetes-expansion.ts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { localLayout } from "../../jobs/local/layout.ts";
import { buildLocalPlan, resolveDataset } from "../../jobs/local/plan.ts";
import { escapeForKubelet, expandLikeKubelet } from "../../jobs/render/kubernetes-expansion.ts";
import { renderPodTemplate } from "../../jobs/render/pod-template.ts";
import { defaultPlatformContext } from "../../jobs/platform.ts";
import { parseExperiment } from "../../jobs/spec/load-experiment.ts";
import { patched, specYaml } from "../spec-fixtures.ts";

const dollarHeavy = fc
  .array(
    fc.oneof(
      fc.constantFrom("$", "$$", "$(", ")", "$(HOME)", "$(AWS_SECRET_ACCESS_KEY)", "(", "行", "🚗"),
      fc.string({ unit: "grapheme", maxLength: 4 }),
    ),
    { maxLength: 10 },
  )
  .map((parts) => parts.join(""));

describe("the kubelet's $(VAR) expansion (expand.go)", () => {
  it("expands, escapes and keeps unknown or incomplete references as expand.go does", () => {
    const env = (name: string): string =>
      ({ VAR_A: "A", VAR_B: "B", VAR_C: "C" })[name] ?? `$(${name})`;
    expect(expandLikeKubelet("$(VAR_A)", env)).toBe("A");
    expect(expandLikeKubelet("___$(VAR_B)___", env)).toBe("___B___");
    expect(expandLikeKubelet("$(VAR_A)-$(VAR_A)", env)).toBe("A-A");
    expect(expandLikeKubelet("$$(VAR_B)_$(VAR_A)", env)).toBe("$(VAR_B)_A");
    expect(expandLikeKubelet("$$$$$$(BIG_MONEY)", env)).toBe("$$$(BIG_MONEY)");
    expect(expandLikeKubelet("$(UNKNOWN)", env)).toBe("$(UNKNOWN)");
    expect(expandLikeKubelet("$(VAR_A", env)).toBe("$(VAR_A");
    expect(expandLikeKubelet("$VAR_A", env)).toBe("$VAR_A");
    expect(expandLikeKubelet("$", env)).toBe("$");
    expect(expandLikeKubelet("f00__(VAR_A)__", env)).toBe("f00__(VAR_A)__");
    // Go's string(byte): a raw `$` before a multi-byte character garbles it.
    expect(expandLikeKubelet("$行", env)).not.toBe("$行");
  });

  it("gives back any escaped string exactly, whatever the environment (property)", () => {
    fc.assert(
      fc.property(dollarHeavy, fc.string(), (s, value) => {
        expect(expandLikeKubelet(escapeForKubelet(s), () => value)).toBe(s);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("user strings in the pod", () => {
  const hostileUri = "s3://bucket/team/$(AWS_SECRET_ACCESS_KEY)/$$x/$行/";
  const hostileWeights = "s3://bucket/w/$(HOME).pth";
  const { experiment } = parseExperiment(
    specYaml(patched({ dataset: { uri: hostileUri }, model: { pretrained: hostileWeights } })),
  );
  const platform = { ...defaultPlatformContext, s3Endpoint: "http://minio$(X):9000" };

  it("reach every container's args and env values escaped, so the kubelet expands nothing", () => {
    const template = renderPodTemplate({
      experiment,
      platform,
      namespace: "vision",
      masterAddr: "m",
      labels: {},
      annotations: {},
    });
    const containers = [...template.spec!.initContainers!, ...template.spec!.containers];
    const afterKubelet = containers.flatMap((c) => [
      ...(c.args ?? []).map((a) => expandLikeKubelet(a, () => "EXPANDED")),
      ...(c.env ?? []).flatMap((e) =>
        e.value === undefined ? [] : [expandLikeKubelet(e.value, () => "EXPANDED")],
      ),
    ]);
    expect(afterKubelet).toContain(hostileUri);
    expect(afterKubelet).toContain(hostileWeights);
    expect(afterKubelet).toContain(platform.s3Endpoint);
    expect(afterKubelet.join(" ")).not.toContain("EXPANDED");
  });

  it("reach the local run's processes exactly as written", () => {
    const plan = buildLocalPlan({
      experiment,
      specHash: "x",
      layout: localLayout("/state", experiment.name),
      store: { endpoint: "http://127.0.0.1:4568", bucket: "yunshi-local", region: "us-east-1" },
      runtime: {
        python: "/py",
        launcher: "/launch.py",
        node: "/node",
        tsxLoader: "file:///tsx.mjs",
        agentMain: "/agent.ts",
      },
      dataset: resolveDataset(experiment.dataset.uri, "/x/exp.yaml"),
      visibleGpus: 0,
      masterPort: 40001,
    });
    const argv = plan.prepare.argv;
    expect(argv).toContain(hostileUri);
    expect(argv).toContain(hostileWeights);
  });
});
