/**
 * Kubernetes RBAC's decision for one request against a Role's rules (the authorizer's
 * algorithm for namespaced requests: a rule matches when its apiGroups, resources, verbs and
 * resourceNames all cover the request; `*` matches everything; a subresource is written
 * `resource/subresource`), plus the request attributes the API server derives from a URL.
 */
import type { IRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";

export interface RequestAttributes {
  readonly verb: string;
  readonly apiGroup: string;
  /** `pods`, or `pods/log` for a subresource. */
  readonly resource: string;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
}

const covers = (list: readonly string[] | undefined, value: string) =>
  (list ?? []).includes("*") || (list ?? []).includes(value);

export function allowedByRole(rules: NonNullable<IRole["rules"]>, req: RequestAttributes): boolean {
  return rules.some(
    (r) =>
      covers(r.apiGroups, req.apiGroup) &&
      covers(r.resources, req.resource) &&
      covers(r.verbs, req.verb) &&
      (r.resourceNames === undefined ||
        r.resourceNames.length === 0 ||
        (req.name !== undefined && r.resourceNames.includes(req.name))),
  );
}

/**
 * The attributes of a resource request (`/api/v1/...`, `/apis/<group>/<version>/...`), or
 * undefined for non-resource URLs (discovery), which RBAC grants through
 * `system:discovery` to every authenticated user.
 */
export function requestAttributes(
  method: string,
  path: string,
  query: URLSearchParams,
): RequestAttributes | undefined {
  const segs = path.split("/").filter(Boolean).map(decodeURIComponent);
  let rest: string[];
  let apiGroup: string;
  if (segs[0] === "api" && segs.length >= 3) {
    apiGroup = "";
    rest = segs.slice(2);
  } else if (segs[0] === "apis" && segs.length >= 4) {
    apiGroup = segs[1]!;
    rest = segs.slice(3);
  } else return undefined;
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource] = rest;
  if (resource === undefined) return undefined;
  const verb =
    method === "GET"
      ? name === undefined
        ? query.get("watch") === "true" || query.get("watch") === "1"
          ? "watch"
          : "list"
        : "get"
      : ((
          { POST: "create", PATCH: "patch", PUT: "update", DELETE: "delete" } as Record<
            string,
            string
          >
        )[method] ?? method.toLowerCase());
  return {
    verb,
    apiGroup,
    resource: subresource === undefined ? resource : `${resource}/${subresource}`,
    namespace,
    name,
  };
}
