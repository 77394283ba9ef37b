import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeUtf8, firstInvalidUtf8Byte } from "../../jobs/spec/untrusted-document.ts";

describe("strict UTF-8", () => {
  it("finds a bad byte exactly where the WHATWG decoder stops being well-formed (property)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.string({ unit: "grapheme" }),
        (junk, text) => {
          const bytes = Buffer.concat([Buffer.from(text, "utf8"), junk]);
          const fatal = (b: Uint8Array): boolean => {
            try {
              new TextDecoder("utf-8", { fatal: true }).decode(b);
              return true;
            } catch {
              return false;
            }
          };
          const at = firstInvalidUtf8Byte(bytes);
          expect(at === bytes.length).toBe(fatal(bytes));
          // Everything before the reported byte is valid UTF-8.
          expect(fatal(bytes.subarray(0, at))).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("names line and column (bytes) of the first bad byte: GBK text, a lone continuation, a surrogate", () => {
    const gbk = Buffer.concat([
      Buffer.from("a: 1\nclasses: ["),
      Buffer.from([0xd0, 0xd0]),
      Buffer.from("]\n"),
    ]);
    expect(decodeUtf8(gbk)).toEqual({ bad: { offset: 15, line: 2, column: 11, byte: 0xd0 } });
    expect(decodeUtf8(Buffer.from([0x61, 0x80]))).toMatchObject({ bad: { line: 1, column: 2 } });
    expect(decodeUtf8(Buffer.from([0xed, 0xa0, 0x80]))).toMatchObject({ bad: { offset: 0 } });
    expect(decodeUtf8(Buffer.from("行人\n", "utf8"))).toEqual({ text: "行人\n" });
  });
});
