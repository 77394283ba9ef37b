/**
 * One strict grammar for the `s3://` URIs a spec may hold (dataset.uri, model.pretrained).
 * They reach the checkpoint agent's argv and name what it downloads, so a URI must say
 * exactly one place: a valid bucket name, a key without `.`/`..` segments (which S3 keeps
 * literally but a local join would resolve), without empty segments, whitespace, control
 * characters or backslashes.
 */
import { bucketNameProblem } from "./identifiers.ts";

export interface S3Location {
  readonly bucket: string;
  /** The key or prefix after the bucket, without the leading '/' ('' for the whole bucket). */
  readonly key: string;
}

export type S3UriResult =
  | { readonly ok: true; readonly location: S3Location }
  | { readonly ok: false; readonly problem: string };

/** S3 keys are at most 1024 bytes of UTF-8. */
const MAX_KEY_BYTES = 1024;

export function parseS3Uri(uri: string): S3UriResult {
  const fail = (problem: string): S3UriResult => ({ ok: false, problem });
  if (!uri.startsWith("s3://")) return fail("an S3 URI starts with s3://");
  const rest = uri.slice("s3://".length);
  const slash = rest.indexOf("/");
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const key = slash === -1 ? "" : rest.slice(slash + 1);
  const bucketProblem = bucketNameProblem(bucket);
  if (bucketProblem !== undefined)
    return fail(`bucket ${JSON.stringify(bucket)}: ${bucketProblem}`);
  // Whitespace (including U+2028/U+0085 and other separators), C0/C1 controls, DEL.
  if (/[\s\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(key))
    return fail("no spaces, line breaks or control characters in the key");
  if (key.includes("\\")) return fail("no backslashes in the key (use '/')");
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES)
    return fail(`an S3 key is at most ${MAX_KEY_BYTES} bytes`);
  const segments = key === "" ? [] : key.split("/");
  // A trailing '/' (a prefix) leaves one empty last segment; any other empty one is '//'.
  const inner = key.endsWith("/") ? segments.slice(0, -1) : segments;
  if (inner.some((s) => s === "")) return fail("no empty path segments ('//')");
  if (inner.some((s) => s === "." || s === ".."))
    return fail("no '.' or '..' path segments: name the object or prefix itself");
  return { ok: true, location: { bucket, key } };
}
