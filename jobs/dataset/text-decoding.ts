/**
 * Text of annotation files in the encodings LabelImg users actually have: UTF-8 (LabelImg
 * writes it, with or without a BOM), and GBK/GB2312/GB18030 from older Windows tools or
 * files re-saved in Notepad on a Chinese system. The XML declaration is honoured when it
 * names an encoding; otherwise UTF-8 is tried strictly and GB18030 (a superset of GBK) is
 * the fallback, and the caller reports that the file was not UTF-8.
 */
import iconv from "iconv-lite";

export interface DecodedText {
  readonly text: string;
  /** The encoding actually used, e.g. "utf-8" or "gbk". */
  readonly encoding: string;
  /** True when the file claimed one encoding (or none) and another was needed. */
  readonly guessed: boolean;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function decodeAnnotationText(bytes: Buffer): DecodedText {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return { text: utf8.decode(bytes.subarray(3)), encoding: "utf-8", guessed: false };
  }
  // The declaration is ASCII in every encoding that matters here.
  const head = bytes.subarray(0, 200).toString("latin1");
  const declared = /^<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head)?.[1];
  const name = declared?.toLowerCase();
  if (name !== undefined && name !== "utf-8" && name !== "utf8" && iconv.encodingExists(name)) {
    return { text: iconv.decode(bytes, name), encoding: name, guessed: false };
  }
  try {
    return { text: utf8.decode(bytes), encoding: "utf-8", guessed: false };
  } catch {
    return { text: iconv.decode(bytes, "gb18030"), encoding: "gbk", guessed: true };
  }
}
