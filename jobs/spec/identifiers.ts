/**
 * Names that end up in Kubernetes objects, AWS calls and image pulls: DNS-1123 labels and
 * subdomains, S3 bucket names, AWS regions and container image references. One set of
 * rules for the spec, the command-line flags and the cluster's `yunshi-platform` ConfigMap,
 * so that nothing renders an object the API server (or S3, or the kubelet) would refuse.
 *
 * Each check returns `undefined` when the value is fine, else the rule it breaks, phrased
 * so that it completes "<field> <value>: ...".
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** RFC 1123 label as Kubernetes checks it (namespaces, Kueue queues): ≤ 63 characters. */
export function dnsLabelProblem(value: string, max = 63): string | undefined {
  if (value.length === 0) return "must not be empty";
  if (value.length > max) return `at most ${max} characters, got ${value.length}`;
  if (!DNS_LABEL.test(value))
    return "lower-case letters, digits and '-', starting and ending with a letter or digit (DNS-1123 label)";
  return undefined;
}

/** RFC 1123 subdomain (ServiceAccount names): dot-separated labels, ≤ 253 characters. */
export function dnsSubdomainProblem(value: string): string | undefined {
  if (value.length === 0) return "must not be empty";
  if (value.length > 253) return `at most 253 characters, got ${value.length}`;
  if (!value.split(".").every((part) => part.length > 0 && DNS_LABEL.test(part)))
    return "lower-case letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit (DNS-1123 subdomain)";
  return undefined;
}

/**
 * Amazon S3 general-purpose bucket naming rules
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
 */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return `3 to 63 characters, got ${name.length}`;
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name))
    return "lower-case letters, digits, '.' and '-', starting and ending with a letter or digit (S3 bucket naming rules)";
  if (name.includes("..")) return "no two adjacent periods (S3 bucket naming rules)";
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return "must not look like an IP address";
  const prefix = ["xn--", "sthree-", "amzn-s3-demo-"].find((p) => name.startsWith(p));
  if (prefix !== undefined) return `must not start with the reserved prefix ${prefix}`;
  const suffix = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].find((s) =>
    name.endsWith(s),
  );
  if (suffix !== undefined) return `must not end with the reserved suffix ${suffix}`;
  return undefined;
}

/** AWS region codes: us-west-2, eu-central-1, ap-southeast-4, us-gov-west-1, cn-north-1. */
export function regionProblem(region: string): string | undefined {
  return /^[a-z]{2}(-[a-z]+){1,2}-\d{1,2}$/.test(region)
    ? undefined
    : "an AWS region such as us-west-2";
}

// The reference grammar of distribution/reference (what containerd and the kubelet parse).
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const TAG = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const IMAGE_REFERENCE = new RegExp(
  `^(?:(${DOMAIN})/)?(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`,
);

/** A container image reference such as registry.example.com:5000/team/trainer:1.2@sha256:<64 hex>. */
export function imageReferenceProblem(ref: string): string | undefined {
  const m = IMAGE_REFERENCE.exec(ref);
  if (m === null)
    return "an image reference such as registry/repository:tag or registry/repository@sha256:<64 hex digits>";
  const name = (m[1] === undefined ? "" : `${m[1]}/`) + (m[2] ?? "");
  if (name.length > 255) return `the repository name is at most 255 characters, got ${name.length}`;
  if (m[4]?.startsWith("sha256:") === true && m[4].length !== "sha256:".length + 64)
    return "a sha256 digest has exactly 64 hex digits";
  return undefined;
}
