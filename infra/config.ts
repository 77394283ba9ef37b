/**
 * The stack configuration: one zod schema (the single source of the shape and defaults),
 * a pure validator that names the offending `yunshi:` key, and a loader that reads Pulumi
 * config. Documented example: Pulumi.dev.yaml; reference: docs/platform.md.
 */
import { closest } from "fastest-levenshtein";
import { z } from "zod";
import { ON_DEMAND_GRACE_SECONDS } from "../jobs/render/pod-template.ts";
import { apiAccessProblems } from "./api-access.ts";
import { defaultGpuAmiAlias, defaultKubernetesVersion } from "./versions.ts";

/** Config namespace = project name in Pulumi.yaml. */
export const CONFIG_NAMESPACE = "yunshi";

/** GPU instance families with at least 16 GiB of GPU memory (see docs/platform.md). The
 * p-families are accepted only for single-node work unless EFA is set up outside this stack:
 * the NodeClass does not attach EFA interfaces, so multi-node NCCL on them falls back to TCP. */
export const GPU_FAMILIES = [
  "g4dn",
  "g5",
  "g6",
  "g6e",
  "p4d",
  "p4de",
  "p5",
  "p5e",
  "p5en",
] as const;

/** Families whose value is their 400-3200 Gbps EFA fabric (multi-node training). */
export const EFA_FAMILIES: ReadonlySet<string> = new Set(["p4d", "p4de", "p5", "p5e", "p5en"]);

/** Namespaces a team must not take over: system and controller namespaces. */
const RESERVED_NAMESPACES = new Set([
  "default",
  "kube-system",
  "kube-public",
  "kube-node-lease",
  "kueue-system",
  "jobset-system",
  "nvidia-device-plugin",
  "karpenter",
]);

const dnsLabel = z
  .string()
  .regex(
    /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/,
    "must be a DNS label: lower-case letters, digits and '-', starting with a letter",
  );

const duration = z
  .string()
  .regex(/^(\d+(s|m|h))+$|^Never$/, "must be a duration such as 30s, 5m, 720h (or Never)");

/** Seconds in a Go-style duration such as 1h30m (Infinity for Never). */
export function durationSeconds(d: string): number {
  if (d === "Never") return Infinity;
  const unit = { s: 1, m: 60, h: 3600 } as const;
  let total = 0;
  for (const m of d.matchAll(/(\d+)([smh])/g))
    total += Number(m[1]) * unit[m[2] as "s" | "m" | "h"];
  return total;
}

const TeamSchema = z
  .object({
    /** Namespace of the team; also its Kueue ClusterQueue name. */
    name: dnsLabel.refine((n) => !RESERVED_NAMESPACES.has(n), {
      message: "is a reserved namespace; choose a team name such as 'vision'",
    }),
    /** Guaranteed (nominal) spot GPUs in Kueue. @default 8 */
    spotGpus: z.number().int().min(0).default(8),
    /** Guaranteed (nominal) on-demand GPUs in Kueue. @default 0 */
    onDemandGpus: z.number().int().min(0).default(0),
    /** Fair-sharing weight when teams borrow idle quota from each other. @default 1 */
    weight: z.number().positive().default(1),
    /**
     * IAM role/user ARNs of the team's members: each gets an EKS access entry in the group
     * bound to the team's Role (submit, status, logs, cancel in this namespace only).
     * @default []
     */
    members: z
      .array(
        z
          .string()
          .regex(/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/.+$/, "must be an IAM role or user ARN"),
      )
      .default([]),
  })
  .strict();

