/**
 * The files of a dataset folder as the manifest lists them: relative path, size, SHA-256.
 * Hidden files (convert's marker) are not part of the dataset; the manifest's own name is
 * reserved.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { mapLimit } from "../../images/checkpoint-agent/src/limiter.ts";
import {
  DATASET_MANIFEST_KEY,
  type DatasetFile,
} from "../../images/checkpoint-agent/src/dataset-manifest.ts";
import { DatasetError } from "./problems.ts";
import { scanSourceTree } from "./source-tree.ts";

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export async function listDatasetFiles(dir: string): Promise<DatasetFile[]> {
  const tree = await scanSourceTree(dir);
  if (tree.problems.length > 0) throw new DatasetError(`dataset push ${dir}`, tree.problems);
  const files = tree.files.filter((f) => f !== DATASET_MANIFEST_KEY);
  return mapLimit(files, 4, async (path) => {
    const abs = join(dir, path);
    const [st, sha256] = await Promise.all([stat(abs), sha256File(abs)]);
    return { path, size: st.size, sha256 };
  });
}
