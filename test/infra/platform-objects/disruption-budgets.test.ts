/**
 * The GPU pool's disruption budgets, evaluated hour by hour over a week the way Karpenter
 * does: a budget with `schedule` + `duration` is active for `duration` after each cron match;
 * the most restrictive active budget covering a reason wins.
 */
import { describe, expect, it } from "vitest";
import {
  disruptionBudgets,
  type MaintenanceWindow,
} from "../../../infra/platform-objects/karpenter-objects.ts";

interface Budget {
  nodes: string;
  reasons?: string[];
  schedule?: string;
  duration?: string;
}

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const HOUR = 3600_000;

/** Does a "M H * * DOW" cron (the only form the platform writes) match this UTC hour? */
function cronMatches(cron: string, t: Date): boolean {
  const [minute, hour, dom, month, dow] = cron.split(" ");
  if (dom !== "*" || month !== "*") throw new Error(`unsupported cron ${cron}`);
  return (
    Number(minute) === t.getUTCMinutes() &&
    Number(hour) === t.getUTCHours() &&
    DAYS[t.getUTCDay()] === dow
  );
}

function active(b: Budget, t: Date): boolean {
  if (b.schedule === undefined) return true;
  const hours = Number(/^(\d+)h$/.exec(b.duration ?? "")?.[1]);
  for (let back = 0; back < hours; back++)
    if (cronMatches(b.schedule, new Date(t.getTime() - back * HOUR))) return true;
  return false;
}

/** Nodes Karpenter may disrupt for `reason` at `t` out of `total` (Infinity: no budget). */
function allowed(budgets: Budget[], reason: string, t: Date, total = 10): number {
  const limits = budgets
    .filter((b) => (b.reasons === undefined || b.reasons.includes(reason)) && active(b, t))
    .map((b) =>
      b.nodes.endsWith("%")
        ? Math.floor((total * Number(b.nodes.slice(0, -1))) / 100)
        : Number(b.nodes),
    );
  return limits.length === 0 ? Infinity : Math.min(...limits);
}

/** Every hour of the week starting Sunday 2026-11-29 00:00 UTC. */
const week = Array.from({ length: 168 }, (_, h) => new Date(Date.UTC(2026, 10, 29, h)));
const label = (t: Date) => `${DAYS[t.getUTCDay()]} ${t.getUTCHours()}h`;
const budgets = (w?: MaintenanceWindow) => disruptionBudgets(w) as unknown as Budget[];

describe("GPU pool disruption budgets", () => {
  it("without a window: busy-node drift and underutilisation never, empty nodes always", () => {
    for (const t of week) {
      expect(allowed(budgets(), "Drifted", t), label(t)).toBe(0);
      expect(allowed(budgets(), "Underutilized", t), label(t)).toBe(0);
      expect(allowed(budgets(), "Empty", t), label(t)).toBe(10);
    }
  });

  it("with a Sunday 02:00-06:00 window: one node at a time inside it, none outside", () => {
    const b = budgets({ day: "sun", startHourUtc: 2, hours: 4 });
    const open = week.filter((t) => allowed(b, "Drifted", t) > 0).map(label);
    expect(open).toEqual(["sun 2h", "sun 3h", "sun 4h", "sun 5h"]);
    for (const t of week.filter((x) => allowed(b, "Drifted", x) > 0))
      expect(allowed(b, "Drifted", t)).toBe(1);
  });

  it("a window across midnight (Saturday 22:00 for 4h) ends on Sunday", () => {
    const b = budgets({ day: "sat", startHourUtc: 22, hours: 4 });
    expect(week.filter((t) => allowed(b, "Drifted", t) > 0).map(label)).toEqual([
      "sun 0h",
      "sun 1h",
      "sat 22h",
      "sat 23h",
    ]);
  });
});
