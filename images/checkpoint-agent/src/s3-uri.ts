import { InputError } from "./errors.ts";

/** A parsed `s3://bucket/prefix` URI. `prefix` is "" or ends with "/" unless `exact`. */
export interface S3Location {
  readonly bucket: string;
  /** Key prefix; for `exact` locations the whole object key. */
  readonly prefix: string;
  /** The URI did not end with "/": it may name one object (used by fetch). */
  readonly exact: boolean;
}

// S3 bucket naming rules (general purpose buckets): 3–63 chars, lowercase letters, digits,
// dots and hyphens, starting and ending with a letter or digit.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Parse the `--uri` flag. `field` names the flag in error messages. Keys may hold almost
 * anything, but control characters and `.`/`..` path segments are refused because the
 * keys map back to local paths on restore and fetch.
 */
export function parseS3Uri(value: string, field = "--uri"): S3Location {
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(value);
  if (!m) {
    throw new InputError(
      `${field}: ${JSON.stringify(value)} is not an S3 URI. Use s3://BUCKET/PREFIX/, e.g. s3://my-bucket/team-a/exp-1/`,
    );
  }
  const bucket = m[1] ?? "";
  const rest = m[2] ?? "";
  if (!BUCKET.test(bucket) || bucket.includes("..")) {
    throw new InputError(
      `${field}: bucket ${JSON.stringify(bucket)} in ${JSON.stringify(value)} is not a valid S3 bucket name (3–63 lowercase letters, digits, '.' or '-')`,
    );
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(rest)) {
    throw new InputError(`${field}: ${JSON.stringify(value)} contains control characters`);
  }
  const segments = rest.split("/");
  const inner = rest.endsWith("/") ? segments.slice(0, -1) : segments;
  if (rest !== "" && inner.some((s) => s === "" || s === "." || s === "..")) {
    throw new InputError(
      `${field}: ${JSON.stringify(value)} has an empty, '.' or '..' path segment; write the prefix as s3://${bucket}/a/b/`,
    );
  }
  const exact = rest !== "" && !rest.endsWith("/");
  return { bucket, prefix: rest, exact };
}

/** The location as a prefix (adds the trailing "/" to an exact one). */
export function asPrefix(loc: S3Location): S3Location {
  if (!loc.exact) return loc;
  return { bucket: loc.bucket, prefix: `${loc.prefix}/`, exact: false };
}

export function formatUri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}
