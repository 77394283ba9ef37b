/**
 * How fast hostile specs are refused (issue 10), in process, against the baseline of
 * loading a valid spec in the same run: the alias bomb (9 levels of 9 aliases, about 387
 * million nodes if expanded), a document nested 10 000 deep, a 1 MiB spec, a non-UTF-8
 * byte. Median of N runs each, rotating order, with the load average (the machine is shared).
 *
 *   npx tsx scripts/bench-spec-refusal.ts [--runs 15]
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { SpecError } from "../jobs/errors.ts";
import { parseExperimentBytes } from "../jobs/spec/load-experiment.ts";
import { hostileSpecs } from "../test/security/hostile-specs.ts";
import { patched, specYaml } from "../test/spec-fixtures.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "15" } } });
const runs = Number(values.runs);

const cases: Array<[string, Uint8Array]> = [
  ["valid spec (baseline)", new TextEncoder().encode(specYaml(patched({})))],
  ...[
    "a YAML alias bomb",
    "nesting ten thousand deep",
    "a spec over 1 MiB",
    "invalid UTF-8",
    "cfgOptions key through __proto__",
  ].map((title): [string, Uint8Array] => {
    const h = hostileSpecs.find((s) => s.title === title);
    if (h === undefined) throw new Error(`no hostile spec titled ${title}`);
    return [title, h.bytes];
  }),
];

const times = new Map<string, number[]>(cases.map(([t]) => [t, []]));
for (let r = 0; r < runs; r++) {
  for (let i = 0; i < cases.length; i++) {
    const [title, bytes] = cases[(i + r) % cases.length]!;
    const start = process.hrtime.bigint();
    let refused = false;
    try {
      parseExperimentBytes(bytes, "exp.yaml");
    } catch (err) {
      if (!(err instanceof SpecError)) throw err;
      refused = true;
    }
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (refused === title.startsWith("valid")) throw new Error(`${title}: unexpected outcome`);
    times.get(title)!.push(ms);
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const base = median(times.get(cases[0]![0])!);
console.log(`runs ${runs}, node ${process.version}, load average ${loadavg()[0]!.toFixed(1)}`);
console.log("case                                   median ms   × valid spec   max ms");
for (const [title] of cases) {
  const t = times.get(title)!;
  console.log(
    `${title.padEnd(38)} ${median(t).toFixed(1).padStart(9)}   ${(median(t) / base).toFixed(2).padStart(12)}   ${Math.max(
      ...t,
    )
      .toFixed(1)
      .padStart(6)}`,
  );
}
