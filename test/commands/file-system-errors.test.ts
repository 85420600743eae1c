/**
 * A file-system failure the flags lead to (here an --out inside a regular file), through the compiled
 * CLI (`npx tsc -p .` first; `npm test` does it): one line naming the call and the path, a non-zero
 * exit, no stack trace, and nothing written.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gamba, requireBuiltCli } from '../cli-runner.js';

const root = mkdtempSync(join(tmpdir(), 'gamba-fs-errors-'));
const notADirectory = join(root, 'plain-file');

beforeAll(() => {
  requireBuiltCli();
  writeFileSync(notADirectory, 'not a directory\n');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('an --out inside a regular file', () => {
  it('play stops with the system error on one line', () => {
    const out = join(notADirectory, 'match');
    const run = gamba('play', '--game', 'othello', '--checkpoint', 'models/othello-base', '--opponent', 'greedy', '--games', '1', '--backend', 'cpu', '--out', out);
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(`gamba: ENOTDIR: not a directory, mkdir '${out}'\n`);
    expect(readdirSync(root)).toEqual(['plain-file']);
  });

  it('generate names the --out and the file in its way', () => {
    const run = gamba('generate', 'othello', '--games', '10', '--seed', '1', '--out', join(notADirectory, 'games'));
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(`gamba: ${join(notADirectory, 'games')}: ${notADirectory} is not a directory\n`);
    expect(readdirSync(root)).toEqual(['plain-file']);
  });
});
