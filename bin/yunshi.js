#!/usr/bin/env node
// `npx yunshi`: runs the TypeScript CLI through tsx's loader (no build step to forget).
import { register } from "tsx/esm/api";

register();
await import("../jobs/cli.ts");
