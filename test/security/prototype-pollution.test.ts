/**
 * Issue 10, item 1, below the loader: even a caller that skips the loader's refusal of
 * `__proto__` (an Experiment built in code) cannot reach Object.prototype through the
 * config renderer, and a polluted prototype would not reach a local run's processes.
 */
import { describe, expect, it } from "vitest";
import { childEnv } from "../../jobs/local/plan.ts";
import { renderMmdetConfig } from "../../jobs/render/mmdet-config.ts";
import { parseExperiment } from "../../jobs/spec/load-experiment.ts";
import type { Experiment } from "../../jobs/spec/experiment.ts";
import { patched, specYaml } from "../spec-fixtures.ts";

const prototypeNames = (): string[] => Object.getOwnPropertyNames(Object.prototype).sort();

describe("the config renderer", () => {
  it("writes keys that name the prototype chain as plain keys, never through it", () => {
    const { experiment } = parseExperiment(specYaml(patched({})));
    const cfgOptions = JSON.parse(
      '{"__proto__.NODE_OPTIONS": "--require /tmp/evil.js", "model.__proto__.cpu": "-1",' +
        ' "constructor.prototype.subdomain": "evil", "toString.x": 1,' +
        ' "optim_wrapper.constructor": "LayerDecayOptimizerConstructor",' +
        ' "optim_wrapper.paramwise_cfg.decay_rate": 0.9}',
    ) as Experiment["train"]["cfgOptions"];
    const hostile: Experiment = {
      ...experiment,
      train: { ...experiment.train, cfgOptions },
      model: { ...experiment.model, numClassesAt: ["model.__proto__.num_classes"] },
    };
    const before = prototypeNames();
    const text = renderMmdetConfig(hostile);
    expect(prototypeNames()).toEqual(before);
    expect(({} as Record<string, unknown>).NODE_OPTIONS).toBeUndefined();
    expect(({} as Record<string, unknown>).subdomain).toBeUndefined();
    // The keys end up in the config as ordinary (if useless) Python dict keys.
    expect(text).toContain("__proto__ = dict(NODE_OPTIONS='--require /tmp/evil.js')");
    expect(text).toContain("model = dict(__proto__=dict(num_classes=3, cpu='-1'))");
    // constructor stays an ordinary key, and later keys under optim_wrapper keep it.
    expect(text).toMatch(/constructor='LayerDecayOptimizerConstructor'/);
    expect(text).toMatch(/paramwise_cfg=dict\(decay_rate=0\.9\)/);
    expect(text).toMatch(/type='OptimWrapper'/);
  });
});

describe("a local run's child environment", () => {
  it("carries own keys only, so an inherited (polluted) key never reaches a process", () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.NODE_OPTIONS = "--require /tmp/evil.js";
    try {
      const env = childEnv({ PATH: "/bin" }, { YUNSHI_X: "1" }, "http://127.0.0.1:1");
      // child_process.spawn copies every enumerable key, inherited ones included (for...in).
      const spawned: string[] = [];
      for (const k in env) spawned.push(k);
      expect(spawned.sort()).toEqual(["PATH", "YUNSHI_X"]);
    } finally {
      delete proto.NODE_OPTIONS;
    }
  });
});
