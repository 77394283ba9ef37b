/**
 * Hostile exp.yaml files (issue 10): each is refused with exit 2, nothing on stdout, and a
 * message naming the path and the fix. Shared by the CLI tests of test/security/.
 */
import { patched, specYaml } from "../spec-fixtures.ts";

export interface HostileSpec {
  readonly title: string;
  readonly bytes: Uint8Array;
  /** What stderr must name: the dotted path, or "(document)" for the file as a whole. */
  readonly path: string;
  readonly message: RegExp;
  /** When set, stderr must have a fix line matching it. */
  readonly fix?: RegExp;
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const base = (): string => specYaml(patched({}));

const spec = (
  title: string,
  patch: Record<string, unknown>,
  path: string,
  message: RegExp,
  fix?: RegExp,
): HostileSpec => ({
  title,
  bytes: utf8(specYaml(patched(patch))),
  path,
  message,
  ...(fix === undefined ? {} : { fix }),
});

/** The valid base spec with raw YAML appended (keys JavaScript object literals cannot hold). */
const raw = (
  title: string,
  yamlTail: string,
  path: string,
  message: RegExp,
  fix?: RegExp,
): HostileSpec => ({
  title,
  bytes: utf8(`${base()}${yamlTail}`),
  path,
  message,
  ...(fix === undefined ? {} : { fix }),
});

/** A YAML alias bomb: nine levels of nine references, about 387 million nodes expanded. */
const aliasBomb = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ..."bcdefghi"
    .split("")
    .map((k, i) => `${k}: &${k} [${Array(9).fill(`*${"abcdefghi"[i]}`).join(",")}]`),
].join("\n");

const prototypeFix = /remove/;

