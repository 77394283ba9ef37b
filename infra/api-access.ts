/**
 * Which CIDRs may reach the public Kubernetes API endpoint. A first `pulumi up` with a CIDR
 * that no operator's traffic comes from builds the cluster and then times out on every
 * Kubernetes step (Helm, CRDs, queues), so refuse such CIDRs before anything is created:
 * - the RFC 5737 documentation ranges (the example stack's placeholder 203.0.113.0/24);
 * - private and other non-internet ranges (the public endpoint never sees them; in-VPC
 *   clients use the private endpoint);
 * - the whole internet, unless `yunshi:allowPublicApiAccess` is set.
 * Pure.
 */

interface Range {
  readonly cidr: string;
  readonly why: string;
}

const DOCUMENTATION: readonly Range[] = [
  { cidr: "192.0.2.0/24", why: "a documentation range (RFC 5737, TEST-NET-1)" },
  { cidr: "198.51.100.0/24", why: "a documentation range (RFC 5737, TEST-NET-2)" },
  { cidr: "203.0.113.0/24", why: "a documentation range (RFC 5737, TEST-NET-3)" },
];

const NOT_ON_THE_INTERNET: readonly Range[] = [
  { cidr: "10.0.0.0/8", why: "a private range (RFC 1918)" },
  { cidr: "172.16.0.0/12", why: "a private range (RFC 1918)" },
  { cidr: "192.168.0.0/16", why: "a private range (RFC 1918)" },
  { cidr: "100.64.0.0/10", why: "carrier-grade NAT space (RFC 6598)" },
  { cidr: "127.0.0.0/8", why: "loopback" },
  { cidr: "169.254.0.0/16", why: "link-local" },
  { cidr: "198.18.0.0/15", why: "a benchmarking range (RFC 2544)" },
];

function parse(cidr: string): { base: number; bits: number } {
  const [ip = "", bitsText = "32"] = cidr.split("/");
  const base = ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
  return { base, bits: Number(bitsText) };
}

function overlaps(a: string, b: string): boolean {
  const x = parse(a);
  const y = parse(b);
  const bits = Math.min(x.bits, y.bits);
  const size = 2 ** (32 - bits);
  return Math.floor(x.base / size) === Math.floor(y.base / size);
}

const FIX =
  "set it to the public address your operators reach AWS from, e.g. " +
  "`pulumi config set --path 'yunshi:apiAccessCidrs[0]' \"$(curl -s https://checkip.amazonaws.com)/32\"`";

/** Problems with `apiAccessCidrs`, one message per bad entry; empty when all are usable. */
export function apiAccessProblems(
  cidrs: readonly string[],
  allowPublicApiAccess: boolean,
): { index: number; message: string }[] {
  const problems: { index: number; message: string }[] = [];
  cidrs.forEach((cidr, index) => {
    if (parse(cidr).bits === 0) {
      if (!allowPublicApiAccess)
        problems.push({
          index,
          message:
            `opens the Kubernetes API endpoint to the whole internet; ${FIX}, ` +
            "or set yunshi:allowPublicApiAccess to true if you really mean it",
        });
      return;
    }
    const bad = [...DOCUMENTATION, ...NOT_ON_THE_INTERNET].find((r) => overlaps(cidr, r.cidr));
    if (bad !== undefined)
      problems.push({
        index,
        message: `overlaps ${bad.cidr}, ${bad.why}: no request to the public endpoint comes from it; ${FIX}`,
      });
  });
  return problems;
}
