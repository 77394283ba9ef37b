/** Wait for a file that another container writes once (the prepare verdict). */
import { lstat, readFile } from "node:fs/promises";

/** True when `file` exists, false when `stop` aborted first. Polls: a shared emptyDir offers
 * no portable change notification across containers. */
export async function waitForFile(file: string, stop: AbortSignal, pollMs = 250): Promise<boolean> {
  for (;;) {
    if (
      await lstat(file).then(
        () => true,
        () => false,
      )
    )
      return true;
    if (stop.aborted) return false;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, pollMs);
      stop.addEventListener(
        "abort",
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
  }
}

/** Whether the prepare verdict in `file` says ok (unreadable or malformed: not ok). */
export async function verdictOk(file: string): Promise<boolean> {
  try {
    const v = JSON.parse(await readFile(file, "utf8")) as { ok?: unknown };
    return v.ok === true;
  } catch {
    return false;
  }
}
