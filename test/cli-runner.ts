/** Runs the built CLI (`node bin/gamba.js ...`) from the repository root, for the CLI suites. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI's entry point, relative to the repository root (the tests' working directory). */
export const gambaPath = 'bin/gamba.js';

export function gamba(...args: string[]): CliRun {
  const run = spawnSync(process.execPath, [gambaPath, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Fails the suite up front when dist/ has not been built (npm test builds it in pretest). */
export function requireBuiltCli(): void {
  if (!existsSync('dist/src/cli.js')) throw new Error('dist/src/cli.js is missing: run `npx tsc -p .` first (npm test does)');
}
