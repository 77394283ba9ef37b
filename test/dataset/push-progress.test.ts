/** The push progress line: redrawn in place on a terminal, a line at a time in a log. */
import { describe, expect, it } from "vitest";
import { PushProgress } from "../../jobs/dataset/push-progress.ts";

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe("push progress", () => {
  it("on a terminal redraws one line in place, then ends it", () => {
    let out = "";
    const c = clock();
    const p = new PushProgress(2, 2_000_000, (s) => (out += s), true, c.now);
    c.advance(150);
    p.add(1_000_000);
    c.advance(50);
    p.add(1_000_000); // under 100 ms since the last draw: not drawn
    p.finish();
    // ESC [ K (erase to the end of the line) closes each draw.
    const draws = out
      .split("\r")
      .filter(Boolean)
      .map((d) => d.replaceAll("\u001b[K", "<EL>"));
    expect(draws).toHaveLength(2);
    expect(draws[0]).toMatch(
      /^█{12}░{12} 1\/2 files, 976\.6 KiB\/1\.9 MiB, 6\.7 MB\/s, 0 s, ~0 s left<EL>$/,
    );
    expect(draws[1]).toMatch(/^█{24} 2\/2 files, 1\.9 MiB\/1\.9 MiB, .*<EL>\n$/);
  });

  it("in a log prints whole lines, one per 2 s at most", () => {
    let out = "";
    const c = clock();
    const p = new PushProgress(100, 100, (s) => (out += s), false, c.now);
    for (let i = 0; i < 100; i++) {
      c.advance(100); // 10 s in all → 5 lines
      p.add(1);
    }
    p.finish();
    const lines = out.split("\n").filter(Boolean);
    expect(lines).toHaveLength(5);
    expect(out).not.toContain("\r");
    expect(lines[0]).toMatch(/ 20\/100 files, 20 B\/100 B/);
  });
});
