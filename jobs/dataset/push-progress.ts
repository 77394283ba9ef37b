/**
 * The push progress line: files and bytes done, rate and time left. On a terminal one line
 * redrawn in place (at most 10 times a second); in a log (CI, a pipe) a line every 2 s.
 */
import { formatBytes, rateMBps } from "../../images/checkpoint-agent/src/progress.ts";

export class PushProgress {
  private files = 0;
  private bytes = 0;
  private readonly started: number;
  private last: number;
  private drawn = false;

  constructor(
    private readonly totalFiles: number,
    private readonly totalBytes: number,
    private readonly write: (text: string) => void,
    private readonly tty: boolean,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
    this.last = this.started;
  }

  add(bytes: number): void {
    this.files++;
    this.bytes += bytes;
    const now = this.now();
    if (now - this.last < (this.tty ? 100 : 2000)) return;
    this.last = now;
    this.drawn = true;
    this.write(this.tty ? `\r${this.line()}\u001b[K` : `${this.line()}\n`);
  }

  /** Seconds since the start; ends the redrawn line (the summary follows it). */
  finish(): number {
    if (this.tty && this.drawn) this.write(`\r${this.line()}\u001b[K\n`);
    return (this.now() - this.started) / 1000;
  }

  private line(): string {
    const s = (this.now() - this.started) / 1000;
    const rate = rateMBps(this.bytes, s);
    const width = 24;
    const frac = this.totalBytes > 0 ? this.bytes / this.totalBytes : 1;
    const bar = "█".repeat(Math.round(frac * width)).padEnd(width, "░");
    const left = rate > 0 ? (this.totalBytes - this.bytes) / 1e6 / rate : 0;
    return `${bar} ${this.files}/${this.totalFiles} files, ${formatBytes(this.bytes)}/${formatBytes(this.totalBytes)}, ${rate.toFixed(1)} MB/s, ${s.toFixed(0)} s${this.bytes < this.totalBytes ? `, ~${left.toFixed(0)} s left` : ""}`;
  }
}
