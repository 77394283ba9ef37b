/** Human progress lines for `kubectl logs`: bytes, rate and elapsed time. */

export type LogFn = (line: string) => void;

export const MiB = 1024 * 1024;

export function formatBytes(n: number): string {
  if (n >= 1024 * MiB) return `${(n / (1024 * MiB)).toFixed(2)} GiB`;
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Decimal MB/s, the unit awscli and rclone report. */
export function rateMBps(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / 1e6 / seconds : 0;
}

export class Progress {
  private done = 0;
  private readonly started = performance.now();
  private lastPrint = performance.now();

  constructor(
    private readonly log: LogFn,
    private readonly label: string,
    private readonly total: number,
    private readonly everyMs = 2000,
  ) {}

  add(bytes: number): void {
    this.done += bytes;
    const now = performance.now();
    if (now - this.lastPrint >= this.everyMs && this.done < this.total) {
      this.lastPrint = now;
      this.log(`${this.label}: ${this.line()}`);
    }
  }

  get seconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  /** Final line; returns elapsed seconds. */
  finish(verb: string): number {
    const s = this.seconds;
    this.log(
      `${verb} ${this.label}: ${formatBytes(this.done)} in ${s.toFixed(1)} s (${rateMBps(this.done, s).toFixed(1)} MB/s)`,
    );
    return s;
  }

  private line(): string {
    const s = this.seconds;
    const pct = this.total > 0 ? Math.floor((100 * this.done) / this.total) : 100;
    return `${formatBytes(this.done)}/${formatBytes(this.total)} (${pct}%) ${rateMBps(this.done, s).toFixed(1)} MB/s, ${s.toFixed(1)} s`;
  }
}
