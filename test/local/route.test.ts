import { describe, expect, it } from "vitest";
import { routeSubmitLocal } from "../../jobs/commands/local.ts";

describe("routeSubmitLocal", () => {
  it("sends `submit FILE --local` to the local command and leaves the rest alone", () => {
    expect(routeSubmitLocal(["submit", "q.yaml", "--local", "--s3-port", "0"])).toEqual([
      "local",
      "q.yaml",
      "--s3-port",
      "0",
    ]);
    expect(routeSubmitLocal(["--debug", "submit", "--local", "q.yaml"])).toEqual([
      "--debug",
      "local",
      "q.yaml",
    ]);
    expect(routeSubmitLocal(["submit", "q.yaml", "--dry-run"])).toEqual([
      "submit",
      "q.yaml",
      "--dry-run",
    ]);
    // A file that happens to be called "submit" is not the command.
    expect(routeSubmitLocal(["validate", "submit", "--local"])).toEqual([
      "validate",
      "submit",
      "--local",
    ]);
  });
});
