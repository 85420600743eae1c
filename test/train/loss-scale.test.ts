/**
 * Mixed precision's loss scaling: the scaler's schedule (halve once per overflow, double after 2000
 * clean steps, a fixed 1 in f32, resumed exactly), and the property that makes it safe to use: a
 * power-of-two scale on the loss gradient, divided out by the clip, gives the same bits as no scale
 * (the cpu backend, and the webgpu one in f32 where there is an adapter). A non-finite gradient makes the
 * clip answer 0 and AdamW skip the step.
 */
import { describe, expect, it } from 'vitest';
import { BatchStream } from '../../datasets/batches.js';
import { openDataset } from '../../datasets/reader.js';
import type { Backend } from '../../src/backend/backend.js';
import { createBackend } from '../../src/backend/index.js';
import { configFromPreset } from '../../src/model/config.js';
import { createModel, initModelParameters } from '../../src/model/models.js';
import { LossScaler } from '../../src/train/loss-scale.js';
import { AdamW } from '../../src/train/optimizer.js';
import { checkResumeFlags, validateTrainerState, type RunSpec } from '../../src/train/run-spec.js';
import { trainStep } from '../../src/train/step.js';
import { Rng } from '../../src/util/rng.js';
import { gpu } from '../backend/webgpu/gpu-fixture.js';

describe('LossScaler', () => {
  it('halves once per overflow, skips that step, and doubles after 2000 clean steps', () => {
    const scaler = LossScaler.start('mixed');
    expect(scaler.scale).toBe(2 ** 16);
    expect(scaler.afterStep(2 ** 16, false)).toBe(false);
    expect(scaler.scale).toBe(2 ** 15);
    // a step queued at the old scale before the overflow was read: skipped, no second halving
    expect(scaler.afterStep(2 ** 16, false)).toBe(false);
    expect(scaler.scale).toBe(2 ** 15);
    for (let i = 0; i < 1999; i++) expect(scaler.afterStep(2 ** 15, true)).toBe(true);
    expect(scaler.scale).toBe(2 ** 15);
    scaler.afterStep(2 ** 15, true);
    expect(scaler.scale).toBe(2 ** 16);
    expect(scaler.saved()).toEqual({ scale: 2 ** 16, cleanSteps: 0 });
  });

  it('never goes below 1, and resumes from its saved state', () => {
    const resumed = LossScaler.resume('mixed', { scale: 2, cleanSteps: 7 });
    resumed.afterStep(2, false);
    resumed.afterStep(1, false);
    expect(resumed.scale).toBe(1);
    const again = LossScaler.resume('mixed', { scale: 4, cleanSteps: 1999 });
    again.afterStep(4, true);
    expect(again.saved()).toEqual({ scale: 8, cleanSteps: 0 });
  });

  it('is a fixed 1 in f32, with nothing to save', () => {
    const scaler = LossScaler.resume('f32', { scale: 64, cleanSteps: 3 });
    expect(scaler.scale).toBe(1);
    expect(scaler.afterStep(1, false)).toBe(false);
    expect(scaler.scale).toBe(1);
    expect(scaler.saved()).toBeUndefined();
  });
});

