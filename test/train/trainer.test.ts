import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE, METRICS_FILE, MODEL_FILE, OPTIMIZER_FILE, STATE_FILE } from '../../src/train/checkpoint.js';
import { MetricsLog } from '../../src/train/metrics.js';
import { learningRateAt } from '../../src/train/schedule.js';
import { resumeTraining, startTraining, type NewRunRequest } from '../../src/train/trainer.js';
import { UserError } from '../../src/util/errors.js';

const SAMPLES = join(import.meta.dirname, '..', '..', 'datasets', 'samples', 'othello');
const root = mkdtempSync(join(tmpdir(), 'gamba-trainer-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function outDir(): string {
  return join(root, `run-${counter++}`);
}

/** A short run on the sample games: small enough for a test, long enough to cross a periodic save. */
function request(out: string, overrides: Partial<NewRunRequest> = {}): NewRunRequest {
  return {
    outDir: out,
    game: 'othello',
    data: SAMPLES,
    preset: 'tiny',
    backend: 'cpu',
    batch: 4,
    lr: 3e-3,
    weightDecay: 0.1,
    clip: 1.0,
    seed: 5,
    valEvery: 3,
    valGames: 8,
    saveEvery: 4,
    steps: 9,
    ...overrides,
  };
}

const HORIZON = 9;
const full = (async () => {
  const dir = outDir();
  const result = await startTraining(request(dir));
  return { dir, result, model: readFileSync(join(dir, MODEL_FILE)), optimizer: readFileSync(join(dir, OPTIMIZER_FILE)) };
})();

function expectUserError(error: unknown, pattern: RegExp): void {
  expect(error).toBeInstanceOf(UserError);
  expect((error as Error).message).toMatch(pattern);
  expect((error as Error).message).not.toContain('\n');
}

describe('trainer', () => {
  it('trains to its horizon and writes a complete checkpoint with metrics', async () => {
    const { dir, result } = await full;
    expect(result.steps).toBe(HORIZON);
    expect(result.stopped).toBe(false);
    expect(result.lossHistory).toHaveLength(HORIZON);
    expect(result.lossHistory.every(Number.isFinite)).toBe(true);
    // Cross-entropy over 61 tokens starts near ln(61) = 4.11 and goes down.
    expect(result.lossHistory[0]).toBeGreaterThan(3.5);
    expect(result.lossHistory[0]).toBeLessThan(4.7);
    expect(result.finalLoss).toBe(result.lossHistory[HORIZON - 1]);
    expect(result.valLoss).not.toBeNull();
    for (const file of [MODEL_FILE, CONFIG_FILE, OPTIMIZER_FILE, STATE_FILE, METRICS_FILE]) expect(existsSync(join(dir, file))).toBe(true);
    const metrics = new MetricsLog(join(dir, METRICS_FILE)).read();
    expect(metrics.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(metrics.map((m) => m.loss)).toEqual(result.lossHistory);
    expect(metrics.filter((m) => m.valLoss !== undefined).map((m) => m.step)).toEqual([3, 6, 9]);
    for (const m of metrics) {
      expect(m.lr).toBeGreaterThan(0);
      expect(m.gradNorm).toBeGreaterThan(0);
      expect(m.tokensPerSec).toBeGreaterThan(0);
    }
    const config = JSON.parse(readFileSync(join(dir, CONFIG_FILE), 'utf8'));
    expect(config).toMatchObject({ model_type: 'mamba', game: 'othello', preset: 'tiny', vocab_size: 61, use_bias: false, use_conv_bias: true });
    expect(config.hidden_size).toBe(config.d_model);
    expect(config.intermediate_size).toBe(config.expand * config.d_model);
  });

  it('is deterministic: same seed, same losses bit for bit; another seed differs', async () => {
    const { result } = await full;
    const again = await startTraining(request(outDir()));
    expect(again.lossHistory).toEqual(result.lossHistory);
    const other = await startTraining(request(outDir(), { seed: 6, steps: 2 }));
    expect(other.lossHistory[0]).not.toBe(result.lossHistory[0]);
  });

  it.each([1, 4, 6])('resumed after a stop at step %i ends on the same weights and losses as an uninterrupted run', async (stopAt) => {
    const { result, model, optimizer } = await full;
    const dir = outDir();
    const first = await startTraining(request(dir), { stopAfterStep: stopAt });
    expect(first.stopped).toBe(true);
    expect(first.steps).toBe(stopAt);
    const resumed = await resumeTraining({ outDir: dir });
    expect(resumed.steps).toBe(HORIZON);
    expect(resumed.lossHistory).toEqual(result.lossHistory);
    expect(readFileSync(join(dir, MODEL_FILE)).equals(model)).toBe(true);
    expect(readFileSync(join(dir, OPTIMIZER_FILE)).equals(optimizer)).toBe(true);
    // metrics.jsonl has every step once.
    expect(new MetricsLog(join(dir, METRICS_FILE)).read().map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('resumes from the last complete checkpoint when a later save died half-written', async () => {
    const { result, model } = await full;
    const dir = outDir();
    await startTraining(request(dir), { stopAfterStep: 5 });
    // A save killed while writing: partial temp files of a process that no longer exists, and metrics
    // lines past the checkpoint.
    writeFileSync(join(dir, `${MODEL_FILE}.tmp-4200001`), readFileSync(join(dir, MODEL_FILE)).subarray(0, 99));
    writeFileSync(join(dir, `${STATE_FILE}.tmp-4200001`), '{"format":"gamba-trainer-state","step":6,');
    writeFileSync(join(dir, METRICS_FILE), readFileSync(join(dir, METRICS_FILE), 'utf8') + '{"step":6,"loss":1}\n{"step":7,"lo');
    const notes: string[] = [];
    const resumed = await resumeTraining({ outDir: dir }, { note: (m) => notes.push(m) });
    expect(notes.join('\n')).toMatch(/discarded an incomplete checkpoint save/);
    expect(resumed.lossHistory).toEqual(result.lossHistory);
    expect(readFileSync(join(dir, MODEL_FILE)).equals(model)).toBe(true);
    expect(new MetricsLog(join(dir, METRICS_FILE)).read().map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('refuses truncated and mismatched checkpoints with one line naming the file', async () => {
    const base = outDir();
    await startTraining(request(base, { steps: 2 }), { stopAfterStep: 1 });
    const copy = (name: string) => {
      const dir = outDir();
      mkdirSync(dir);
      for (const file of [MODEL_FILE, CONFIG_FILE, OPTIMIZER_FILE, STATE_FILE]) {
        writeFileSync(join(dir, file), readFileSync(join(base, file)), { flag: 'w' });
      }
      return { dir, path: join(dir, name) };
    };
    const tryResume = async (dir: string) => {
      try {
        await resumeTraining({ outDir: dir });
      } catch (error) {
        return error;
      }
      throw new Error('resume should have been refused');
    };
    {
      const { dir, path } = copy(MODEL_FILE);
      truncateSync(path, 1000);
      expectUserError(await tryResume(dir), new RegExp(`^${path}: does not match the hash`));
    }
    {
      const { dir, path } = copy(CONFIG_FILE);
      const config = JSON.parse(readFileSync(path, 'utf8'));
      writeFileSync(path, JSON.stringify({ ...config, d_model: config.d_model * 2 }));
      expectUserError(await tryResume(dir), new RegExp(`^${path}: does not match the hash`));
    }
    {
      const { dir, path } = copy(STATE_FILE);
      writeFileSync(path, readFileSync(path, 'utf8').slice(0, 200));
      expectUserError(await tryResume(dir), new RegExp(`^${path}: not valid JSON`));
    }
    {
      const { dir } = copy(STATE_FILE);
      rmSync(join(dir, OPTIMIZER_FILE));
      expectUserError(await tryResume(dir), /optimizer\.safetensors: missing/);
    }
    await expect(resumeTraining({ outDir: base, given: { lr: 0.5 } })).rejects.toThrow(/--lr 0\.5 differs from this run's 0\.003/);
    await expect(startTraining(request(base))).rejects.toThrow(/already holds a checkpoint: add --resume .* or --force/);
  });

  it('settles a --minutes horizon at the end of warmup and follows the schedule of that horizon from the first step', async () => {
    const dir = outDir();
    const notes: string[] = [];
    const result = await startTraining(request(dir, { steps: undefined, minutes: 0.15, valEvery: 50, saveEvery: 1000 }), { note: (m) => notes.push(m) });
    const state = JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as { run: { horizon: number; warmup: number; lr: number; minLr: number } };
    const { horizon, warmup, lr, minLr } = state.run;
    expect(notes.some((n) => n.includes(`settled at step ${warmup}: horizon ${horizon} steps`))).toBe(true);
    expect(result.steps).toBe(horizon);
    const rates = readFileSync(join(dir, METRICS_FILE), 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { lr: number }).lr);
    expect(rates).toHaveLength(horizon);
    rates.forEach((rate, step) => expect(rate).toBe(learningRateAt(step, { lr, minLr, warmup, horizon })));
  });
});
