/** `yunshi logs <name>`: trainer logs (rank 0 by default), following across pod restarts. */
import type { Command } from "commander";
import { UsageError } from "../errors.ts";
import type { Io } from "../io.ts";
import { ContainerNames } from "../pod-contract.ts";
import { addClusterOptions, clusterFlagsOf } from "./cluster-options.ts";

const CONTAINERS = Object.values(ContainerNames);

/** "90s", "10m", "2h" → seconds. */
export function parseSince(v: string): number {
  const m = v.match(/^(\d+)([smhd])$/);
  if (!m)
    throw new UsageError(`--since ${JSON.stringify(v)}: use a duration such as 30s, 10m, 2h or 1d`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "s" | "m" | "h" | "d"];
}

export function registerLogs(program: Command, io: Io): void {
  const cmd = program
    .command("logs")
    .description(
      "print a run's logs (trainer, rank 0 by default); --follow keeps going across restarts",
    )
    .argument("<name>", "the experiment")
    .option("-f, --follow", "stream until the run finishes, across pod replacements")
    .option("--rank <n>", "node rank to show", "0")
    .option("--all-ranks", "every node's log, each line prefixed with its rank")
    .option("--since <duration>", "only lines newer than this (30s, 10m, 2h)")
    .option(
      "-c, --container <name>",
      `container: ${CONTAINERS.join(", ")}`,
      ContainerNames.trainer,
    );
  addClusterOptions(cmd).action(async (name: string, opts: Record<string, unknown>) => {
    const rankText = String(opts.rank);
    if (!/^\d+$/.test(rankText))
      throw new UsageError(`--rank ${JSON.stringify(rankText)}: use a node rank such as 0`);
    if (opts.allRanks === true && rankText !== "0")
      throw new UsageError("--rank and --all-ranks exclude each other: pick one");
    const container = String(opts.container);
    if (!(CONTAINERS as string[]).includes(container))
      throw new UsageError(
        `--container ${JSON.stringify(container)}: use one of ${CONTAINERS.join(", ")}`,
      );
    const sinceSeconds = typeof opts.since === "string" ? parseSince(opts.since) : undefined;
    // Loaded here, not at the top: see the note at the top of jobs/program.ts.
    const { connect, inTeamNamespace, namespaceLine } = await import("../cluster/connect.ts");
    const { streamLogs } = await import("../cluster/follow-logs.ts");
    const { findWorkload } = await import("../cluster/experiments.ts");
    const conn = connect(clusterFlagsOf(opts));
    const { client, namespace } = conn;
    io.err(namespaceLine(conn));
    // Not found in a namespace that is not a team's: the namespace is the problem.
    await inTeamNamespace(
      conn,
      () => findWorkload(client, namespace, name),
      (w) => w === undefined,
    );
    await streamLogs(
      client,
      {
        namespace,
        name,
        ranks: opts.allRanks === true ? "all" : Number(rankText),
        container,
        follow: opts.follow === true,
        sinceSeconds,
        pollMs: pollMs(),
      },
      { out: (t) => io.out(t), note: (t) => io.err(t) },
    );
  });
}

/** How often following looks for replacement pods; YUNSHI_POLL_MS shortens it in tests. */
export function pollMs(): number {
  const v = Number(process.env.YUNSHI_POLL_MS);
  return Number.isInteger(v) && v > 0 ? v : 2000;
}