/** Three training steps at loss scale `scale`: the parameters, AdamW's moments, losses and norms. */
async function train(backend: Backend, preset: string, scale: number) {
  const config = configFromPreset(preset, 61, 59);
  const model = createModel(backend, config, initModelParameters(config, new Rng(5)));
  const optimizer = new AdamW(backend, model.packed, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  const dataset = openDataset('datasets/samples/othello');
  const stream = new BatchStream(dataset, 'train', 6, 5);
  // clip 0.5 clips the first steps, so the division inside the clip is exercised too
  const steps = [];
  for (let s = 0; s < 3; s++) steps.push(await trainStep(backend, model, optimizer, stream.next(), 3e-3, 0.5, scale));
  dataset.close();
  const state = await optimizer.exportState();
  return { steps, params: await model.exportParameters(), m: state.m, v: state.v };
}

const backends: [string, () => Promise<Backend> | Backend | null][] = [['cpu', () => createBackend('cpu')], ['webgpu f32', () => gpu]];

describe.each(backends)('a power-of-two loss scale on %s', (label, open) => {
  it.each(['tiny', 'quickstart-gpt'])('%s: three steps at scale 2^16 give the bits of three steps unscaled', async (preset) => {
    const backend = await open();
    if (!backend) return expect(label).toBe('webgpu f32'); // no adapter: the cpu case still ran
    const plain = await train(backend, preset, 1);
    const scaled = await train(backend, preset, 2 ** 16);
    expect(scaled.steps).toEqual(plain.steps);
    expect(plain.steps[0].gradNorm).toBeGreaterThan(0.5);
    for (const [what, want] of Object.entries({ params: plain.params, m: plain.m, v: plain.v })) {
      const got = scaled[what as 'params' | 'm' | 'v'];
      for (const [name, values] of want) expect(got.get(name), `${what} ${name}`).toEqual(values);
    }
  });

  it('a non-finite gradient makes the clip answer 0 and AdamW skip the step', async () => {
    const backend = await open();
    if (!backend) return;
    const squares = [backend.upload(new Float32Array([4]), [1]), backend.upload(new Float32Array([Infinity]), [1])];
    const clip = backend.clipScale(squares, 1, 2 ** 10);
    const [scale, norm] = await backend.download(clip);
    expect(scale).toBe(0);
    expect(norm).toBe(Infinity);
    const param = backend.upload(new Float32Array([1, -2]), [2]);
    const m = backend.upload(new Float32Array([0.1, 0.2]), [2]);
    const v = backend.upload(new Float32Array([0.3, 0.4]), [2]);
    backend.adamwUpdate(param, backend.upload(new Float32Array([NaN, Infinity]), [2]), m, v, { lr: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 1, gradScale: clip });
    expect(Array.from(await backend.download(param))).toEqual([1, -2]);
    expect(Array.from(await backend.download(m))).toEqual([Math.fround(0.1), Math.fround(0.2)]);
    expect(Array.from(await backend.download(v))).toEqual([Math.fround(0.3), Math.fround(0.4)]);
  });

  it('the clip divides the scale out of the norm and the factor', async () => {
    const backend = await open();
    if (!backend) return;
    // gradients of norm 5 carried at scale 8: sums of squares 64 * (9 + 16)
    const squares = [backend.upload(new Float32Array([64 * 9]), [1]), backend.upload(new Float32Array([64 * 16]), [1])];
    expect(Array.from(await backend.download(backend.clipScale(squares, 2, 8)))).toEqual([Math.fround(2 / 5 / 8), 5]);
    expect(Array.from(await backend.download(backend.clipScale(squares, 0, 8)))).toEqual([1 / 8, 5]);
  });
});

describe('precision in the trainer state', () => {
  const run = { precision: undefined } as unknown as RunSpec;

  it('a state from before --precision resumes as f32, and a different --precision is refused', () => {
    expect(() => checkResumeFlags(run, { precision: 'f32' }, 'state.json')).not.toThrow();
    expect(() => checkResumeFlags(run, { precision: 'mixed' }, 'state.json')).toThrow(/^--precision mixed differs from this run's f32 \(recorded in state.json\)/);
  });

  it('a damaged precision or loss scale is refused in one line', () => {
    const base = { format: 'gamba-trainer-state', version: 1, step: 0, lossHistory: [], dataPosition: {}, valHistory: [] };
    const spec = Object.fromEntries(['game', 'data', 'dataFingerprint', 'preset', 'backend', 'batch', 'lr', 'minLr', 'warmup', 'weightDecay', 'beta1', 'beta2', 'eps', 'clip', 'seed', 'valEvery', 'valGames', 'saveEvery', 'horizon', 'minutes'].map((k) => [k, 1]));
    expect(() => validateTrainerState({ ...base, run: { ...spec, precision: 'f16' } }, 's.json')).toThrow(/^s\.json: run\.precision "f16" is not f32 or mixed/);
    expect(() => validateTrainerState({ ...base, run: spec, lossScale: { scale: 0.5, cleanSteps: 0 } }, 's.json')).toThrow(/^s\.json: lossScale is not \{scale, cleanSteps\}/);
    expect(validateTrainerState({ ...base, run: { ...spec, precision: 'mixed' }, lossScale: { scale: 1024, cleanSteps: 3 } }, 's.json').lossScale).toEqual({ scale: 1024, cleanSteps: 3 });
  });
});
