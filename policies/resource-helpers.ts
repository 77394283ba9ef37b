/** Small shared helpers for policies: pure functions over the props CrossGuard passes. */
import type { PolicyResource } from "@pulumi/policy";

/** True when `child` (e.g. a BucketVersioning) configures `bucket`: by property dependency
 * (known during preview) or by equal bucket name/id (after apply). */
export function configuresBucket(child: PolicyResource, bucket: PolicyResource): boolean {
  if ((child.propertyDependencies["bucket"] ?? []).some((d) => d.urn === bucket.urn)) return true;
  const target: unknown = child.props["bucket"];
  return (
    target !== undefined && (target === bucket.props["bucket"] || target === bucket.props["id"])
  );
}

/** CIDRs that mean "the whole internet". */
export const OPEN_CIDRS = new Set(["0.0.0.0/0", "::/0"]);

export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? (v as unknown[]) : v === undefined || v === null ? [] : [v];
}
