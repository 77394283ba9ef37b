/**
 * Signs ranged GetObject requests exactly as the SDK would send them, without sending
 * them: a range worker (range-worker.ts) sends them and writes the body. The SDK still
 * decides everything about the request (endpoint rules, virtual-host or path style, SigV4
 * with the current, refreshed credentials), so the workers need no credentials and no SDK.
 *
 * How: a second S3Client whose request handler, instead of sending, rejects with the
 * finished request (RequestCaptured). The SDK does not retry an error it does not know, so
 * each call's rejection carries exactly its own request.
 */
import { GetObjectCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import type { SignedGet } from "./range-protocol.ts";

/** The parts of the SDK's HttpRequest that make up the wire request. */
interface FinishedRequest {
  readonly protocol: string;
  readonly hostname: string;
  readonly port?: number;
  readonly path: string;
  readonly query?: Readonly<Record<string, string | readonly string[] | null>>;
  readonly headers: Readonly<Record<string, string>>;
}

// The query string as the SDK's node handler writes it (@smithy/core buildQueryString):
// sorted keys, RFC 3986 escaping, `key` alone for a null value.
const escapeUri = (s: string): string =>
  encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );

function queryString(query: FinishedRequest["query"]): string {
  if (query === undefined) return "";
  const parts: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const value = query[key];
    const k = escapeUri(key);
    if (Array.isArray(value)) for (const v of value as string[]) parts.push(`${k}=${escapeUri(v)}`);
    else if (typeof value === "string") parts.push(`${k}=${escapeUri(value)}`);
    else parts.push(k);
  }
  return parts.join("&");
}

export type GetSigner = (bucket: string, key: string, range: string) => Promise<SignedGet>;

/** Not an error: how the finished request leaves the SDK without being sent. */
class RequestCaptured extends Error {
  constructor(readonly request: FinishedRequest) {
    super("request captured for a range worker (not sent)");
  }
}

export function createGetSigner(config: S3ClientConfig): GetSigner {
  const client = new S3Client({
    ...config,
    requestHandler: {
      handle(request: FinishedRequest) {
        return Promise.reject(new RequestCaptured(request));
      },
      updateHttpClientConfig() {},
      httpHandlerConfigs() {
        return {};
      },
    },
  });
  return async (bucket, key, range) => {
    let finished: FinishedRequest;
    try {
      await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
      throw new Error(`signing GetObject ${key}: the SDK answered without a request`);
    } catch (err) {
      if (!(err instanceof RequestCaptured)) throw err;
      finished = err.request;
    }
    const query = queryString(finished.query);
    return {
      protocol: finished.protocol === "https:" ? "https:" : "http:",
      // An IPv6 literal comes bracketed, as in a URL; the socket wants it bare.
      hostname: finished.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: finished.port,
      path: query === "" ? finished.path : `${finished.path}?${query}`,
      headers: { ...finished.headers },
    };
  };
}
