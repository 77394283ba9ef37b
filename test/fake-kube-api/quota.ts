/** ResourceQuota object counts, enforced on create as the quota admission plugin does. */
import { isObject, str } from "./apply.ts";
import type { Route } from "./http.ts";
import type { ResourceType } from "./resources.ts";
import { qualifiedResource } from "./resources.ts";
import type { StatusBody } from "./status.ts";
import { failure } from "./status.ts";
import type { Store } from "./store.ts";
import { meta } from "./store.ts";

/** ResourceQuota object counts (`count/jobs.batch`, `configmaps`, `services`, `pods`). */
export function quotaExceeded(
  store: Store,
  quotaType: ResourceType,
  r: Route,
  name: string,
): StatusBody | undefined {
  if (r.namespace === undefined) return undefined;
  const keys = [
    `count/${qualifiedResource(r.type)}`,
    ...(r.type.group === "" ? [r.type.plural] : []),
  ];
  for (const q of store.list(quotaType, r.namespace)) {
    const hard = isObject(q.object.spec) && isObject(q.object.spec.hard) ? q.object.spec.hard : {};
    for (const k of keys) {
      if (hard[k] === undefined) continue;
      const limit = Number(hard[k]);
      const used = store.list(r.type, r.namespace).length;
      if (used + 1 > limit)
        return failure(
          403,
          "Forbidden",
          `${qualifiedResource(r.type)} "${name}" is forbidden: exceeded quota: ${str(meta(q.object).name)}, requested: ${k}=1, used: ${k}=${used}, limited: ${k}=${limit}`,
          {
            name,
            group: r.type.group,
            kind: r.type.plural,
          },
        );
    }
  }
  return undefined;
}
