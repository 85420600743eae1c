/**
 * `gamba train --d-state N` (the d_state sweep): a Mamba preset with another state size, recorded in the
 * run and in config.json, so a resume, eval and probe rebuild the same model; refused for a transformer
 * and beyond what the GPU scan holds.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE } from '../../src/train/checkpoint.js';
import { resumeTraining, startTraining, type NewRunRequest } from '../../src/train/trainer.js';
import { gamba, requireBuiltCli } from '../cli-runner.js';

const SAMPLES = join(import.meta.dirname, '..', '..', 'datasets', 'samples', 'othello');
const root = mkdtempSync(join(tmpdir(), 'gamba-dstate-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const request = (out: string, overrides: Partial<NewRunRequest> = {}): NewRunRequest => ({
  outDir: join(root, out), game: 'othello', data: SAMPLES, preset: 'tiny', backend: 'cpu', batch: 4, lr: 3e-3, weightDecay: 0.1,
  clip: 1, seed: 3, valEvery: 10, valGames: 4, saveEvery: 100, steps: 6, dState: 4, ...overrides,
});

describe('--d-state', () => {
  it('trains the preset with that state size, records it, and resumes the same model bit for bit', async () => {
    const straight = await startTraining(request('straight'));
    expect(straight.run.dState).toBe(4);
    const config = JSON.parse(readFileSync(join(straight.outDir, CONFIG_FILE), 'utf8'));
    expect(config.d_state).toBe(4);
    expect(config.state_size).toBe(4);
    await startTraining(request('stopped'), { stopAfterStep: 3 });
    const resumed = await resumeTraining({ outDir: join(root, 'stopped') });
    expect(resumed.lossHistory).toEqual(straight.lossHistory);
    // another state size is another model: the losses differ from the preset's own d_state 16
    const preset = await startTraining(request('preset', { dState: undefined }));
    expect(preset.lossHistory).not.toEqual(straight.lossHistory);
  });

  it('is a flag that eval follows through config.json, and one of bench train; refused for a transformer and above 256', () => {
    requireBuiltCli();
    const out = join(root, 'cli');
    const run = gamba('train', '--game', 'othello', '--data', SAMPLES, '--preset', 'tiny', '--d-state', '2', '--backend', 'cpu', '--batch', '4', '--steps', '2', '--out', out);
    expect(run.status, run.stderr).toBe(0);
    expect(gamba('eval', '--checkpoint', out, '--data', SAMPLES, '--games', '3', '--backend', 'cpu').status).toBe(0);
    const gpt = gamba('train', '--game', 'othello', '--data', SAMPLES, '--preset', 'quickstart-gpt', '--d-state', '4', '--steps', '2', '--out', join(root, 'gpt'));
    expect(gpt.status).not.toBe(0);
    expect(gpt.stderr).toMatch(/--d-state: preset quickstart-gpt is a transformer, which has no SSM state/);
    const big = gamba('train', '--game', 'othello', '--data', SAMPLES, '--preset', 'tiny', '--d-state', '300', '--steps', '2', '--out', join(root, 'big'));
    expect(big.status).not.toBe(0);
    expect(big.stderr).toMatch(/--d-state: expected an integer from 1 to 256, got 300/);
    const bench = gamba('bench', 'train', '--preset', 'tiny', '--d-state', '4', '--backend', 'cpu', '--batch', '2', '--steps', '1', '--json');
    expect(bench.status, bench.stderr).toBe(0);
    expect(JSON.parse(bench.stdout).parameters).toBeLessThan(JSON.parse(gamba('bench', 'train', '--preset', 'tiny', '--backend', 'cpu', '--batch', '2', '--steps', '1', '--json').stdout).parameters);
  });
});
