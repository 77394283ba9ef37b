/**
 * The dependency graph the Pulumi engine would see, from the registrations the mocks record:
 * an edge from a resource to every URN it depends on (dependsOn and input dependencies).
 * Pulumi creates along the reverse of these edges and deletes along them, so "A reaches B"
 * means B exists before A is created and is deleted only after A is gone.
 */
import type { Recorded } from "./harness.ts";

export function dependencyPath(
  resources: readonly Recorded[],
  from: Recorded,
  to: Recorded,
): string[] | undefined {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const edges = (r: Recorded) =>
    new Set([...r.dependencies, ...Object.values(r.propertyDependencies).flat()]);
  const previous = new Map<string, string>();
  const queue = [from.urn];
  const seen = new Set(queue);
  while (queue.length > 0) {
    const urn = queue.shift()!;
    if (urn === to.urn) {
      const path = [urn];
      for (let u = urn; previous.has(u);) {
        u = previous.get(u)!;
        path.unshift(u);
      }
      return path.map((u) => byUrn.get(u)?.name ?? u);
    }
    const node = byUrn.get(urn);
    if (node === undefined) continue;
    for (const next of edges(node))
      if (!seen.has(next)) {
        seen.add(next);
        previous.set(next, urn);
        queue.push(next);
      }
  }
  return undefined;
}
