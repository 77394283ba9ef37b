/**
 * A real Kubernetes control plane on 127.0.0.1 for the cluster tests, started the way Kueue's
 * and JobSet's own integration tests start theirs (envtest: real etcd and kube-apiserver, CRDs
 * from the modules, webhooks served by local processes through `clientConfig.url`), plus the
 * real kube-controller-manager (Job, garbage collector, taint eviction, quota), kube-scheduler,
 * the JobSet and Kueue managers, and kwok for GPU nodes (the NVIDIA/knavigator way).
 *
 * - TLS everywhere and RBAC: one CA (pki.ts); static tokens for admin, the controllers and two
 *   users: `alice` in the team group the platform's RoleBinding names, `mallory` in none.
 * - The platform objects are infra/platform-objects' pure functions, the very objects
 *   `pulumi up` applies; Kueue runs with infra's manager Configuration.
 * - kwok nodes carry Karpenter's labels (capacity type, GPU memory/name/count), the GPU taint
 *   and `nvidia.com/gpu` capacity; pod stages are in kwok-config.ts.
 * The JobSet and Kueue managers run as cluster-admin here (their chart RBAC is not applied).
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { kueueManagerConfig } from "../../infra/kueue.ts";
import { kueueObjects } from "../../infra/platform-objects/kueue-objects.ts";
import type { TeamQuota } from "../../infra/platform-objects/kueue-objects.ts";
import {
  CAPACITY_TYPE_LABEL,
  GPU_PRESENT_LABEL,
  GPU_TAINT,
  NODEPOOL_LABEL,
} from "../../infra/platform-objects/node-labels.ts";
import { platformLimits } from "../../infra/platform-objects/platform-limits.ts";
import { teamGroup, teamObjectList } from "../../infra/platform-objects/team-objects.ts";
import { AdminClient } from "./admin-client.ts";
import type { Obj } from "./admin-client.ts";
import { kwokConfigYaml } from "./kwok-config.ts";
import { makePki } from "./pki.ts";
import type { Pki } from "./pki.ts";
import { freePort, probeOnce, startProcess, stopProcess, waitFor } from "./processes.ts";
import type { Proc } from "./processes.ts";

export type User = "admin" | "alice" | "mallory";

export interface GpuNode {
  name: string;
  capacityType: "spot" | "on-demand";
  instanceType: string;
  gpus: number;
  cpu: number;
  memoryGiB: number;
  /** Per-GPU MiB as EC2 reports it (Karpenter's `karpenter.k8s.aws/instance-gpu-memory`). */
  gpuMemoryMiB: number;
  gpuName: string;
}

export interface ControlPlaneOptions {
  binDir: string;
  assetsDir: string;
  /** Team namespaces with their quota (the platform's `teams`). */
  teams: TeamQuota[];
  nodes: GpuNode[];
  bucket: string;
  /** Overrides of infra's Kueue Configuration (e.g. a short waitForPodsReady timeout). */
  kueueConfig?: (cfg: Record<string, unknown>) => Record<string, unknown>;
  /** Keep the run directory (logs) after stop. */
  keep?: boolean;
  /** An S3-compatible endpoint for the platform ConfigMap (an embedded S3 server). */
  s3Endpoint?: string;
}

export interface ControlPlane {
  dir: string;
  server: string;
  admin: AdminClient;
  /** A kubeconfig file for a user, with the context's namespace when given. */
  kubeconfig(user: User, namespace?: string): string;
  /** Container name → CRI log file kwok serves for every pod of the team namespaces. */
  logFiles: Record<string, string>;
  /** The API server's audit log (JSON lines): writes to Jobs, JobSets, ConfigMaps, Services. */
  auditLog: string;
  /** Milliseconds per start-up step, and in total. */
  timings: Record<string, number>;
  stop(): Promise<void>;
}

const TOKENS: Record<User | "kcm" | "scheduler", { token: string; user: string; groups: string }> =
  {
    admin: { token: "admin-token", user: "admin", groups: "system:masters" },
    kcm: { token: "kcm-token", user: "system:kube-controller-manager", groups: "" },
    scheduler: { token: "scheduler-token", user: "system:kube-scheduler", groups: "" },
    alice: { token: "alice-token", user: "alice", groups: "" },
    mallory: { token: "mallory-token", user: "mallory", groups: "" },
  };

