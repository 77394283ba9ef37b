/**
 * Builds the arguments CrossGuard passes to validate functions, so each policy is tested by
 * calling it directly (the PolicyPack itself starts a gRPC server and is not constructed).
 */
import type {
  PolicyResource,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationPolicy,
} from "@pulumi/policy";

class NotApplicable extends Error {}

const opts = (protect = false) => ({
  protect,
  ignoreChanges: [],
  aliases: [],
  customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
  additionalSecretOutputs: [],
});

const typeChecksUnsupported = (): never => {
  throw new Error("policies under test must filter by type string, not isType/asType");
};

export async function validateResource(
  policy: ResourceValidationPolicy,
  type: string,
  props: Record<string, unknown>,
  config: Record<string, unknown> = {},
): Promise<string[]> {
  const violations: string[] = [];
  const args: ResourceValidationArgs = {
    type,
    props,
    urn: `urn:pulumi:dev::yunshi::${type}::r`,
    name: "r",
    opts: opts(),
    stackTags: new Map(),
    isType: typeChecksUnsupported,
    asType: typeChecksUnsupported,
    getConfig: <T extends object>() => config as T,
    notApplicable: (reason?: string) => {
      throw new NotApplicable(reason);
    },
  };
  const fns = policy.validateResource === undefined ? [] : [policy.validateResource].flat();
  for (const fn of fns) {
    try {
      await fn(args, (message) => violations.push(message));
    } catch (err) {
      if (!(err instanceof NotApplicable)) throw err;
    }
  }
  return violations;
}

export interface FakeResource {
  type: string;
  name: string;
  props: Record<string, unknown>;
  protect?: boolean;
  /** property → names of resources it depends on */
  dependsOn?: Record<string, string[]>;
}

export async function validateStack(
  policy: StackValidationPolicy,
  fakes: FakeResource[],
): Promise<{ message: string; urn: string | undefined }[]> {
  const urn = (f: FakeResource) => `urn:pulumi:dev::yunshi::${f.type}::${f.name}`;
  const resources: PolicyResource[] = fakes.map((f) => ({
    type: f.type,
    name: f.name,
    urn: urn(f),
    props: f.props,
    opts: opts(f.protect ?? false),
    dependencies: [],
    propertyDependencies: {},
    isType: typeChecksUnsupported,
    asType: typeChecksUnsupported,
  }));
  fakes.forEach((f, i) => {
    for (const [prop, names] of Object.entries(f.dependsOn ?? {}))
      resources[i]!.propertyDependencies[prop] = names.map((n) => {
        const dep = resources.find((r) => r.name === n);
        if (dep === undefined) throw new Error(`fake ${f.name} depends on unknown ${n}`);
        return dep;
      });
  });
  const violations: { message: string; urn: string | undefined }[] = [];
  await policy.validateStack(
    {
      resources,
      stackTags: new Map(),
      getConfig: <T extends object>() => ({}) as T,
      notApplicable: (reason?: string) => {
        throw new NotApplicable(reason);
      },
    },
    (message, u) => violations.push({ message, urn: u }),
  );
  return violations;
}
