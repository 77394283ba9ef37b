/**
 * The policy pack as the Pulumi CLI loads it: the CLI's Node policy host
 * (@pulumi/pulumi/cmd/run-policy-pack) runs in the pack folder and `require()`s it with plain
 * Node: no TypeScript loader, CommonJS, `main` from policies/package.json, and PolicyPack
 * reads the version from that package.json. Then it serves the Analyzer gRPC service and
 * prints its port. This test does exactly that and asks the served pack for its policies.
 * It also checks that the committed bundle is what the sources compile to.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { afterAll, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { policies } from "../../policies/pack-policies.ts";
import { bundlePolicyPack, POLICY_PACK_BUNDLE } from "../../scripts/build-policy-pack.js";

const require = createRequire(import.meta.url);
interface AnalyzerInfo {
  getName(): string;
  getPoliciesList(): { getName(): string; getEnforcementlevel(): number }[];
}
interface AnalyzerClient {
  getAnalyzerInfo(req: unknown, cb: (err: Error | null, res: AnalyzerInfo) => void): void;
  close(): void;
}
const grpc = require("@grpc/grpc-js") as {
  credentials: { createInsecure(): unknown };
};
const services = require("@pulumi/pulumi/proto/analyzer_grpc_pb.js") as {
  AnalyzerClient: new (address: string, creds: unknown) => AnalyzerClient;
};
const empty = require("google-protobuf/google/protobuf/empty_pb.js") as {
  Empty: new () => unknown;
};

let host: ChildProcess | undefined;
afterAll(() => {
  host?.kill();
});

/** Start the CLI's policy host on the pack folder; resolves with the port it prints. */
function startPolicyHost(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [require.resolve("@pulumi/pulumi/cmd/run-policy-pack/index.js"), "127.0.0.1:1", "."],
      { cwd: "policies", stdio: ["ignore", "pipe", "pipe"] },
    );
    host = child;
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      const port = Number(d.toString().trim().split("\n")[0]);
      if (Number.isInteger(port) && port > 0) resolve(port);
    });
    child.on("exit", (code) =>
      reject(new Error(`policy host exited with ${String(code)} before serving:\n${stderr}`)),
    );
  });
}

it("is the compiled JavaScript of the current sources", async () => {
  expect(
    readFileSync(POLICY_PACK_BUNDLE, "utf8") === (await bundlePolicyPack()),
    "policies/dist/index.cjs is stale: run `node scripts/build-policy-pack.js` and commit it",
  ).toBe(true);
});

it("loads in the CLI's policy host and serves every policy", async () => {
  const port = await startPolicyHost();
  const client = new services.AnalyzerClient(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  );
  const info = await new Promise<AnalyzerInfo>((resolve, reject) =>
    client.getAnalyzerInfo(new empty.Empty(), (err, res) => (err ? reject(err) : resolve(res))),
  );
  client.close();
  expect(info.getName()).toBe("yunshi-guardrails");
  expect(
    info
      .getPoliciesList()
      .map((p) => p.getName())
      .sort(),
  ).toEqual(policies.map((p) => p.name).sort());
}, 30_000);
