/** Read and write the manifest through an ObjectStore. */
import { crc32Base64 } from "./checksum.ts";
import { MANIFEST_KEY } from "./layout.ts";
import { parseManifestChecked, type Manifest, type ParsedManifest } from "./manifest.ts";
import type { ObjectStore } from "./object-store.ts";

export async function loadManifest(
  store: ObjectStore,
  prefix: string,
): Promise<Manifest | undefined> {
  return (await loadManifestChecked(store, prefix))?.manifest;
}

/** The manifest with the entries that failed the entry schema listed (restore, snapshot). */
export async function loadManifestChecked(
  store: ObjectStore,
  prefix: string,
): Promise<ParsedManifest | undefined> {
  const key = `${prefix}${MANIFEST_KEY}`;
  const text = await store.getText(key);
  return text === undefined ? undefined : parseManifestChecked(text, `s3://${store.bucket}/${key}`);
}

/** One PutObject: S3 makes it visible all at once, which is what makes it a commit point. */
export async function saveManifest(store: ObjectStore, prefix: string, m: Manifest): Promise<void> {
  const body = Buffer.from(`${JSON.stringify(m, null, 2)}\n`, "utf8");
  await store.putObject(`${prefix}${MANIFEST_KEY}`, body, {
    crc32Base64: crc32Base64(body),
    contentType: "application/json",
  });
}
