/** Reads the stack's Pulumi config and validates it (the only place config is parsed). */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseStackConfig, rawConfigFrom, type StackConfig } from "./config.ts";

/**
 * @throws pulumi.RunError (a clean CLI error without a stack trace) listing every bad key.
 */
export function loadStackConfig(): StackConfig {
  const all = pulumi.runtime.allConfig();
  try {
    return parseStackConfig(rawConfigFrom(all), {
      region: all["aws:region"],
      stack: pulumi.getStack(),
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
}
