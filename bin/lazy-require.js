// @ts-check
/**
 * The require() that bin/run-bundle.js hands the CLI bundle: modules on LAZY are loaded on
 * first use instead of when the bundle's module that imports them initialises (issue 15).
 *
 * Why: commander requires node:child_process at its top for a feature we never use
 * (executable subcommands), which pulls in net, dgram and streams: about 5 ms of a 40 ms
 * `--help`. validate's dataset check requires image-size (tens of files) though only a spec
 * with a local dataset folder uses it. esbuild compiles `import { spawn } from
 * "node:child_process"` to `m = require("node:child_process")` and `m.spawn(...)` at the
 * call, so an object that loads the module on its first property access is enough.
 *
 * Only modules whose exports are a plain object go on LAZY: the stand-in is an object,
 * and loading a module whose exports are a function throws (test/cli-startup.test.ts runs
 * every command through it).
 */
"use strict";

const LAZY = new Set([
  "node:child_process",
  "node:crypto",
  "node:fs/promises",
  "node:http",
  "node:https",
  "node:net",
  "node:readline",
  "node:stream",
  "node:zlib",
  "image-size",
]);

/**
 * A stand-in for the module `id` that loads it on the first operation on it and forwards
 * every operation to it. Properties are reported configurable: a Proxy over an empty
 * object must not report a non-configurable property the empty object lacks.
 * @param {(id: string) => unknown} realRequire
 * @param {string} id
 * @returns {object}
 */
function lazyModule(realRequire, id) {
  /** @type {object | undefined} */
  let real;
  const load = () => {
    if (real !== undefined) return real;
    const m = realRequire(id);
    if (typeof m !== "object" || m === null)
      throw new Error(`bin/lazy-require.js: ${id} does not export an object; remove it from LAZY`);
    real = m;
    return m;
  };
  return new Proxy(
    {},
    {
      get: (_, key) => Reflect.get(load(), key),
      set: (_, key, value) => Reflect.set(load(), key, value),
      has: (_, key) => Reflect.has(load(), key),
      ownKeys: () => Reflect.ownKeys(load()),
      getOwnPropertyDescriptor: (_, key) => {
        const d = Reflect.getOwnPropertyDescriptor(load(), key);
        return d === undefined ? undefined : { ...d, configurable: true };
      },
      defineProperty: (_, key, d) => Reflect.defineProperty(load(), key, d),
      deleteProperty: (_, key) => Reflect.deleteProperty(load(), key),
      getPrototypeOf: () => Reflect.getPrototypeOf(load()),
    },
  );
}

/**
 * `realRequire` with the modules on LAZY deferred. One stand-in per module, like require's
 * own cache.
 * @param {NodeJS.Require} realRequire
 * @returns {NodeJS.Require}
 */
function lazyRequire(realRequire) {
  /** @type {Map<string, object>} */
  const standIns = new Map();
  /** @param {string} id */
  const req = (id) => {
    if (!LAZY.has(id)) return realRequire(id);
    let m = standIns.get(id);
    if (m === undefined) standIns.set(id, (m = lazyModule(realRequire, id)));
    return m;
  };
  return Object.assign(req, {
    resolve: realRequire.resolve,
    cache: realRequire.cache,
    main: realRequire.main,
    extensions: realRequire.extensions,
  });
}

module.exports = { lazyRequire, lazyModule, LAZY };
