/** HTTP plumbing of the fake: routes, verbs, bodies, responses. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseYaml } from "yaml";
import type { JsonObject } from "./apply.ts";
import type { ResourceType } from "./resources.ts";
import type { StatusBody } from "./status.ts";

export interface Route {
  type: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

export function verbOf(method: string, r: Route, q: URLSearchParams): string {
  switch (method) {
    case "GET":
      if (r.name !== undefined) return "get";
      return q.get("watch") === "true" || q.get("watch") === "1" ? "watch" : "list";
    case "POST":
      return "create";
    case "PATCH":
      return "patch";
    case "PUT":
      return "update";
    case "DELETE":
      return "delete";
    default:
      return method.toLowerCase();
  }
}

export function omitTypeMeta(o: JsonObject): JsonObject {
  const { apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export function parseBody(body: string, as: "json" | "yaml"): unknown {
  if (as === "json") {
    try {
      return JSON.parse(body) as unknown;
    } catch {
      return undefined;
    }
  }
  return parseYaml(body) as unknown;
}

export function send(res: ServerResponse, status: StatusBody): void {
  sendJson(res, status.code, status);
}

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}
