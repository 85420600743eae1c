import { describe, expect, it } from 'vitest';
import { createBackend } from '../../src/backend/index.js';
import { TokenStepper, sampleToken } from '../../src/eval/token-stepper.js';
import { PRESETS, validateConfig } from '../../src/model/config.js';
import { createModel, initModelParameters } from '../../src/model/models.js';
import { Rng } from '../../src/util/rng.js';

describe('token stepper for play', () => {
  it('matches the full-sequence logits and takes a sampled continuation back exactly', async () => {
    const config = validateConfig({ ...PRESETS.tiny, d_model: 16, n_layers: 2, dt_rank: 1, vocab_size: 32 }, 'test');
    const model = createModel(await createBackend('cpu'), config, initModelParameters(config, new Rng(2)));
    const stepper = new TokenStepper(model);
    const prefix = [15, 6, 4, 27, 9];
    await stepper.feed(prefix);
    const full = await model.logits(Int32Array.from([...prefix, 0, 27]), 1, 7);
    for (let v = 0; v < 32; v++) expect(stepper.logits![v]).toBeCloseTo(full[4 * 32 + v], 4);
    const snapshot = await stepper.snapshot();
    const a = Float32Array.from(await stepper.feed([0, 27]));
    for (let v = 0; v < 32; v++) expect(a[v]).toBeCloseTo(full[6 * 32 + v], 4);
    stepper.restore(snapshot);
    expect(stepper.fed).toBe(5);
    const b = await stepper.feed([0, 27]);
    expect(Array.from(b)).toEqual(Array.from(a));
    stepper.dispose();
  });

  it('samples by argmax at temperature 0, within the allowed tokens, and by softmax otherwise', () => {
    const logits = Float32Array.from([0, 5, 1, 4]);
    expect(sampleToken(logits, 0, Math.random)).toBe(1);
    expect(sampleToken(logits, 0, Math.random, [0, 2, 3])).toBe(3);
    const rng = new Rng(1);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[sampleToken(logits, 1, () => rng.nextFloat())]++;
    // softmax([0,5,1,4]) = [0.005, 0.70, 0.013, 0.26]
    expect(counts[1] / 4000).toBeCloseTo(0.705, 1);
    expect(counts[3] / 4000).toBeCloseTo(0.259, 1);
  });
});
