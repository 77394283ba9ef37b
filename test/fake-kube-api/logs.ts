/**
 * Container logs as the kubelet keeps them: one buffer per container instance (a restart
 * starts a new one; `previous=true` reads the last terminated one), readable with
 * tailLines/sinceSeconds/sinceTime/timestamps/limitBytes, and followed until the
 * instance terminates.
 */
import type { ServerResponse } from "node:http";

interface LogLine {
  time: Date;
  text: string;
}

interface Instance {
  lines: LogLine[];
  terminated: boolean;
  followers: Set<{ res: ServerResponse; timestamps: boolean }>;
}

const key = (ns: string, pod: string, container: string) => `${ns}/${pod}/${container}`;

export interface LogQuery {
  previous: boolean;
  follow: boolean;
  tailLines?: number;
  sinceSeconds?: number;
  sinceTime?: Date;
  timestamps: boolean;
  limitBytes?: number;
}

export class LogStore {
  private readonly instances = new Map<string, Instance[]>();

  /** Whether the container has produced any instance (i.e. it has started at least once). */
  started(ns: string, pod: string, container: string): boolean {
    return (this.instances.get(key(ns, pod, container))?.length ?? 0) > 0;
  }

  /** The current instance's last line ("" when none): what `kubectl logs --tail=1` shows. */
  lastLine(ns: string, pod: string, container: string): string {
    const list = this.instances.get(key(ns, pod, container)) ?? [];
    const lines = list[list.length - 1]?.lines ?? [];
    return lines[lines.length - 1]?.text ?? "";
  }

  hasPrevious(ns: string, pod: string, container: string): boolean {
    return (this.instances.get(key(ns, pod, container))?.length ?? 0) > 1;
  }

  /** Start the container (or a restart of it): a new, empty log instance. */
  start(ns: string, pod: string, container: string): void {
    const k = key(ns, pod, container);
    const list = this.instances.get(k) ?? [];
    const last = list[list.length - 1];
    if (last) this.finish(last);
    list.push({ lines: [], terminated: false, followers: new Set() });
    this.instances.set(k, list);
  }

  write(ns: string, pod: string, container: string, text: string, time = new Date()): void {
    const k = key(ns, pod, container);
    if (!this.started(ns, pod, container)) this.start(ns, pod, container);
    const list = this.instances.get(k) as Instance[];
    const inst = list[list.length - 1] as Instance;
    const lines = text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
    for (const t of lines) {
      const line = { time, text: t };
      inst.lines.push(line);
      for (const f of inst.followers) f.res.write(format(line, f.timestamps));
    }
  }

  terminate(ns: string, pod: string, container: string): void {
    const list = this.instances.get(key(ns, pod, container));
    const last = list?.[list.length - 1];
    if (last) this.finish(last);
  }

  /** The pod is gone: end every stream of it. */
  removePod(ns: string, pod: string): void {
    for (const [k, list] of this.instances) {
      if (!k.startsWith(`${ns}/${pod}/`)) continue;
      for (const inst of list) this.finish(inst);
      this.instances.delete(k);
    }
  }

  /** Serve a log request; the caller has checked the pod and container exist and started. */
  serve(ns: string, pod: string, container: string, q: LogQuery, res: ServerResponse): void {
    const list = this.instances.get(key(ns, pod, container)) ?? [];
    const inst = q.previous ? list[list.length - 2] : list[list.length - 1];
    res.writeHead(200, { "content-type": "text/plain", "transfer-encoding": "chunked" });
    res.flushHeaders();
    if (!inst) {
      res.end();
      return;
    }
    let lines = inst.lines;
    const since =
      q.sinceTime ??
      (q.sinceSeconds === undefined ? undefined : new Date(Date.now() - q.sinceSeconds * 1000));
    if (since) lines = lines.filter((l) => l.time >= since);
    if (q.tailLines !== undefined) lines = q.tailLines === 0 ? [] : lines.slice(-q.tailLines);
    let body = lines.map((l) => format(l, q.timestamps)).join("");
    if (q.limitBytes !== undefined) body = Buffer.from(body).subarray(0, q.limitBytes).toString();
    res.write(body);
    if (!q.follow || q.previous || inst.terminated) {
      res.end();
      return;
    }
    const follower = { res, timestamps: q.timestamps };
    inst.followers.add(follower);
    res.on("close", () => inst.followers.delete(follower));
  }

  close(): void {
    for (const list of this.instances.values()) for (const inst of list) this.finish(inst);
  }

  private finish(inst: Instance): void {
    inst.terminated = true;
    for (const f of inst.followers) f.res.end();
    inst.followers.clear();
  }
}

const format = (l: LogLine, timestamps: boolean) =>
  (timestamps ? `${l.time.toISOString()} ` : "") + l.text + "\n";
