/** The discovery documents client-node reads to resolve kinds to URL paths. */
import type { ResourceType } from "./resources.ts";

/** Discovery documents; `null` = a known discovery path whose group is not installed. */
export function discoveryDocument(
  segs: readonly string[],
  installed: readonly ResourceType[],
): unknown {
  const resourceList = (group: string, version: string) => ({
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group === "" ? version : `${group}/${version}`,
    resources: installed
      .filter((t) => t.group === group && t.version === version)
      .flatMap((t) => [
        {
          name: t.plural,
          singularName: t.singular,
          namespaced: t.namespaced,
          kind: t.kind,
          verbs: [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
          ],
        },
        ...(t.kind === "Pod"
          ? [
              {
                name: "pods/log",
                singularName: "",
                namespaced: true,
                kind: "Pod",
                verbs: ["get"],
              },
            ]
          : []),
      ]),
  });
  const groups = [
    ...new Set(installed.filter((t) => t.group !== "").map((t) => `${t.group}/${t.version}`)),
  ].map((gv) => {
    const [group, version] = gv.split("/") as [string, string];
    const v = { groupVersion: gv, version };
    return { name: group, versions: [v], preferredVersion: v };
  });
  if (segs.length === 1 && segs[0] === "api")
    return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] };
  if (segs.length === 2 && segs[0] === "api" && segs[1] === "v1") return resourceList("", "v1");
  if (segs.length === 1 && segs[0] === "apis")
    return { kind: "APIGroupList", apiVersion: "v1", groups };
  if (segs.length === 2 && segs[0] === "apis") {
    const g = groups.find((x) => x.name === segs[1]);
    return g ? { kind: "APIGroup", apiVersion: "v1", ...g } : null;
  }
  if (segs.length === 3 && segs[0] === "apis") {
    const has = installed.some((t) => t.group === segs[1] && t.version === segs[2]);
    return has ? resourceList(segs[1] as string, segs[2] as string) : null;
  }
  return undefined;
}
