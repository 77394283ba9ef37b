import { crc32 } from "node:zlib";

/**
 * Per-request integrity for S3 (x-amz-checksum-crc32, checked by S3 on arrival). CRC32 from
 * zlib is native and several times faster than SHA-256, which the agent already computes
 * once over the whole file for the manifest.
 */
export function crc32Base64(data: Buffer): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(data) >>> 0);
  return out.toString("base64");
}
