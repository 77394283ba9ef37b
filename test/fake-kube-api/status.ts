/** `Status` bodies exactly as the API server returns them for failures. */

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
  type?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
  uid?: string;
}

export interface StatusBody {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

export function failure(
  code: number,
  reason: string,
  message: string,
  details?: StatusDetails,
): StatusBody {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details === undefined ? {} : { details }),
    code,
  };
}

export function success(details: StatusDetails): StatusBody {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details, code: 200 };
}

export const notFound = (resource: string, group: string, name: string): StatusBody =>
  failure(404, "NotFound", `${resource}${group ? "." + group : ""} "${name}" not found`, {
    name,
    ...(group ? { group } : {}),
    kind: resource,
  });

/** What the real server says for a URL it has no handler for (e.g. a CRD not installed). */
export const noSuchResource = (): StatusBody =>
  failure(404, "NotFound", "the server could not find the requested resource", {});
