/**
 * ECR repositories (scan on push, immutable tags except the build cache tag) and the two
 * images built from images/ with @pulumi/docker-build. Their refs (tag@digest) go into every
 * team's platform ConfigMap.
 *
 * Tags are content hashes of exactly what the build context sends (context-hash.ts), and
 * ECR tags are immutable: pushing an existing tag again fails. Docker-build rebuilds whenever
 * any input changes, and the ECR password input changes every 12 hours, so an unchanged
 * image would be pushed again. When the tag is already in the repository the image is not
 * pushed, and its ref is the repository's digest for that tag.
 *
 * Exporting a registry build cache needs a BuildKit builder that can export caches (the
 * default `docker` driver refuses unless the containerd image store is on): it is opt-in
 * (`yunshi:images.registryCache`), with a `docker-container` builder named in
 * `yunshi:images.builder` (docs/platform.md, "Images").
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
  /** Export a registry build cache (needs a builder that supports it). @default false */
  registryCache?: boolean;
  /** Buildx builder to use, e.g. a `docker-container` one. @default the current builder */
  builder?: string | undefined;
}

/** The digest already pushed under `tag`, if any. */
export function existingDigest(
  images: readonly { imageTag?: string; imageDigest?: string }[],
  tag: string,
): string | undefined {
  return images.find((i) => i.imageTag === tag)?.imageDigest;
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
      const cacheRef = pulumi.interpolate`${repo.repositoryUrl}:${CACHE_TAG}`;
      const pushed = aws.ecr
        .getImagesOutput({ repositoryName: repo.name }, { parent: this })
        .apply((r) => existingDigest(r.imageIds, tag));
      const built = new dockerBuild.Image(
        `${name}-${image}`,
        {
          // Same content already in ECR: pushing the immutable tag again would fail.
          push: pushed.apply((digest) => digest === undefined),
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
          // Importing a registry cache works with any builder; exporting one does not.
          cacheFrom: [{ registry: { ref: cacheRef } }],
          ...(args.registryCache === true
            ? {
                cacheTo: [
                  {
                    registry: {
                      ref: cacheRef,
                      mode: "max" as const,
                      imageManifest: true,
                      ociMediaTypes: true,
                    },
                  },
                ],
              }
            : {}),
          ...(args.builder === undefined ? {} : { builder: { name: args.builder } }),
          // Previews must not need a Docker engine.
          buildOnPreview: false,
        },
        { parent: this },
      );
      const ref = pulumi
        .all([pushed, repo.repositoryUrl, built.ref])
        .apply(([digest, url, builtRef]) =>
          digest === undefined ? builtRef : `${url}:${tag}@${digest}`,
        );
      refs[image] = ref;
      urls[image] = repo.repositoryUrl;
    }
    this.refs = refs as Record<ImageName, pulumi.Output<string>>;
    this.repositoryUrls = urls as Record<ImageName, pulumi.Output<string>>;
    this.registerOutputs({ refs: this.refs });
  }
}
