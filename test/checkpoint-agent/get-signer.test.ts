/**
 * get-signer.ts: the ranged GETs the range workers send are the SDK's own requests (endpoint
 * rules, addressing style, SigV4), captured without being sent. That s3rver accepts them is
 * proven by every restore test (it checks signatures); here, the shapes for AWS itself.
 */
import { expect, it } from "vitest";
import { createGetSigner } from "../../images/checkpoint-agent/src/get-signer.ts";

const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };

it("signs a virtual-hosted HTTPS GET for AWS with the range, escaping the key like the SDK", async () => {
  const sign = createGetSigner({ region: "eu-west-1", credentials });
  const got = await sign("my-bucket", "team/exp 1/epoch_1+a.pth", "bytes=0-99");
  expect(got).toMatchObject({
    protocol: "https:",
    hostname: "my-bucket.s3.eu-west-1.amazonaws.com",
    path: "/team/exp%201/epoch_1%2Ba.pth?x-id=GetObject",
  });
  expect(got.headers["range"]).toBe("bytes=0-99");
  expect(got.headers["authorization"]).toMatch(
    /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request, SignedHeaders=[a-z0-9;-]*\brange\b[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
  );
});

it("signs a path-style GET for a custom endpoint, port and IPv6 literal included", async () => {
  const sign = createGetSigner({
    region: "us-east-1",
    endpoint: "http://[::1]:9000",
    forcePathStyle: true,
    credentials,
  });
  const got = await sign("b", "k.pth", "bytes=5-9");
  expect(got).toMatchObject({
    protocol: "http:",
    hostname: "::1",
    port: 9000,
    path: "/b/k.pth?x-id=GetObject",
  });
  expect(got.headers["host"]).toBe("[::1]:9000");
});

it("signs concurrent calls each with its own range", async () => {
  const sign = createGetSigner({ region: "us-east-1", credentials });
  const ranges = Array.from({ length: 20 }, (_, i) => `bytes=${i * 10}-${i * 10 + 9}`);
  const got = await Promise.all(ranges.map((r) => sign("b", "k", r)));
  expect(got.map((g) => g.headers["range"])).toEqual(ranges);
});
