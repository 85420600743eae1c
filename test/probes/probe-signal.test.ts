/** A probe run stopped by a signal removes its scratch directory (activations can take gigabytes). */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gambaPath, requireBuiltCli } from '../cli-runner.js';
import { writeTinyCheckpoint } from '../eval/play-fixtures.js';

const SAMPLES = 'datasets/samples/othello';
const root = mkdtempSync(join(tmpdir(), 'gamba-probe-signal-'));
const checkpoint = writeTinyCheckpoint(join(root, 'model'), 'othello');
beforeAll(() => requireBuiltCli());
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('gamba probe stopped by a signal', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`removes its scratch directory on ${signal} and dies by it`, async () => {
      // Its own temp directory, so the scratch directory is the only thing in it.
      const temp = join(root, `tmp-${signal}`);
      mkdirSync(temp);
      const child = spawn(process.execPath, [gambaPath, 'probe', '--checkpoint', checkpoint, '--data', SAMPLES, '--games', '5000', '--eval-games', '500',
        '--backend', 'cpu', '--out', join(root, `report-${signal}`)], { env: { ...process.env, TMPDIR: temp }, stdio: 'ignore' });
      const exited = new Promise<NodeJS.Signals | null>((done) => child.on('exit', (_code, s) => done(s)));
      // Wait until the scratch directory holds captured activations, then stop the run.
      const deadline = Date.now() + 60_000;
      while (!(readdirSync(temp).length > 0 && readdirSync(join(temp, readdirSync(temp)[0])).length > 0) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(readdirSync(temp)[0]).toMatch(/^gamba-probe-/);
      child.kill(signal);
      expect(await exited).toBe(signal);
      expect(readdirSync(temp)).toEqual([]);
      expect(existsSync(join(root, `report-${signal}`, 'report.json'))).toBe(false);
    }, 90_000);
  }
});
