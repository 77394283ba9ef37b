/** What the API server checks in a body before it stores it: type, name, schema, immutable fields. */
import type { JsonObject } from "./apply.ts";
import { isObject, str } from "./apply.ts";
import type { ResourceType, ValidationCause } from "./resources.ts";
import { apiVersionOf } from "./resources.ts";
import type { StatusBody } from "./status.ts";
import { failure } from "./status.ts";
import type { StoredObject } from "./store.ts";
import { meta } from "./store.ts";

export function checkTypeMeta(type: ResourceType, obj: JsonObject): StatusBody | undefined {
  if (obj.apiVersion !== apiVersionOf(type) || obj.kind !== type.kind)
    return failure(
      400,
      "BadRequest",
      `the API version in the data (${str(obj.apiVersion)}) does not match the expected API version (${apiVersionOf(type)}) or kind (${str(obj.kind)}) does not match ${type.kind}`,
    );
  const name = meta(obj).name;
  if (typeof name !== "string" || name === "")
    return invalid(type, "", [
      { field: "metadata.name", message: "Required value: name or generateName is required" },
    ]);
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253)
    return invalid(type, name, [
      {
        field: "metadata.name",
        message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`,
      },
    ]);
  return undefined;
}

export function validateBody(type: ResourceType, obj: JsonObject): StatusBody | undefined {
  const causes: ValidationCause[] = type.validate ? type.validate(obj) : [];
  if (type.kind === "Job") causes.push(...jobRules(obj));
  return causes.length > 0 ? invalid(type, str(meta(obj).name), causes) : undefined;
}

export function immutableChanges(
  type: ResourceType,
  name: string,
  stored: StoredObject,
  next: JsonObject,
): StatusBody | undefined {
  const prevSpec = isObject(stored.object.spec) ? stored.object.spec : {};
  const nextSpec = isObject(next.spec) ? next.spec : {};
  const causes = (type.immutable ?? [])
    .filter((f) => JSON.stringify(prevSpec[f] ?? null) !== JSON.stringify(nextSpec[f] ?? null))
    .map((f) => ({ field: `spec.${f}`, message: "Invalid value: field is immutable" }));
  return causes.length > 0 ? invalid(type, name, causes) : undefined;
}

/** Rules of batch/v1 Job validation beyond the OpenAPI schema that yunshi's Jobs rely on. */
function jobRules(job: JsonObject): ValidationCause[] {
  const spec = isObject(job.spec) ? job.spec : {};
  const tmpl = isObject(spec.template) && isObject(spec.template.spec) ? spec.template.spec : {};
  const causes: ValidationCause[] = [];
  const rp = tmpl.restartPolicy;
  if (rp !== "Never" && rp !== "OnFailure")
    causes.push({
      field: "spec.template.spec.restartPolicy",
      message: `Required value: valid values: "OnFailure", "Never"`,
    });
  if (spec.podFailurePolicy !== undefined && rp !== "Never")
    causes.push({
      field: "spec.podFailurePolicy",
      message: "Invalid value: only allowed when spec.template.spec.restartPolicy is Never",
    });
  if (spec.completionMode === "Indexed" && typeof spec.completions !== "number")
    causes.push({
      field: "spec.completions",
      message: "Required value: when completion mode is Indexed",
    });
  return causes;
}

export function invalid(t: ResourceType, name: string, causes: ValidationCause[]): StatusBody {
  const kind = t.group === "" ? t.kind : `${t.kind}.${t.group}`;
  return failure(
    422,
    "Invalid",
    `${kind} "${name}" is invalid: ${causes.length > 1 ? "[" : ""}${causes.map((c) => `${c.field}: ${c.message}`).join(", ")}${causes.length > 1 ? "]" : ""}`,
    {
      name,
      group: t.group,
      kind: t.kind,
      causes: causes.map((c) => ({
        reason: "FieldValueInvalid",
        message: c.message,
        field: c.field,
      })),
    },
  );
}
