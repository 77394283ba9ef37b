import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { contextHash } from "../../infra/context-hash.ts";

function context(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "yunshi-ctx-"));
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
  return dir;
}

it("is stable for the same content and changes with content, names and new files", () => {
  const base = { Dockerfile: "FROM scratch\n", "src/a.py": "print(1)\n" };
  const h = contextHash(context(base));
  expect(h).toMatch(/^[0-9a-f]{12}$/);
  expect(contextHash(context(base))).toBe(h);
  expect(contextHash(context({ ...base, "src/a.py": "print(2)\n" }))).not.toBe(h);
  expect(contextHash(context({ Dockerfile: "FROM scratch\n", "src/b.py": "print(1)\n" }))).not.toBe(
    h,
  );
  expect(contextHash(context({ ...base, "src/c.py": "" }))).not.toBe(h);
});

it("ignores caches that never belong in an image", () => {
  const base = { Dockerfile: "FROM scratch\n" };
  expect(
    contextHash(context({ ...base, "node_modules/x/index.js": "1", "__pycache__/a.pyc": "x" })),
  ).toBe(contextHash(context(base)));
});

it("names a missing build context", () => {
  expect(() => contextHash("/nonexistent/images/trainer")).toThrow(
    /\/nonexistent\/images\/trainer does not exist/,
  );
});