export const hostileSpecs: HostileSpec[] = [
  // Item 1: prototype pollution.
  spec(
    "cfgOptions key through __proto__",
    { train: { cfgOptions: { "__proto__.polluted": "yes" } } },
    "train.cfgOptions.__proto__.polluted",
    /prototype chain/,
    prototypeFix,
  ),
  spec(
    "cfgOptions key through constructor.prototype",
    { train: { cfgOptions: { "constructor.prototype.polluted": "yes" } } },
    "train.cfgOptions.constructor.prototype.polluted",
    /prototype chain/,
    prototypeFix,
  ),
  raw(
    "__proto__ key inside a cfgOptions value",
    "train:\n  cfgOptions:\n    model.backbone: { __proto__: { polluted: yes } }\n",
    "train.cfgOptions.model.backbone.__proto__",
    /prototype chain/,
    prototypeFix,
  ),
  raw(
    "__proto__ at the top of the document",
    "__proto__: { polluted: yes }\n",
    "__proto__",
    /prototype chain/,
    prototypeFix,
  ),
  spec(
    "numClassesAt through __proto__",
    {
      model: {
        config: "mmdet::foo/bar.py",
        pretrained: "none",
        numClassesAt: ["model.__proto__.num_classes"],
      },
    },
    "model.numClassesAt.0",
    /__proto__ and prototype are not config keys/,
    /model\.bbox_head\.num_classes/,
  ),
  // Item 5: places.
  spec(
    "model.config climbing out of mmdet",
    { model: { config: "mmdet::../../../../etc/evil.py", pretrained: "none" } },
    "model.config",
    /inside the mmdet package/,
  ),
  spec(
    "model.config absolute",
    { model: { config: "mmdet::/etc/evil.py", pretrained: "none" } },
    "model.config",
    /no absolute paths/,
  ),
  spec(
    "dataset.uri with a .. segment",
    { dataset: { uri: "s3://bucket/vision/../other-team/" } },
    "dataset.uri",
    /'\.\.' path segments/,
    /s3:\/\/<bucket>/,
  ),
  spec(
    "dataset.uri with an invalid bucket",
    { dataset: { uri: "s3://Bad_Bucket/x/" } },
    "dataset.uri",
    /bucket "Bad_Bucket"/,
    /s3:\/\/<bucket>/,
  ),
  spec(
    "dataset.uri with a reserved bucket prefix",
    { dataset: { uri: "s3://xn--bucket/x/" } },
    "dataset.uri",
    /reserved prefix xn--/,
  ),
  spec(
    "dataset.uri with a space",
    { dataset: { uri: "s3://bucket/a b/" } },
    "dataset.uri",
    /no spaces/,
  ),
  spec(
    "dataset.uri with a newline",
    { dataset: { uri: "s3://bucket/a\nb/" } },
    "dataset.uri",
    /line breaks/,
  ),
  spec(
    "dataset.uri with an empty segment",
    { dataset: { uri: "s3://bucket/a//b/" } },
    "dataset.uri",
    /empty path segments/,
  ),
  spec(
    "pretrained s3:// with ..",
    { model: { pretrained: "s3://bucket/weights/../../x.pth" } },
    "model.pretrained",
    /'\.\.' path segments/,
  ),
  spec(
    "pretrained over plain http",
    { model: { pretrained: "http://example.com/x.pth" } },
    "model.pretrained",
    /not https/,
    /use https/,
  ),
  spec(
    "pretrained URL with credentials",
    { model: { pretrained: "https://user:hunter2@example.com/x.pth" } },
    "model.pretrained",
    /credentials/,
    /upload it to S3/,
  ),
  spec(
    "pretrained URL that URL would rewrite",
    { model: { pretrained: "https://Example.com/a/../b.pth" } },
    "model.pretrained",
    /canonical/,
    /https:\/\/example\.com\/b\.pth/,
  ),
  // Item 7: numbers.
  spec("maxRuntime of zero", { maxRuntime: "0s" }, "maxRuntime", /at least 1m/, /30m or 24h/),
  spec(
    "maxRuntime of 10^20 days",
    { maxRuntime: "100000000000000000000d" },
    "maxRuntime",
    /at most 90d/,
    /split the run/,
  ),
  spec("maxRuntime of 91 days", { maxRuntime: "91d" }, "maxRuntime", /at most 90d/),
  spec(
    "tiny memoryPerGpuGiB",
    { resources: { memoryPerGpuGiB: 0.0001 } },
    "resources.memoryPerGpuGiB",
    /at least 1 GiB/,
  ),
  spec(
    "tiny cpuPerGpu",
    { resources: { cpuPerGpu: 0.001 } },
    "resources.cpuPerGpu",
    /at least 0\.1/,
  ),
  raw(
    "an integer above 2^53",
    "retries: 9007199254740993\n",
    "retries",
    /beyond ±2\^53/,
    /smaller number/,
  ),
  raw(
    "NaN",
    "resources: { cpuPerGpu: .nan }\n",
    "resources.cpuPerGpu",
    /\.nan is not a usable number/,
    /finite number/,
  ),
  raw(
    "infinity inside cfgOptions",
    "train: { cfgOptions: { model.x: .inf } }\n",
    "train.cfgOptions.model.x",
    /\.inf is not a usable number/,
    /finite number/,
  ),
  spec("seed beyond NumPy's 32 bits", { train: { seed: 2 ** 32 } }, "train.seed", /2\^32/),
  spec(
    "image side of 100000 pixels",
    { train: { imageScale: [100000, 800] } },
    "train.imageScale.0",
    /at most 16384/,
  ),
  spec("epochs of a million", { train: { epochs: 1_000_000 } }, "train.epochs", /at most 10000/),
  // Item 8: YAML and bytes.
  {
    title: "a YAML alias bomb",
    bytes: utf8(`${base()}${aliasBomb}\n`),
    path: "(document)",
    message: /alias bomb/,
    fix: /fewer nested aliases/,
  },
  {
    title: "invalid UTF-8",
    bytes: Buffer.concat([utf8(`${base()}description: "`), Buffer.from([0xe8, 0xa1]), utf8('"\n')]),
    path: "(document)",
    message: new RegExp(`line ${base().split("\n").length}, column 15\\): not UTF-8: byte 0xe8`),
    fix: /save the file as UTF-8/,
  },
  {
    title: "nesting ten thousand deep",
    bytes: utf8(`${base()}x: ${"[".repeat(10_000)}${"]".repeat(10_000)}\n`),
    path: "(document)",
    message: /nested too deeply/,
    fix: /flatten/,
  },
  raw(
    "a cfgOptions value nested 40 deep",
    `train: { cfgOptions: { model.x: ${"[".repeat(40)}${"]".repeat(40)} } }\n`,
    "train.cfgOptions.model.x",
    /more than 32 levels deep inside a cfgOptions value/,
    /flatten/,
  ),
  spec(
    "a cfgOptions key with 40 segments",
    { train: { cfgOptions: { [Array(40).fill("a").join(".")]: 1 } } },
    "train.cfgOptions",
    /at most 32 dotted segments/,
    /nested that deep/,
  ),
  raw(
    "half a surrogate pair",
    'description: "\\ud800"\n',
    "description",
    /surrogate/,
    /whole code point/,
  ),
  {
    title: "a spec over 1 MiB",
    bytes: utf8(`${base()}description: x\n${"# padding\n".repeat(110_000)}`),
    path: "(document)",
    message: /at most 1048576/,
    fix: /keep data out of the spec/,
  },
];