/** Only the controllers the tests need: no cloud, IPAM, volume or certificate controllers. */
const KCM_CONTROLLERS = [
  "serviceaccount-token-controller",
  "serviceaccount-controller",
  "root-ca-certificate-publisher-controller",
  "namespace-controller",
  "garbage-collector-controller",
  "job-controller",
  "ttl-after-finished-controller",
  "pod-garbage-collector-controller",
  "resourcequota-controller",
  "disruption-controller",
  "endpoints-controller",
  "endpointslice-controller",
  // Type-checks ValidatingAdmissionPolicies against the schemas (status.typeChecking).
  "validatingadmissionpolicy-status-controller",
  // Keeps kwok nodes Ready (leases) and turns node taints into evictions.
  "node-lifecycle-controller",
  "taint-eviction-controller",
];

/** Kueue's webhooks for the integrations the platform enables (Job, JobSet) and its own kinds;
 * the others would reject unrelated objects with failurePolicy Fail and no server behind them. */
const KUEUE_WEBHOOK_PATH =
  /^\/(mutate|validate)-(batch-v1-job|jobset-x-k8s-io-.+|kueue-x-k8s-io-.+)$/;

/** Metadata of every write to the objects a run consists of. */
const AUDIT_POLICY = {
  apiVersion: "audit.k8s.io/v1",
  kind: "Policy",
  omitStages: ["RequestReceived"],
  rules: [
    {
      level: "Metadata",
      verbs: ["create", "patch", "update", "delete"],
      resources: [
        { group: "batch", resources: ["jobs"] },
        { group: "jobset.x-k8s.io", resources: ["jobsets"] },
        { group: "", resources: ["configmaps", "services"] },
      ],
    },
    { level: "None" },
  ],
};

const KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node";

function kubeconfigYaml(server: string, ca: string, token: string, namespace?: string): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "yunshi-test", cluster: { server, "certificate-authority": ca } }],
    users: [{ name: "user", user: { token } }],
    contexts: [
      {
        name: "yunshi-test",
        context: { cluster: "yunshi-test", user: "user", ...(namespace ? { namespace } : {}) },
      },
    ],
    "current-context": "yunshi-test",
  });
}

const readYamlDocs = (file: string): Obj[] =>
  parseAllDocuments(readFileSync(file, "utf8"))
    .map((d) => d.toJS() as Obj | null)
    .filter((d): d is Obj => d !== null);

