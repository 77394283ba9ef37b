/**
 * Objects → text, once, at the edge: YAML documents for kubectl/GitOps, a JSON array for
 * scripts, or one file per object plus a kustomization.yaml.
 */
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";

export interface NamedObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
}

const yamlOptions = { lineWidth: 0, aliasDuplicateObjects: false } as const;

export function toYamlDocuments(objects: readonly NamedObject[]): string {
  return objects.map((o) => `---\n${stringify(o, yamlOptions)}`).join("");
}

export function toJsonArray(objects: readonly NamedObject[]): string {
  return `${JSON.stringify(objects, null, 2)}\n`;
}

export function fileNameOf(o: NamedObject): string {
  const kind = (o.kind ?? "object").toLowerCase();
  return `${kind}-${o.metadata?.name ?? "unnamed"}.yaml`;
}

/**
 * One file per object plus kustomization.yaml. Each file is written to a temporary name
 * and renamed, so a reader never sees half a manifest. Returns the paths written.
 */
export async function writeManifestDir(
  dir: string,
  objects: readonly NamedObject[],
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files = objects.map((o) => [fileNameOf(o), stringify(o, yamlOptions)] as const);
  const names = files.map(([n]) => n);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new Error(`two objects would both be written to ${duplicate}`);
  const kustomization = stringify(
    {
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      resources: names,
    },
    yamlOptions,
  );
  const written: string[] = [];
  for (const [name, text] of [...files, ["kustomization.yaml", kustomization] as const]) {
    const path = join(dir, name);
    const tmp = `${path}.tmp-${process.pid}`;
    await writeFile(tmp, text, "utf8");
    await rename(tmp, path);
    written.push(path);
  }
  return written;
}
