/**
 * The real size of a picture, read from its file (the XML's <size> is only what the
 * labelling tool believed), and a structural check that the file is whole: MMDetection
 * decodes with OpenCV, which refuses a PNG cut short and a file that is not a picture at
 * all. Headers are parsed by image-size; only the end-marker test is ours.
 */
import { readFile } from "node:fs/promises";
import { imageSize } from "image-size";

/** Formats OpenCV (mmcv's default backend) decodes. */
const DECODABLE = new Set(["jpg", "png", "bmp", "tiff", "webp"]);

export type ImageHeader =
  | {
      readonly ok: true;
      /** As stored in the file. */
      readonly width: number;
      readonly height: number;
      readonly type: string;
      /** EXIF orientation 1–8 (1: as stored). */
      readonly orientation: number;
    }
  | { readonly ok: false; readonly reason: string };

/**
 * The size MMDetection sees: mmcv decodes with OpenCV (or Pillow), both of which turn a
 * picture upright by its EXIF orientation, so 5–8 swap width and height.
 */
export function displayedSize(h: { width: number; height: number; orientation: number }): {
  width: number;
  height: number;
} {
  return h.orientation >= 5 && h.orientation <= 8
    ? { width: h.height, height: h.width }
    : { width: h.width, height: h.height };
}

export function readImageHeader(bytes: Buffer): ImageHeader {
  if (bytes.length === 0) return { ok: false, reason: "the file is empty" };
  let size: ReturnType<typeof imageSize>;
  try {
    size = imageSize(bytes);
  } catch {
    return { ok: false, reason: "not a picture (no JPEG/PNG/BMP/TIFF/WebP header)" };
  }
  const type = size.type ?? "unknown";
  if (!DECODABLE.has(type)) {
    return { ok: false, reason: `a ${type} picture, which MMDetection (OpenCV) cannot read` };
  }
  if (!(size.width > 0 && size.height > 0)) {
    return { ok: false, reason: `the header gives a size of ${size.width}×${size.height}` };
  }
  const truncated = isTruncated(type, bytes);
  if (truncated !== undefined) return { ok: false, reason: truncated };
  const orientation =
    size.orientation !== undefined && size.orientation >= 1 && size.orientation <= 8
      ? size.orientation
      : 1;
  return { ok: true, width: size.width, height: size.height, type, orientation };
}

export async function readImageFile(path: string): Promise<ImageHeader> {
  return readImageHeader(await readFile(path));
}

const PNG_IEND = Buffer.from([0x49, 0x45, 0x4e, 0x44]);

function isTruncated(type: string, bytes: Buffer): string | undefined {
  if (type === "png") {
    // The IEND chunk (length 0, type, CRC) closes every complete PNG.
    const at = bytes.lastIndexOf(PNG_IEND);
    if (at < 0 || at + 8 > bytes.length) return "the PNG is cut short (no IEND chunk)";
  }
  if (type === "jpg") {
    // Cameras may append bytes after the end-of-image marker; look near the end only.
    const tail = bytes.subarray(Math.max(0, bytes.length - 4096));
    let found = false;
    for (let i = tail.length - 2; i >= 0 && !found; i--)
      found = tail[i] === 0xff && tail[i + 1] === 0xd9;
    if (!found) return "the JPEG is cut short (no end-of-image marker)";
  }
  return undefined;
}
