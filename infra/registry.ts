/**
 * ECR repositories (scan on push, immutable tags except the build cache tag) and the two
 * images built from images/ with @pulumi/docker-build, cached in the registry. Their `ref`
 * outputs (tag@digest) go into every team's platform ConfigMap.
 */
import * as aws from "@pulumi/aws";
import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { contextHash } from "./context-hash.ts";

/** The images the platform builds; each has `images/<name>/Dockerfile` with context `images/<name>`. */
export const IMAGE_NAMES = ["trainer", "checkpoint-agent"] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];
/** The only mutable tag: buildkit's registry cache is rewritten on every build. */
export const CACHE_TAG = "buildcache";

export interface RegistryArgs {
  clusterName: string;
  /** Folder holding images/<name>/ (the project root). @default "." */
  root?: string;
}

export function lifecyclePolicy(): string {
  return JSON.stringify({
    rules: [
      {
        rulePriority: 1,
        description: "Expire untagged images (superseded cache layers) after 14 days",
        selection: {
          tagStatus: "untagged",
          countType: "sinceImagePushed",
          countUnit: "days",
          countNumber: 14,
        },
        action: { type: "expire" },
      },
    ],
  });
}

export class Registry extends pulumi.ComponentResource {
  /** `repository:tag@sha256:...` per image. */
  readonly refs: Record<ImageName, pulumi.Output<string>>;
  readonly repositoryUrls: Record<ImageName, pulumi.Output<string>>;

  constructor(name: string, args: RegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("yunshi:infra:Registry", name, {}, opts);
    const root = args.root ?? ".";
    const refs: Partial<Record<ImageName, pulumi.Output<string>>> = {};
    const urls: Partial<Record<ImageName, pulumi.Output<string>>> = {};
    for (const image of IMAGE_NAMES) {
      const repo = new aws.ecr.Repository(
        `${name}-${image}`,
        {
          name: `${args.clusterName}/${image}`,
          imageTagMutability: "IMMUTABLE_WITH_EXCLUSION",
          imageTagMutabilityExclusionFilters: [{ filter: CACHE_TAG, filterType: "WILDCARD" }],
          imageScanningConfiguration: { scanOnPush: true },
          encryptionConfigurations: [{ encryptionType: "AES256" }],
          forceDelete: false,
          tags: { "yunshi/cluster": args.clusterName },
        },
        { parent: this },
      );
      new aws.ecr.LifecyclePolicy(
        `${name}-${image}`,
        { repository: repo.name, policy: lifecyclePolicy() },
        { parent: this },
      );
      const auth = aws.ecr.getAuthorizationTokenOutput(
        { registryId: repo.registryId },
        { parent: this },
      );
      const contextDir = `${root}/images/${image}`;
      const tag = contextHash(contextDir);
      const built = new dockerBuild.Image(
        `${name}-${image}`,
        {
          push: true,
          context: { location: contextDir },
          dockerfile: { location: `${contextDir}/Dockerfile` },
          platforms: ["linux/amd64"],
          tags: [pulumi.interpolate`${repo.repositoryUrl}:${tag}`],
          registries: [
            {
              address: repo.repositoryUrl.apply((u) => u.split("/")[0] ?? u),
              username: auth.userName,
              password: pulumi.secret(auth.password),
            },
          ],
          cacheFrom: [
            { registry: { ref: pulumi.interpolate`${repo.repositoryUrl}:${CACHE_TAG}` } },
          ],
          cacheTo: [
            {
              registry: {
                ref: pulumi.interpolate`${repo.repositoryUrl}:${CACHE_TAG}`,
                mode: "max",
                imageManifest: true,
                ociMediaTypes: true,
              },
            },
          ],
          // Previews must not need a Docker engine.
          buildOnPreview: false,
        },
        { parent: this },
      );
      refs[image] = built.ref;
      urls[image] = repo.repositoryUrl;
    }
    this.refs = refs as Record<ImageName, pulumi.Output<string>>;
    this.repositoryUrls = urls as Record<ImageName, pulumi.Output<string>>;
    this.registerOutputs({ refs: this.refs });
  }
}