/** Point each webhook at the local manager and trust our CA, as envtest does. */
function localWebhooks(file: string, prefix: string, port: number, pki: Pki, keep: RegExp): Obj[] {
  const caBundle = readFileSync(pki.caCert).toString("base64");
  return readYamlDocs(file).map((cfg) => {
    type Hook = {
      name: string;
      clientConfig: { service?: { path?: string }; url?: string; caBundle?: string };
      objectSelector?: unknown;
    };
    const hooks = (cfg.webhooks as Hook[]).filter((h) =>
      keep.test(h.clientConfig.service?.path ?? ""),
    );
    for (const h of hooks) {
      const path = h.clientConfig.service?.path ?? "";
      h.clientConfig = { url: `https://127.0.0.1:${port}${path}`, caBundle };
      // JobSet's kustomize patch: its pod webhooks only see pods of JobSets.
      if (prefix === "jobset" && /--v1-pod$/.test(path))
        h.objectSelector = {
          matchExpressions: [{ key: "jobset.sigs.k8s.io/jobset-name", operator: "Exists" }],
        };
    }
    return { ...cfg, metadata: { name: `${prefix}-${cfg.metadata.name}` }, webhooks: hooks };
  });
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const mark = (step: string, since: number) => (timings[step] = Date.now() - since);
  const dir = mkdtempSync(join(tmpdir(), "yunshi-control-plane-"));
  const procs: Proc[] = [];
  const bin = (b: string) => join(opts.binDir, b);
  const file = (f: string, content: string) => {
    writeFileSync(join(dir, f), content);
    return join(dir, f);
  };
  const stop = async () => {
    for (const p of [...procs].reverse()) await stopProcess(p);
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  };

  try {
    let t = Date.now();
    const pki = makePki(dir);
    // alice is a team member: in the group each team's RoleBinding names (infra's teamGroup).
    const groups = (u: keyof typeof TOKENS) =>
      u === "alice" ? opts.teams.map((tq) => teamGroup(tq.name)).join(",") : TOKENS[u].groups;
    const tokens = file(
      "tokens.csv",
      (Object.keys(TOKENS) as (keyof typeof TOKENS)[])
        .map((u) => `${TOKENS[u].token},${TOKENS[u].user},${TOKENS[u].user},"${groups(u)}"`)
        .join("\n") + "\n",
    );
    mark("pki", t);

    const [
      etcdPort,
      etcdPeer,
      apiPort,
      kwokPort,
      jobsetHook,
      kueueHook,
      jobsetHealth,
      kueueHealth,
    ] = (await Promise.all(Array.from({ length: 8 }, () => freePort()))) as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const server = `https://127.0.0.1:${apiPort}`;
    const admin = new AdminClient(server, pki.caCert, TOKENS.admin.token);
    const kubeconfigFor = (u: keyof typeof TOKENS, namespace?: string) =>
      file(
        `${u}${namespace ? `-${namespace}` : ""}.kubeconfig`,
        kubeconfigYaml(server, pki.caCert, TOKENS[u].token, namespace),
      );

    t = Date.now();
    const etcd = startProcess(
      "etcd",
      bin("etcd"),
      [
        "--name=default",
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
        // A test cluster: speed over durability.
        "--unsafe-no-fsync",
        "--log-level=warn",
      ],
      join(dir, "etcd.log"),
    );
    procs.push(etcd);
    const apiserver = startProcess(
      "kube-apiserver",
      bin("kube-apiserver"),
      [
        `--etcd-servers=http://127.0.0.1:${etcdPort}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${apiPort}`,
        `--cert-dir=${join(dir, "apiserver")}`,
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        `--client-ca-file=${pki.caCert}`,
        `--token-auth-file=${tokens}`,
        "--authorization-mode=RBAC",
        // As on EKS (the device plugin's pods are privileged): the guards against privileged
        // training pods are the platform's, Pod Security and the admission policy.
        "--allow-privileged=true",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${pki.saPub}`,
        `--service-account-signing-key-file=${pki.saKey}`,
        "--service-cluster-ip-range=10.96.0.0/16",
        // As on EKS.
        "--enable-admission-plugins=ExtendedResourceToleration",
        // Logs come from kwok's kubelet API, whose certificate our CA signed.
        `--kubelet-certificate-authority=${pki.caCert}`,
        "--kubelet-preferred-address-types=InternalIP",
        "--profiling=false",
        // The audit log shows what the CLI sent, in order (dry runs included).
        `--audit-policy-file=${file("audit-policy.yaml", stringify(AUDIT_POLICY))}`,
        `--audit-log-path=${join(dir, "audit.log")}`,
      ],
      join(dir, "kube-apiserver.log"),
    );
    procs.push(apiserver);
    await waitFor(
      "the API server's /readyz",
      () => probeOnce({ url: `${server}/readyz`, ca: pki.caCert, token: TOKENS.admin.token }),
      { proc: apiserver, timeoutMs: 60_000 },
    );
    mark("etcd+apiserver", t);

    t = Date.now();
    const assets = opts.assetsDir;
    const crdFiles = ["jobset", "kueue"].flatMap((d) =>
      readdirYaml(join(assets, d)).filter((f) => !f.endsWith("webhooks.yaml")),
    );
    const crds = crdFiles.flatMap(readYamlDocs);
    for (const crd of crds) await admin.apply(crd);
    await waitFor(
      "CRDs Established",
      async () => {
        for (const crd of crds) {
          const got = await admin.get(crd.apiVersion, crd.kind, undefined, crd.metadata.name);
          const conds =
            (got?.status as { conditions?: { type: string; status: string }[] })?.conditions ?? [];
          if (!conds.some((c) => c.type === "Established" && c.status === "True")) return false;
        }
        return true;
      },
      { timeoutMs: 30_000 },
    );
    for (const ns of ["kueue-system", "jobset-system"])
      await admin.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    mark("crds", t);

    t = Date.now();
    const adminKubeconfig = kubeconfigFor("admin");
    procs.push(
      startProcess(
        "kube-controller-manager",
        bin("kube-controller-manager"),
        [
          `--kubeconfig=${kubeconfigFor("kcm")}`,
          "--use-service-account-credentials=true",
          `--service-account-private-key-file=${pki.saKey}`,
          `--root-ca-file=${pki.caCert}`,
          `--controllers=${KCM_CONTROLLERS.join(",")}`,
          "--leader-elect=false",
          "--bind-address=127.0.0.1",
          `--secure-port=${await freePort()}`,
          // Terminated pods of finished Jobs stay (the Job's TTL removes them), as on EKS.
          "--concurrent-job-syncs=5",
        ],
        join(dir, "kube-controller-manager.log"),
      ),
    );
    procs.push(
      startProcess(
        "kube-scheduler",
        bin("kube-scheduler"),
        [
          `--kubeconfig=${kubeconfigFor("scheduler")}`,
          "--leader-elect=false",
          "--bind-address=127.0.0.1",
          `--secure-port=${await freePort()}`,
        ],
        join(dir, "kube-scheduler.log"),
      ),
    );

    const logFiles = {
      trainer: file("trainer.log", ""),
      // Empty: status reads the last line; none means prepare is done (Training).
      prepare: file("prepare.log", ""),
      snapshot: file("snapshot.log", ""),
    };
    const kwokConfig = file(
      "kwok.yaml",
      kwokConfigYaml({
        nodeStagesDir: join(assets, "kwok"),
        namespaces: opts.teams.map((tq) => tq.name),
        logFiles,
      }),
    );
    const kwok = startProcess(
      "kwok",
      bin("kwok"),
      [
        `--kubeconfig=${adminKubeconfig}`,
        `--config=${kwokConfig}`,
        `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
        "--node-ip=127.0.0.1",
        `--node-port=${kwokPort}`,
        `--server-address=127.0.0.1:${kwokPort}`,
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        "--cidr=10.244.0.1/16",
        "--node-lease-duration-seconds=40",
      ],
      join(dir, "kwok.log"),
    );
    procs.push(kwok);

    // Webhook serving certificates, in the file names controller-runtime reads.
    const certDir = join(dir, "webhook-certs");
    mkdirSync(certDir);
    writeFileSync(join(certDir, "tls.crt"), readFileSync(pki.servingCert));
    writeFileSync(join(certDir, "tls.key"), readFileSync(pki.servingKey));
    const jobset = startProcess(
      "jobset",
      bin("jobset"),
      [
        `--kubeconfig=${adminKubeconfig}`,
        `--config=${file(
          "jobset-config.yaml",
          stringify({
            apiVersion: "config.jobset.x-k8s.io/v1alpha1",
            kind: "Configuration",
            leaderElection: { leaderElect: false },
            internalCertManagement: { enable: false },
            webhook: { port: jobsetHook, host: "127.0.0.1", certDir },
            metrics: { bindAddress: "0" },
            health: { healthProbeBindAddress: `127.0.0.1:${jobsetHealth}` },
          }),
        )}`,
      ],
      join(dir, "jobset.log"),
    );
    procs.push(jobset);

    // Kueue v0.19 reads its metrics certificate from a fixed path when it manages no certs.
    const metricsCerts = "/etc/kueue/metrics/certs";
    mkdirSync(metricsCerts, { recursive: true });
    for (const f of ["tls.crt", "tls.key"])
      if (!existsSync(join(metricsCerts, f)))
        writeFileSync(join(metricsCerts, f), readFileSync(join(certDir, f)));
    const baseKueue = kueueManagerConfig();
    const kueueCfg = {
      ...baseKueue,
      namespace: "kueue-system",
      leaderElection: { leaderElect: false },
      internalCertManagement: { enable: false },
      webhook: { port: kueueHook, host: "127.0.0.1", certDir },
      metrics: { bindAddress: "0" },
      health: { healthProbeBindAddress: `127.0.0.1:${kueueHealth}` },
    };
    const kueue = startProcess(
      "kueue",
      bin("kueue"),
      [
        `--kubeconfig=${adminKubeconfig}`,
        `--config=${file("kueue-config.yaml", stringify(opts.kueueConfig ? opts.kueueConfig(kueueCfg) : kueueCfg))}`,
        "--feature-gates=VisibilityOnDemand=false",
      ],
      join(dir, "kueue.log"),
    );
    procs.push(kueue);
    await Promise.all([
      waitFor(
        "JobSet's /readyz",
        () => probeOnce({ url: `http://127.0.0.1:${jobsetHealth}/readyz` }),
        {
          proc: jobset,
          timeoutMs: 60_000,
        },
      ),
      waitFor(
        "Kueue's /readyz",
        () => probeOnce({ url: `http://127.0.0.1:${kueueHealth}/readyz` }),
        {
          proc: kueue,
          timeoutMs: 60_000,
        },
      ),
    ]);
    mark("controllers", t);

    t = Date.now();
    // Register JobSet's webhooks before any JobSet exists: its controller expects defaulted objects.
    for (const w of [
      ...localWebhooks(join(assets, "jobset", "webhooks.yaml"), "jobset", jobsetHook, pki, /./),
      ...localWebhooks(
        join(assets, "kueue", "webhooks.yaml"),
        "kueue",
        kueueHook,
        pki,
        KUEUE_WEBHOOK_PATH,
      ),
    ])
      await admin.apply(w);
    mark("webhooks", t);

    t = Date.now();
    // The platform: exactly what `pulumi up` applies (team objects before the queues).
    const capacityTypes = [...new Set(opts.nodes.map((n) => n.capacityType))];
    for (const team of opts.teams)
      for (const o of teamObjectList({
        namespace: team.name,
        maxGpus: team.spotGpus + team.onDemandGpus,
        // The limits `pulumi up` writes, from the same function: these nodes' families.
        limits: platformLimits({
          team: team.name,
          teams: opts.teams,
          capacityTypes,
          instanceFamilies: [
            ...new Set(
              opts.nodes
                .filter((n) => "gpus" in n && n.gpus > 0)
                .map((n) => n.instanceType.split(".")[0]!),
            ),
          ],
          maxGpus: team.spotGpus + team.onDemandGpus,
        }),
        ...(opts.s3Endpoint === undefined ? {} : { s3Endpoint: opts.s3Endpoint }),
        bucket: opts.bucket,
        region: "us-west-2",
        trainerImage: "123456789012.dkr.ecr.us-west-2.amazonaws.com/yunshi/trainer:0.1.0",
        checkpointAgentImage:
          "123456789012.dkr.ecr.us-west-2.amazonaws.com/yunshi/checkpoint-agent:0.1.0",
      }))
        await admin.apply(o);
    for (const o of kueueObjects({ capacityTypes, teams: opts.teams })) await admin.apply(o);
    mark("platform", t);

    t = Date.now();
    for (const n of opts.nodes) await addGpuNode(admin, n);
    await waitFor(
      "kwok GPU nodes Ready",
      async () => {
        const nodes = await admin.list("v1", "Node");
        return opts.nodes.every((want) => {
          const n = nodes.find((x) => x.metadata.name === want.name);
          const st = n?.status as
            | {
                conditions?: { type: string; status: string }[];
                allocatable?: Record<string, string>;
              }
            | undefined;
          return (
            st?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true &&
            st.allocatable?.["nvidia.com/gpu"] === String(want.gpus) &&
            !(n?.spec as { taints?: { key: string }[] } | undefined)?.taints?.some((x) =>
              x.key.startsWith("node.kubernetes.io/"),
            )
          );
        });
      },
      { proc: kwok, timeoutMs: 60_000 },
    );
    mark("nodes", t);
    timings.total = Date.now() - t0;

    const kubeconfigs = new Map<string, string>();
    return {
      dir,
      server,
      admin,
      logFiles,
      auditLog: join(dir, "audit.log"),
      timings,
      stop,
      kubeconfig: (user, namespace) => {
        const key = `${user}/${namespace ?? ""}`;
        const found = kubeconfigs.get(key);
        if (found) return found;
        const path = kubeconfigFor(user, namespace);
        kubeconfigs.set(key, path);
        return path;
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

function readdirYaml(d: string): string[] {
  return existsSync(d)
    ? readdirSync(d)
        .sort()
        .filter((f) => f.endsWith(".yaml"))
        .map((f) => join(d, f))
    : [];
}

/** A kwok node shaped like a Karpenter-launched GPU node. */
async function addGpuNode(admin: AdminClient, n: GpuNode): Promise<void> {
  await admin.apply({
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: n.name,
      annotations: { [KWOK_NODE_ANNOTATION]: "fake", "node.alpha.kubernetes.io/ttl": "0" },
      labels: {
        "kubernetes.io/hostname": n.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": n.instanceType,
        "topology.kubernetes.io/zone": "us-west-2a",
        [CAPACITY_TYPE_LABEL]: n.capacityType,
        [NODEPOOL_LABEL]: "gpu",
        "karpenter.k8s.aws/instance-gpu-memory": String(n.gpuMemoryMiB),
        "karpenter.k8s.aws/instance-gpu-name": n.gpuName,
        "karpenter.k8s.aws/instance-gpu-count": String(n.gpus),
        [GPU_PRESENT_LABEL.key]: GPU_PRESENT_LABEL.value,
        type: "kwok",
      },
    },
    spec: { taints: [{ ...GPU_TAINT }] },
  });
  const capacity = {
    cpu: String(n.cpu),
    memory: `${n.memoryGiB}Gi`,
    pods: "110",
    "nvidia.com/gpu": String(n.gpus),
    "ephemeral-storage": "500Gi",
  };
  await admin.mergePatch(
    "v1",
    "Node",
    undefined,
    n.name,
    { status: { capacity, allocatable: capacity } },
    "status",
  );
}