export const StackConfigSchema = z
  .object({
    /** EKS cluster name. @default "yunshi-<stack>" */
    clusterName: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,30}$/, "must be 1-31 lower-case letters, digits or '-'")
      .optional(),
    /** EKS Kubernetes version. @default versions.ts defaultKubernetesVersion */
    kubernetesVersion: z
      .string()
      .regex(/^1\.\d{2}$/, 'must be a minor version such as "1.35" (quote it in YAML)')
      .default(defaultKubernetesVersion),
    /** IPv4 /16 for the VPC. @default "10.0.0.0/16" */
    vpcCidr: z
      .cidrv4()
      .refine((c) => c.endsWith("/16"), "must be a /16 block such as 10.0.0.0/16")
      .default("10.0.0.0/16"),
    /** Availability zones to spread subnets over (2-4). @default 2 */
    availabilityZones: z.number().int().min(2).max(4).default(2),
    /** One NAT gateway for all AZs (cheap) or one per AZ (resilient). @default "single" */
    natGateways: z.enum(["single", "perAz"]).default("single"),
    /**
     * CIDRs allowed to reach the public Kubernetes API endpoint. Required: there is no safe
     * default. "0.0.0.0/0" opens it to the internet and must be written explicitly.
     */
    apiAccessCidrs: z
      .array(z.cidrv4())
      .min(1, 'needs at least one CIDR: your public address, e.g. ["<your-ip>/32"]'),
    /** Allow `0.0.0.0/0` in apiAccessCidrs (the API then relies on IAM alone). @default false */
    allowPublicApiAccess: z.boolean().default(false),
    /** IAM role/user ARNs given cluster-admin access entries. @default [] */
    admins: z
      .array(
        z
          .string()
          .regex(/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/.+$/, "must be an IAM role or user ARN"),
      )
      .default([]),
    /**
     * Create the account-wide EC2 Spot service-linked role (AWSServiceRoleForEC2Spot), which
     * spot launches through the API need. Set true only on an account that has never used
     * Spot: creating it fails when it already exists. @default false
     */
    createSpotServiceLinkedRole: z.boolean().default(false),
    /** Always-on on-demand nodes for controllers (Karpenter, Kueue, CoreDNS). */
    systemNodes: z
      .object({
        /** @default "t3.medium" */
        instanceType: z
          .string()
          .regex(/^[a-z0-9-]+\.[a-z0-9]+$/, "must be an EC2 instance type")
          .default("t3.medium"),
        /** @default 2 */
        count: z.number().int().min(1).max(10).default(2),
      })
      .strict()
      .default({ instanceType: "t3.medium", count: 2 }),
    /** GPU capacity managed by Karpenter (scales from zero). */
    gpu: z
      .object({
        /** @default ["g5", "g6", "g6e"] */
        instanceFamilies: z.array(z.enum(GPU_FAMILIES)).min(1).default(["g5", "g6", "g6e"]),
        /** @default ["spot", "on-demand"] */
        capacityTypes: z
          .array(z.enum(["spot", "on-demand"]))
          .min(1)
          .default(["spot", "on-demand"]),
        /** Accept p4d/p5 families although the stack attaches no EFA. @default false */
        allowWithoutEfa: z.boolean().default(false),
        /** Cost guard: the NodePool never holds more GPUs than this. @default 16 */
        maxGpus: z.number().int().min(1).default(16),
        /** Root volume of GPU nodes (images, datasets). @default 200 */
        rootVolumeGiB: z.number().int().min(50).max(16384).default(200),
        /** How long an empty GPU node lives before Karpenter removes it. @default "5m" */
        consolidateAfter: duration.default("5m"),
        /** Maximum node lifetime (security patching). Expiry is forceful: a busy node then
         * drains for up to terminationGracePeriod. @default "720h" */
        expireAfter: duration.default("720h"),
        /**
         * How long a node being removed (expired, drifted) waits for training pods, which carry
         * `karpenter.sh/do-not-disrupt`. At least the pods' own grace period; the default lets
         * a week-long run finish. @default "168h"
         */
        terminationGracePeriod: duration.default("168h"),
        /** Weekly UTC window in which nodes may drift (e.g. to a new AMI). Absent: never while
         * they run pods (idle nodes are removed anyway). */
        maintenanceWindow: z
          .object({
            day: z.enum(["sun", "mon", "tue", "wed", "thu", "fri", "sat"]),
            startHourUtc: z.number().int().min(0).max(23),
            hours: z.number().int().min(1).max(24),
          })
          .strict()
          .optional(),
        /** Karpenter AMI alias, dated (see versions.ts for the upgrade path).
         * @default versions.ts defaultGpuAmiAlias */
        amiAlias: z
          .string()
          .regex(
            /^(al2023|bottlerocket)@v[0-9.]+$/,
            "must be a dated alias such as al2023@v20260714 (`@latest` drifts every node on each AMI release)",
          )
          .default(defaultGpuAmiAlias),
      })
      .strict()
      .default({
        instanceFamilies: ["g5", "g6", "g6e"],
        capacityTypes: ["spot", "on-demand"],
        allowWithoutEfa: false,
        maxGpus: 16,
        rootVolumeGiB: 200,
        consolidateAfter: "5m",
        expireAfter: "720h",
        terminationGracePeriod: "168h",
        amiAlias: defaultGpuAmiAlias,
      }),
    /** A small pool for CPU-only team work (GPU nodes are tainted; system nodes too). */
    cpu: z
      .object({
        /** @default ["m7i", "m6i", "c7i", "c6i"] */
        instanceFamilies: z
          .array(z.string().regex(/^[a-z][a-z0-9-]*$/, "must be an EC2 instance family"))
          .min(1)
          .default(["m7i", "m6i", "c7i", "c6i"]),
        /** @default ["spot", "on-demand"] */
        capacityTypes: z
          .array(z.enum(["spot", "on-demand"]))
          .min(1)
          .default(["spot", "on-demand"]),
        /** Cost guard: the CPU pool never holds more vCPUs than this. @default 64 */
        maxVcpus: z.number().int().min(2).default(64),
      })
      .strict()
      .default({
        instanceFamilies: ["m7i", "m6i", "c7i", "c6i"],
        capacityTypes: ["spot", "on-demand"],
        maxVcpus: 64,
      }),
    /** Team namespaces. @default [{ name: "ml" }] */
    teams: z
      .array(TeamSchema)
      .min(1)
      .default([{ name: "ml", spotGpus: 8, onDemandGpus: 0, weight: 1, members: [] }]),
    /** Image builds (docker-build). */
    images: z
      .object({
        /**
         * Export a registry build cache (`<repo>:buildcache`). Needs a BuildKit builder that
         * can export caches, e.g. `docker buildx create --name yunshi --driver docker-container`
         * (the default `docker` driver refuses). @default false
         */
        registryCache: z.boolean().default(false),
        /** Buildx builder name for the builds (e.g. "yunshi"). @default the current builder */
        builder: z
          .string()
          .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, "must be a builder name")
          .optional(),
      })
      .strict()
      .default({ registryCache: false }),
    /** Checkpoint bucket lifecycle (checkpoints churn: keep the versioning overhead small). */
    bucket: z
      .object({
        /** Delete overwritten/deleted object versions after N days (the undo window).
         * @default 3 */
        noncurrentVersionDays: z.number().int().min(1).max(365).default(3),
        /** Abort unfinished multipart uploads after N days. @default 1 */
        abortMultipartDays: z.number().int().min(1).max(30).default(1),
      })
      .strict()
      .default({ noncurrentVersionDays: 3, abortMultipartDays: 1 }),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    for (const p of apiAccessProblems(cfg.apiAccessCidrs, cfg.allowPublicApiAccess))
      ctx.addIssue({ code: "custom", path: ["apiAccessCidrs", p.index], message: p.message });
    if (durationSeconds(cfg.gpu.terminationGracePeriod) < ON_DEMAND_GRACE_SECONDS)
      ctx.addIssue({
        code: "custom",
        path: ["gpu", "terminationGracePeriod"],
        message: `must be at least the training pods' grace period (${ON_DEMAND_GRACE_SECONDS}s), or their checkpoint flush is cut short`,
      });
    cfg.gpu.instanceFamilies.forEach((family, i) => {
      if (EFA_FAMILIES.has(family) && !cfg.gpu.allowWithoutEfa)
        ctx.addIssue({
          code: "custom",
          path: ["gpu", "instanceFamilies", i],
          message:
            'is an EFA family, but this stack launches it without EFA (multi-node NCCL would run over TCP at a fraction of the fabric\'s speed); set yunshi:gpu.allowWithoutEfa to true to use it anyway for single-node runs (docs/platform.md, "p4d/p5 and EFA")',
        });
    });
    const seen = new Set<string>();
    cfg.teams.forEach((t, i) => {
      if (seen.has(t.name))
        ctx.addIssue({
          code: "custom",
          path: ["teams", i, "name"],
          message: `duplicate team "${t.name}"`,
        });
      seen.add(t.name);
    });
    // Quota Kueue hands out beyond what Karpenter may launch would admit jobs that then sit
    // Pending forever; keep the two cost guards consistent.
    const nominal = cfg.teams.reduce((n, t) => n + t.spotGpus + t.onDemandGpus, 0);
    if (nominal > cfg.gpu.maxGpus)
      ctx.addIssue({
        code: "custom",
        path: ["gpu", "maxGpus"],
        message: `is ${cfg.gpu.maxGpus} but the teams' guaranteed GPUs add up to ${nominal}; raise gpu.maxGpus or lower teams[].spotGpus/onDemandGpus`,
      });
    for (const [i, t] of cfg.teams.entries()) {
      if (t.onDemandGpus > 0 && !cfg.gpu.capacityTypes.includes("on-demand"))
        ctx.addIssue({
          code: "custom",
          path: ["teams", i, "onDemandGpus"],
          message: 'is set but gpu.capacityTypes does not include "on-demand"',
        });
      if (t.spotGpus > 0 && !cfg.gpu.capacityTypes.includes("spot"))
        ctx.addIssue({
          code: "custom",
          path: ["teams", i, "spotGpus"],
          message: 'is set but gpu.capacityTypes does not include "spot"; set it to 0',
        });
    }
  });

