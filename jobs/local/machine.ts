/** What this machine offers a local run: GPUs and free ports. */
import { readdirSync } from "node:fs";
import { createServer } from "node:net";

/** GPUs a training process would see, like the launcher counts them: CUDA_VISIBLE_DEVICES
 * when set, else the NVIDIA device nodes /dev/nvidia0, /dev/nvidia1, ... */
export function visibleGpus(env: Readonly<Record<string, string | undefined>>): number {
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined)
    return visible.split(",").filter((d) => d.trim() !== "" && d.trim() !== "-1").length;
  try {
    return readdirSync("/dev").filter((n) => /^nvidia\d+$/.test(n)).length;
  } catch {
    return 0;
  }
}

/** A port on 127.0.0.1 free right now (for torchrun's rendezvous). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}
