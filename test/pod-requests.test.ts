/**
 * One pod's requests as the scheduler counts them: containers plus native sidecars, or a
 * regular init container plus the sidecars started before it, whichever is more.
 */
import { describe, expect, it } from "vitest";
import { podSpecRequests, quantity } from "../jobs/pod-requests.ts";

const c = (name: string, cpu: string, memory: string, restartPolicy?: "Always") => ({
  name,
  image: "x",
  resources: { requests: { cpu, memory } },
  ...(restartPolicy === undefined ? {} : { restartPolicy }),
});

describe("pod requests", () => {
  it("parses Kubernetes quantities", () => {
    expect([quantity("500m"), quantity("4"), quantity("1.5"), quantity(undefined)]).toEqual([
      0.5, 4, 1.5, 0,
    ]);
    expect(quantity("64Gi")).toBe(64 * 2 ** 30);
    expect(quantity("512Mi")).toBe(2 ** 29);
    expect(quantity("1G")).toBe(1e9);
    expect(() => quantity("lots")).toThrow(/unexpected quantity "lots"/);
  });

  it("adds native sidecars to the containers", () => {
    expect(
      podSpecRequests({
        initContainers: [c("fetch", "250m", "256Mi", "Always")],
        containers: [c("trainer", "80", "512Gi")],
      }),
    ).toEqual({ cpu: 80.25, memoryGiB: 512.25 });
  });

  it("a regular init container counts with the sidecars before it, when that is more", () => {
    expect(
      podSpecRequests({
        initContainers: [c("side", "1", "1Gi", "Always"), c("prepare", "8", "2Gi")],
        containers: [c("trainer", "4", "16Gi")],
      }),
    ).toEqual({ cpu: 9, memoryGiB: 17 });
  });
});