export type StackConfigInput = z.input<typeof StackConfigSchema>;
/** The validated stack configuration plus the values from outside the `yunshi:` namespace. */
export type StackConfig = Omit<z.output<typeof StackConfigSchema>, "clusterName"> & {
  readonly clusterName: string;
  readonly region: string;
  readonly stack: string;
};
export type TeamConfig = StackConfig["teams"][number];

/** Invalid stack configuration; the message lists every problem, one per line. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid stack configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

const TOP_LEVEL_KEYS = Object.keys(StackConfigSchema.shape);

function keyPath(path: readonly PropertyKey[]): string {
  let out = CONFIG_NAMESPACE + ":";
  path.forEach((p, i) => {
    if (typeof p === "number") out += `[${p}]`;
    else out += (i === 0 ? "" : ".") + String(p);
  });
  return out;
}

function describe(issue: z.core.$ZodIssue, raw: unknown): string {
  if (issue.code === "unrecognized_keys") {
    return issue.keys
      .map((k) => {
        const where = keyPath([...issue.path, k]);
        const known = issue.path.length === 0 ? TOP_LEVEL_KEYS : [];
        const hint = known.length > 0 ? ` (did you mean ${keyPath([closest(k, known)])}?)` : "";
        return `${where}: unknown key${hint}`;
      })
      .join("\n  ");
  }
  let got: unknown = raw;
  for (const p of issue.path) got = (got as Record<PropertyKey, unknown> | undefined)?.[p];
  const shown = got === undefined ? "missing" : `got ${JSON.stringify(got)}`;
  return `${keyPath(issue.path)}: ${issue.message} (${shown})`;
}

/**
 * Validate raw config values (keys without the `yunshi:` prefix). Pure: no Pulumi calls.
 * @throws ConfigError naming each bad key, its value and the rule.
 */
