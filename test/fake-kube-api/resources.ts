/**
 * The resources the fake API server serves, as the real discovery documents describe
 * them. Core types are validated against the Kubernetes OpenAPI schema through the
 * `kubernetes-models` classes; CRD kinds exist only when their "chart" is installed.
 */
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Pod } from "kubernetes-models/v1/Pod";
import { ResourceQuota } from "kubernetes-models/v1/ResourceQuota";
import { Service } from "kubernetes-models/v1/Service";
import { Event } from "kubernetes-models/v1/Event";
import { Job } from "kubernetes-models/batch/v1/Job";

export interface ValidationCause {
  field: string;
  message: string;
}

export interface ResourceType {
  /** "" for the core group. */
  group: string;
  version: string;
  kind: string;
  /** Plural, lower case: the URL segment. */
  plural: string;
  singular: string;
  namespaced: boolean;
  /** Which optional install provides it; core types are always there. */
  crd?: "jobset" | "kueue";
  /** Schema validation of a whole object; returns the failures (empty when valid). */
  validate?: (obj: Record<string, unknown>) => ValidationCause[];
  /** Paths under `spec` that may not change after creation, as the real validation says. */
  immutable?: readonly string[];
}

type ModelCtor = new (data: never) => { validate(): void };

/** Run a kubernetes-models class's ajv validator and turn its errors into Status causes. */
function schemaValidator(ctor: ModelCtor): (obj: Record<string, unknown>) => ValidationCause[] {
  return (obj) => {
    try {
      new ctor(obj as never).validate();
      return [];
    } catch (e) {
      const errors = (e as { errors?: { instancePath?: string; message?: string }[] }).errors;
      if (!Array.isArray(errors)) return [{ field: "", message: String(e) }];
      return errors.map((err) => ({
        field: (err.instancePath ?? "").replace(/^\//, "").replaceAll("/", "."),
        message: err.message ?? "invalid",
      }));
    }
  };
}

export const RESOURCE_TYPES: readonly ResourceType[] = [
  {
    group: "",
    version: "v1",
    kind: "Namespace",
    plural: "namespaces",
    singular: "namespace",
    namespaced: false,
    validate: schemaValidator(Namespace),
  },
  {
    group: "",
    version: "v1",
    kind: "ConfigMap",
    plural: "configmaps",
    singular: "configmap",
    namespaced: true,
    validate: schemaValidator(ConfigMap),
  },
  {
    group: "",
    version: "v1",
    kind: "Service",
    plural: "services",
    singular: "service",
    namespaced: true,
    validate: schemaValidator(Service),
    immutable: ["clusterIP"],
  },
  {
    group: "",
    version: "v1",
    kind: "Pod",
    plural: "pods",
    singular: "pod",
    namespaced: true,
    validate: schemaValidator(Pod),
    immutable: ["containers", "initContainers"],
  },
  {
    group: "",
    version: "v1",
    kind: "Event",
    plural: "events",
    singular: "event",
    namespaced: true,
    validate: schemaValidator(Event),
  },
  {
    group: "",
    version: "v1",
    kind: "ResourceQuota",
    plural: "resourcequotas",
    singular: "resourcequota",
    namespaced: true,
    validate: schemaValidator(ResourceQuota),
  },
  // Job: selector, template and completionMode are immutable (batch/v1 validation).
  {
    group: "batch",
    version: "v1",
    kind: "Job",
    plural: "jobs",
    singular: "job",
    namespaced: true,
    validate: schemaValidator(Job),
    immutable: ["selector", "template", "completionMode"],
  },
  {
    group: "jobset.x-k8s.io",
    version: "v1alpha2",
    kind: "JobSet",
    plural: "jobsets",
    singular: "jobset",
    namespaced: true,
    crd: "jobset",
    immutable: ["replicatedJobs"],
  },
  {
    group: "kueue.x-k8s.io",
    version: "v1beta2",
    kind: "Workload",
    plural: "workloads",
    singular: "workload",
    namespaced: true,
    crd: "kueue",
  },
  {
    group: "kueue.x-k8s.io",
    version: "v1beta2",
    kind: "LocalQueue",
    plural: "localqueues",
    singular: "localqueue",
    namespaced: true,
    crd: "kueue",
  },
  {
    group: "kueue.x-k8s.io",
    version: "v1beta2",
    kind: "ClusterQueue",
    plural: "clusterqueues",
    singular: "clusterqueue",
    namespaced: false,
    crd: "kueue",
  },
];

export const apiVersionOf = (t: Pick<ResourceType, "group" | "version">): string =>
  t.group === "" ? t.version : `${t.group}/${t.version}`;

/** `jobs.batch`, `configmaps`: how the real server names a resource in messages. */
export const qualifiedResource = (t: Pick<ResourceType, "group" | "plural">): string =>
  t.group === "" ? t.plural : `${t.plural}.${t.group}`;
