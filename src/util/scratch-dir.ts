/**
 * A scratch directory that lives as long as a piece of work: removed when the work ends, fails, or the
 * process is stopped by a signal (Ctrl-C, `kill`, a closed terminal), which would otherwise leave it in
 * the temp directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Runs `work` with a fresh directory `<tmpdir>/<prefix>XXXXXX` and removes it afterwards, whatever happens. */
export async function withScratchDir<T>(prefix: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const onSignal = (signal: NodeJS.Signals) => {
    remove();
    for (const s of STOP_SIGNALS) process.removeListener(s, onSignal);
    // With our listener gone, the signal again does what it would have done: stop the process.
    process.kill(process.pid, signal);
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  try {
    return await work(dir);
  } finally {
    for (const s of STOP_SIGNALS) process.removeListener(s, onSignal);
    remove();
  }
}
