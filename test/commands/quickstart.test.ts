/** `gamba quickstart` refuses bad input up front, before it generates games or trains. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireBuiltCli } from '../cli-runner.js';

const REPO = join(import.meta.dirname, '..', '..');
requireBuiltCli();
const root = mkdtempSync(join(tmpdir(), 'gamba-quickstart-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function quickstart(...args: string[]) {
  const run = spawnSync(process.execPath, [join(REPO, 'bin', 'gamba.js'), 'quickstart', ...args], { encoding: 'utf8' });
  return { status: run.status, stderr: run.stderr };
}

describe('gamba quickstart', () => {
  it('refuses a checkpoint already in --out without --force, before generating its games', () => {
    const out = join(root, 'trained');
    rmSync(out, { recursive: true, force: true });
    // Any of the checkpoint files marks the directory as holding a checkpoint.
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'config.json'), '{}');
    const run = quickstart('--out', out);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/already holds a quickstart checkpoint: add --force/);
    expect(existsSync(join(out, 'train-data'))).toBe(false);
  });

  it('refuses a training time that is not a positive number', () => {
    const run = quickstart('--out', join(root, 'bad'), '--minutes', '0');
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/--minutes: expected a number > 0, got 0/);
    expect(existsSync(join(root, 'bad'))).toBe(false);
  });
});