export function parseStackConfig(
  raw: Readonly<Record<string, unknown>>,
  context: { readonly region: string | undefined; readonly stack: string },
): StackConfig {
  const problems: string[] = [];
  if (context.region === undefined || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(context.region))
    problems.push(
      `aws:region: must be an AWS region such as us-east-1 (${context.region === undefined ? "missing" : `got ${JSON.stringify(context.region)}`}); run \`pulumi config set aws:region us-east-1\``,
    );
  const parsed = StackConfigSchema.safeParse(raw);
  if (!parsed.success) problems.push(...parsed.error.issues.map((i) => describe(i, raw)));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const clusterName =
    parsed.data.clusterName ?? `yunshi-${context.stack}`.toLowerCase().slice(0, 31);
  return { ...parsed.data, clusterName, region: context.region as string, stack: context.stack };
}

/** Keys whose values are plain strings; everything else is JSON (numbers, lists, objects). */
const STRING_KEYS = new Set(["clusterName", "kubernetesVersion", "vpcCidr", "natGateways"]);

/**
 * Turn Pulumi's flat `namespace:key → string` config into raw values for the schema.
 * Structured values arrive as JSON text (`pulumi config set --path` or YAML objects).
 */
export function rawConfigFrom(all: Readonly<Record<string, string>>): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [fullKey, text] of Object.entries(all)) {
    if (!fullKey.startsWith(CONFIG_NAMESPACE + ":")) continue;
    const key = fullKey.slice(CONFIG_NAMESPACE.length + 1);
    if (STRING_KEYS.has(key)) {
      raw[key] = text;
      continue;
    }
    try {
      raw[key] = JSON.parse(text) as unknown;
    } catch {
      // A bare word for a structured key: let the schema report the type mismatch.
      raw[key] = text;
      if (!TOP_LEVEL_KEYS.includes(key)) continue;
      if (/^[[{]/.test(text.trim()))
        problems.push(`${fullKey}: is not valid JSON/YAML (got ${JSON.stringify(text)})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return raw;
}
