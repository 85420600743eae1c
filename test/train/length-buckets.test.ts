/**
 * train --length-buckets: a row cut after its game's last target trains exactly as the full row, and a
 * run in length classes counts the games it read, resumes on the same weights and keeps its setting.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import { BatchStream, maskedInputsTargets, neededLength } from '../../datasets/batches.js';
import { openDataset } from '../../datasets/reader.js';
import { configFromPreset } from '../../src/model/config.js';
import { createModel, initModelParameters } from '../../src/model/models.js';
import { MODEL_FILE, STATE_FILE } from '../../src/train/checkpoint.js';
import { AdamW } from '../../src/train/optimizer.js';
import { trainStep } from '../../src/train/step.js';
import { resumeTraining, startTraining, type NewRunRequest } from '../../src/train/trainer.js';
import { Rng } from '../../src/util/rng.js';
import { RECORD_LENGTH, syntheticRecords, writeSyntheticDataset } from '../datasets/synthetic-records.js';

const root = mkdtempSync(join(tmpdir(), 'gamba-length-buckets-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const data = mkdtempSync(join(root, 'data-'));
const train = syntheticRecords(40, 21);
writeSyntheticDataset(data, train, syntheticRecords(8, 22), 16);

describe('a row cut to its game', () => {
  it.each(['tiny', 'quickstart-gpt'])('gives the %s the same loss, gradient norm and updated weights as the full row', async (preset) => {
    // four games that all fit in 29 inputs
    const games = [...Array(40).keys()].filter((g) => neededLength(train.subarray(g * RECORD_LENGTH, (g + 1) * RECORD_LENGTH), 0) <= 29).slice(0, 4);
    expect(games).toHaveLength(4);
    const rowsOf = (length: number) => {
      const inputs = new Int32Array(4 * length);
      const targets = new Int32Array(4 * length);
      games.forEach((g, b) => maskedInputsTargets(train.subarray(g * RECORD_LENGTH, (g + 1) * RECORD_LENGTH), 0, 'token', null, inputs, targets, b * length, length));
      return { inputs, targets, batch: 4, length };
    };
    const config = configFromPreset(preset, 61, RECORD_LENGTH - 1);
    const params = initModelParameters(config, new Rng(3, 1));
    const stepOn = async (length: number) => {
      const be = new CpuBackend();
      const model = createModel(be, config, params);
      const optimizer = new AdamW(be, model.packed, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
      const batch = rowsOf(length);
      const before = await model.lossOnly(batch.inputs, batch.targets, 4, length);
      const { loss, gradNorm } = await trainStep(be, model, optimizer, batch, 1e-3, 0);
      return { before, loss, gradNorm, weights: await model.exportParameters() };
    };
    const full = await stepOn(RECORD_LENGTH - 1);
    const cut = await stepOn(29);
    expect(cut.before).toBeCloseTo(full.before, 5);
    expect(cut.loss).toBeCloseTo(full.loss, 5);
    expect(Math.abs(cut.gradNorm - full.gradNorm)).toBeLessThan(1e-5 * full.gradNorm);
    for (const [name, w] of full.weights) {
      const other = cut.weights.get(name)!;
      let worst = 0;
      for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(w[i] - other[i]));
      expect(worst, name).toBeLessThan(1e-6);
    }
  });
});

describe('train --length-buckets', () => {
  const request = (out: string, overrides: Partial<NewRunRequest> = {}): NewRunRequest => ({
    outDir: out, game: 'othello', data, preset: 'tiny', backend: 'cpu', batch: 4, lr: 3e-3, weightDecay: 0.1,
    clip: 1, seed: 5, valEvery: 3, valGames: 8, saveEvery: 4, steps: 9, lengthBuckets: 3, ...overrides,
  });

  it('records the games it read, resumes on the same weights, and refuses another setting on resume', async () => {
    const whole = join(root, 'whole');
    const result = await startTraining(request(whole));
    expect(result.run.lengthBuckets).toBe(3);
    // the games of the stream's first nine batches, read independently
    const stream = new BatchStream(openDataset(data), 'train', 4, 5, null, 3);
    let games = 0;
    const lengths = new Set<number>();
    for (let i = 0; i < 9; i++) {
      const batch = stream.next();
      games += batch.games;
      lengths.add(batch.length);
    }
    expect(lengths.size).toBeGreaterThan(1);
    const state = JSON.parse(readFileSync(join(whole, STATE_FILE), 'utf8'));
    expect(state.games).toBe(games);
    expect(result.gamesPerSec).toBeGreaterThan(0);

    const stopped = join(root, 'stopped');
    await startTraining(request(stopped), { stopAfterStep: 4 });
    await expect(resumeTraining({ outDir: stopped, given: { lengthBuckets: 2 } })).rejects.toThrow(/--length-buckets 2 differs from this run's 3/);
    const resumed = await resumeTraining({ outDir: stopped });
    expect(resumed.lossHistory).toEqual(result.lossHistory);
    expect(readFileSync(join(stopped, MODEL_FILE)).equals(readFileSync(join(whole, MODEL_FILE)))).toBe(true);
    expect(JSON.parse(readFileSync(join(stopped, STATE_FILE), 'utf8')).games).toBe(games);

    // more classes than lengths: refused before the run's directory is made
    await expect(startTraining(request(join(root, 'refused'), { lengthBuckets: 60 }))).rejects.toThrow('--length-buckets 60: records of 60 tokens have at most 59 lengths');
    expect(existsSync(join(root, 'refused'))).toBe(false);

    // a --minutes run times its horizon on the run's own stream and puts it back: it starts on the same batches
    const timed = await startTraining(request(join(root, 'timed'), { steps: undefined, minutes: 0.05, warmup: 4 }), { stopAfterStep: 3 });
    const counted = await startTraining(request(join(root, 'counted'), { steps: 50, warmup: 4 }), { stopAfterStep: 3 });
    expect(timed.lossHistory).toEqual(counted.lossHistory);

    // without buckets a run reads batch x steps games, in full rows
    const plain = await startTraining(request(join(root, 'plain'), { lengthBuckets: undefined }));
    expect(plain.run.lengthBuckets).toBeUndefined();
    expect(JSON.parse(readFileSync(join(root, 'plain', STATE_FILE), 'utf8')).games).toBe(36);
  });
});
