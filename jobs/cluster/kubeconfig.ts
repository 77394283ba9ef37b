/**
 * Loading the user's kubeconfig the way kubectl does (KUBECONFIG, then ~/.kube/config,
 * then in-cluster), with --context, and clear errors when there is none. client-node's
 * loadFromDefault() silently falls back to http://localhost:8080, which would turn "no
 * kubeconfig" into a confusing "connection refused": we check first.
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { ClusterError } from "./errors.ts";

export interface ConnectOptions {
  /** kubeconfig context (`--context`); default: the current context. */
  context?: string | undefined;
  /** Environment to read KUBECONFIG/HOME from (tests pass their own). */
  env?: NodeJS.ProcessEnv;
}

const IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

export function loadKubeConfig(opts: ConnectOptions = {}): KubeConfig {
  const env = opts.env ?? process.env;
  const kc = new KubeConfig();
  const fromEnv = (env.KUBECONFIG ?? "").split(delimiter).filter(Boolean);
  const home = env.HOME ?? homedir();
  const defaultPath = join(home, ".kube", "config");
  try {
    if (fromEnv.length > 0) {
      const missing = fromEnv.filter((f) => !existsSync(f));
      if (missing.length === fromEnv.length)
        throw new ClusterError(
          "no-kubeconfig",
          `No kubeconfig: KUBECONFIG names ${missing.join(", ")}, which does not exist. ` +
            `Point KUBECONFIG at your cluster's config (on EKS: \`aws eks update-kubeconfig --name <cluster> --region <region>\`).`,
        );
      const [first, ...rest] = fromEnv.filter((f) => existsSync(f)) as [string, ...string[]];
      kc.loadFromFile(first);
      for (const f of rest) {
        const more = new KubeConfig();
        more.loadFromFile(f);
        kc.mergeConfig(more);
      }
    } else if (existsSync(defaultPath)) {
      kc.loadFromFile(defaultPath);
    } else if (env.KUBERNETES_SERVICE_HOST && existsSync(IN_CLUSTER_TOKEN)) {
      kc.loadFromCluster();
    } else {
      throw new ClusterError(
        "no-kubeconfig",
        `No kubeconfig found: KUBECONFIG is not set and ${defaultPath} does not exist. ` +
          `Create one for your cluster (on EKS: \`aws eks update-kubeconfig --name <cluster> --region <region>\`), ` +
          `or set KUBECONFIG to its path.`,
      );
    }
  } catch (e) {
    if (e instanceof ClusterError) throw e;
    throw new ClusterError("no-kubeconfig", `Cannot read your kubeconfig: ${(e as Error).message}`);
  }
  const names = kc.getContexts().map((c) => c.name);
  if (opts.context !== undefined) {
    if (!names.includes(opts.context))
      throw new ClusterError(
        "bad-context",
        `No context "${opts.context}" in your kubeconfig. Available: ${names.join(", ") || "(none)"}.`,
      );
    kc.setCurrentContext(opts.context);
  } else if (!kc.getCurrentContext() || !names.includes(kc.getCurrentContext())) {
    throw new ClusterError(
      "bad-context",
      `Your kubeconfig has no current context. Pass --context (one of: ${names.join(", ") || "(none)"}) ` +
        `or run \`kubectl config use-context <name>\`.`,
    );
  }
  if (!kc.getCurrentCluster())
    throw new ClusterError(
      "bad-context",
      `Context "${kc.getCurrentContext()}" names a cluster that is not in your kubeconfig.`,
    );
  return kc;
}

/** The namespace of the current context, if it sets one. */
export function contextNamespace(kc: KubeConfig): string | undefined {
  return kc.getContextObject(kc.getCurrentContext())?.namespace ?? undefined;
}
