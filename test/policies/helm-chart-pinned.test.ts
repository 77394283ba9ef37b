import { expect, it } from "vitest";
import { helmChartPinned } from "../../policies/helm-chart-pinned.ts";
import { charts } from "../../infra/versions.ts";
import { validateResource } from "./harness.ts";

const release = "kubernetes:helm.sh/v3:Release";

it("accepts exact versions, including every chart pinned in infra/versions.ts", async () => {
  for (const c of Object.values(charts))
    expect(
      await validateResource(helmChartPinned, release, { chart: c.chart, version: c.version }),
    ).toEqual([]);
  expect(
    await validateResource(helmChartPinned, "kubernetes:helm.sh/v4:Chart", {
      chart: "x",
      version: "v1.2.3-rc.1",
    }),
  ).toEqual([]);
});

it("rejects a missing version, ranges and floating tags", async () => {
  expect(await validateResource(helmChartPinned, release, { chart: "x" })).toEqual([
    "r has no chart version; pin one in infra/versions.ts.",
  ]);
  for (const v of ["^1.2.0", "~0.19", "1.x", "latest", ">=1.0.0"])
    expect(await validateResource(helmChartPinned, release, { chart: "x", version: v }), v).toEqual(
      [expect.stringContaining(`"${v}" is a range or tag`)],
    );
});

it("ignores other resource types", async () => {
  expect(await validateResource(helmChartPinned, "kubernetes:core/v1:ConfigMap", {})).toEqual([]);
});
