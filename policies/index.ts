/**
 * The yunshi CrossGuard policy pack: `pulumi preview --policy-pack policies`.
 * The Pulumi CLI loads the compiled policies/dist/index.cjs (policies/package.json `main`;
 * build with `node scripts/build-policy-pack.js`), not this file. Each policy lives in its
 * own file and is unit-tested through its validate function (test/policies/); constructing
 * the pack starts the policy gRPC server, so only the policy host runs this.
 */
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./pack-policies.ts";

new PolicyPack("yunshi-guardrails", { enforcementLevel: "mandatory", policies });
