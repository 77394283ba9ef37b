/**
 * The Pod Security Standards' `restricted` profile (Kubernetes ≥ 1.25 definitions, which
 * Pod Security Admission enforces on the team namespaces), as a checker over a pod spec:
 * the baseline controls plus the restricted ones. Returns one line per violation.
 */
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";

const RESTRICTED_VOLUMES = new Set([
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
]);
const SAFE_SYSCTLS = new Set([
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
]);
const SECCOMP_OK = new Set(["RuntimeDefault", "Localhost"]);

export function restrictedViolations(pod: IPodSpec): string[] {
  const out: string[] = [];
  const psc = pod.securityContext ?? {};
  if (pod.hostNetwork === true || pod.hostPID === true || pod.hostIPC === true)
    out.push("host namespaces");
  for (const s of psc.sysctls ?? [])
    if (!SAFE_SYSCTLS.has(s.name)) out.push(`unsafe sysctl ${s.name}`);
  for (const v of pod.volumes ?? []) {
    const types = Object.keys(v).filter((k) => k !== "name");
    for (const t of types) if (!RESTRICTED_VOLUMES.has(t)) out.push(`volume ${v.name}: ${t}`);
  }
  const podSeccomp = psc.seccompProfile?.type;
  if (podSeccomp !== undefined && !SECCOMP_OK.has(podSeccomp))
    out.push(`pod seccomp ${podSeccomp}`);
  if (psc.runAsUser === 0) out.push("pod runAsUser 0");
  const containers: IContainer[] = [...(pod.initContainers ?? []), ...pod.containers];
  for (const c of containers) {
    const sc = c.securityContext ?? {};
    const where = `container ${c.name}`;
    if (sc.privileged === true) out.push(`${where}: privileged`);
    if (sc.allowPrivilegeEscalation !== false)
      out.push(`${where}: allowPrivilegeEscalation must be false`);
    if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) out.push(`${where}: runAsNonRoot`);
    if (sc.runAsUser === 0) out.push(`${where}: runAsUser 0`);
    const seccomp = sc.seccompProfile?.type ?? podSeccomp;
    if (seccomp === undefined || !SECCOMP_OK.has(seccomp)) out.push(`${where}: seccompProfile`);
    if (!(sc.capabilities?.drop ?? []).includes("ALL")) out.push(`${where}: must drop ALL`);
    for (const cap of sc.capabilities?.add ?? [])
      if (cap !== "NET_BIND_SERVICE") out.push(`${where}: adds ${cap}`);
    for (const p of c.ports ?? [])
      if (p.hostPort !== undefined && p.hostPort !== 0) out.push(`${where}: hostPort`);
    if (sc.procMount !== undefined && sc.procMount !== "Default") out.push(`${where}: procMount`);
    if (sc.seLinuxOptions?.user !== undefined || sc.seLinuxOptions?.role !== undefined)
      out.push(`${where}: seLinux user/role`);
  }
  return out;
}
