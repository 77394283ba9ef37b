import { chmodSync, mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { contextFiles, contextHash } from "../../infra/context-hash.ts";

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

it("hashes exactly what Docker sends: files excluded by .dockerignore do not count", () => {
  const ignore = "node_modules\n**/__pycache__/\n*.test.ts\n!keep.test.ts\ntests/\n";
  const base = { Dockerfile: "FROM scratch\n", ".dockerignore": ignore, "src/a.ts": "1" };
  const h = contextHash(context(base));
  const excluded = {
    ...base,
    "node_modules/x/index.js": "1",
    "src/__pycache__/a.pyc": "x",
    "a.test.ts": "t",
    "tests/test_x.py": "t",
  };
  expect(contextHash(context(excluded))).toBe(h);
  expect(contextFiles(context(excluded))).toEqual([".dockerignore", "Dockerfile", "src/a.ts"]);
  // An exception re-includes a file, so it counts again; so does a file nothing excludes.
  expect(contextHash(context({ ...base, "keep.test.ts": "k" }))).not.toBe(h);
  expect(contextHash(context({ ...base, "dist/x.js": "1" }))).not.toBe(h);
  // Docker anchors patterns at the context root: `*.test.ts` does not reach into src/.
  expect(contextHash(context({ ...base, "src/a.test.ts": "t" }))).not.toBe(h);
});

it("counts files a naive walk would skip when .dockerignore does not exclude them", () => {
  // Without a .dockerignore Docker sends node_modules too, so it must change the tag.
  const base = { Dockerfile: "FROM scratch\n" };
  expect(contextHash(context({ ...base, "node_modules/x/index.js": "1" }))).not.toBe(
    contextHash(context(base)),
  );
});

it("changes when the .dockerignore changes (it is sent too) or a file becomes executable", () => {
  const base = { Dockerfile: "FROM scratch\n", ".dockerignore": "tests/\n", "run.sh": "echo\n" };
  const dir = context(base);
  const h = contextHash(dir);
  expect(contextHash(context({ ...base, ".dockerignore": "tests/\ndocs/\n" }))).not.toBe(h);
  chmodSync(join(dir, "run.sh"), 0o755);
  expect(contextHash(dir)).not.toBe(h);
});

it("hashes the real image contexts without their ignored caches", () => {
  const files = contextFiles("images/trainer");
  expect(files).toContain("Dockerfile");
  expect(files.filter((f) => f.includes("__pycache__") || f.startsWith("tests/"))).toEqual([]);
  expect(contextFiles("images/checkpoint-agent").filter((f) => f.includes("node_modules"))).toEqual(
    [],
  );
});

it("names a missing build context", () => {
  expect(() => contextHash("/nonexistent/images/trainer")).toThrow(
    /\/nonexistent\/images\/trainer does not exist/,
  );
});
