import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "test/**/*.test.ts",
      "jobs/**/*.test.ts",
      "infra/**/*.test.ts",
      "images/**/*.test.ts",
      "policies/**/*.test.ts",
    ],
    exclude: ["**/node_modules/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
