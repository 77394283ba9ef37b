/**
 * https:// URLs a spec may hold (model.pretrained → MMEngine's `load_from`), parsed with
 * WHATWG `URL`. The URL must already be in the form `URL` writes it (`href`): then what
 * the user wrote, what yunshi checked and what MMEngine downloads are the same string —
 * `URL` would otherwise silently drop tabs and line breaks, lower-case the host or resolve
 * `..` segments.
 */

export interface UrlProblem {
  readonly problem: string;
  readonly fix?: string;
  /** The value holds a secret: messages must not repeat it. */
  readonly secret?: boolean;
}

export function httpsUrlProblem(value: string): UrlProblem | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return {
      problem: "not a URL",
      fix: "write an https:// URL such as https://host/path/model.pth",
    };
  }
  if (url.protocol !== "https:")
    return {
      problem: `scheme ${url.protocol.replace(/:$/, "")} is not https`,
      fix: "use https://",
    };
  if (url.username !== "" || url.password !== "")
    return {
      problem: "credentials in the URL would be written into the config and the objects",
      fix: "serve the file without credentials, or upload it to S3 and use an s3:// URI",
      secret: true,
    };
  if (url.hostname === "") return { problem: "no host" };
  if (url.href !== value)
    return {
      problem: "not in canonical form (URL would rewrite it)",
      fix: `write it as ${JSON.stringify(url.href)}`,
    };
  return undefined;
}
