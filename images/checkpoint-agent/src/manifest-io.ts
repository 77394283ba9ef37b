/** Read and write the manifest through an ObjectStore. */
import { crc32Base64 } from "./checksum.ts";
import { MANIFEST_KEY } from "./layout.ts";
import { parseManifest, type Manifest } from "./manifest.ts";
import type { ObjectStore } from "./object-store.ts";

export async function loadManifest(
  store: ObjectStore,
  prefix: string,
): Promise<Manifest | undefined> {
  const key = `${prefix}${MANIFEST_KEY}`;
  const text = await store.getText(key);
  return text === undefined ? undefined : parseManifest(text, `s3://${store.bucket}/${key}`);
}

/** One PutObject: S3 makes it visible all at once, which is what makes it a commit point. */
export async function saveManifest(store: ObjectStore, prefix: string, m: Manifest): Promise<void> {
  const body = Buffer.from(`${JSON.stringify(m, null, 2)}\n`, "utf8");
  await store.putObject(`${prefix}${MANIFEST_KEY}`, body, {
    crc32Base64: crc32Base64(body),
    contentType: "application/json",
  });
}
