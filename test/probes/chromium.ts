/** Loads a page in headless Chromium (Debian's) and returns its DOM and the page-problem lines it logged. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

export function loadInChromium(page: string, scratch: string): { status: number | null; dom: string; problems: string[] } {
  const profile = mkdtempSync(join(scratch, 'profile-'));
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`];
  const result = spawnSync(CHROMIUM, [...flags, '--enable-logging=stderr', '--v=0', '--dump-dom', `file://${page}`], { encoding: 'utf8', timeout: 60_000 });
  // Page problems (console messages, failed loads) are logged as CONSOLE lines on stderr.
  const problems = (result.stderr ?? '').split('\n').filter((line) => /CONSOLE|Uncaught|Failed to load resource/.test(line));
  return { status: result.status, dom: result.stdout ?? '', problems };
}
