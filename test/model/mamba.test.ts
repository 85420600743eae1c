/**
 * The Mamba LM on the cpu backend against a float64 reference written from the HF definition:
 * logits, the gradient of every parameter tensor (a sample of entries, central differences, h = 1e-5,
 * |a - n| <= 2e-4 * max|n| of the tensor + 2e-3 |n|), the step path against the sequence path.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import { validateConfig, type MambaConfig } from '../../src/model/config.js';
import { MambaLM } from '../../src/model/mamba.js';
import { initParameters, parameterShapes } from '../../src/model/params.js';
import { Rng } from '../../src/util/rng.js';
import { numericGradient, randomArray, type F64 } from '../backend/reference.js';
import { referenceLogits, referenceLoss } from './reference-model.js';

function microConfig(tie: boolean): MambaConfig {
  return validateConfig(
    { d_model: 8, n_layers: 2, d_state: 4, expand: 2, d_conv: 4, dt_rank: 2, vocab_size: 7, tie_embeddings: tie, layer_norm_epsilon: 1e-5, pad_token_id: 0 },
    'micro config',
  ) as MambaConfig;
}

/**
 * Parameters with the mamba.py init perturbed by larger random values, so that every path carries a
 * gradient well above float32 noise (at init, out_proj at std 0.02 / sqrt(n) makes the blocks tiny).
 */
function spreadParameters(config: MambaConfig, seed: number): Map<string, Float32Array> {
  const params = initParameters(config, new Rng(seed));
  let k = 0;
  for (const [name, value] of params) {
    const noise = randomArray(value.length, seed * 100 + k++, -0.3, 0.3);
    for (let i = 0; i < value.length; i++) value[i] += name.endsWith('dt_proj.bias') ? noise[i] : noise[i] * (name.endsWith('A_log') ? 1 : 1.5);
  }
  return params;
}

/** spreadParameters with the pad token's embedding row set to `value`. */
function spreadParametersWithPad(config: MambaConfig, seed: number, value: number): Map<string, Float32Array> {
  const params = spreadParameters(config, seed);
  params.get('backbone.embeddings.weight')!.fill(value, config.pad_token_id * config.d_model, (config.pad_token_id + 1) * config.d_model);
  return params;
}

function toF64(params: Map<string, Float32Array>): Map<string, F64> {
  return new Map([...params].map(([k, v]) => [k, Float64Array.from(v)]));
}

function tokens(n: number, V: number, seed: number): Int32Array {
  const r = randomArray(n, seed, 0, V);
  return Int32Array.from(r, (v) => Math.floor(v));
}

describe('MambaLM forward', () => {
  for (const tie of [true, false]) {
    it(`logits match the float64 reference (tie_embeddings=${tie})`, async () => {
      const config = microConfig(tie);
      const params = spreadParameters(config, 3);
      const model = new MambaLM(new CpuBackend(), config, params);
      const B = 2, L = 6;
      const ids = tokens(B * L, config.vocab_size, 5);
      const logits = await model.logits(ids, B, L);
      const ref = referenceLogits(config, toF64(params), ids, B, L);
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(logits[i] - ref[i]));
      expect(worst).toBeLessThan(1e-4);
    });
  }
});

describe('MambaLM gradients', () => {
  for (const tie of [true, false]) {
    it(`every parameter tensor against central differences (tie_embeddings=${tie})`, async () => {
      const config = microConfig(tie);
      const params = spreadParameters(config, 7);
      const be = new CpuBackend();
      const model = new MambaLM(be, config, params);
      const B = 2, L = 5;
      const inputs = tokens(B * L, config.vocab_size, 11);
      const targets = tokens(B * L, config.vocab_size, 12);
      targets[3] = -1;
      targets[9] = -1;
      const loss = (await be.download(model.forwardBackward(inputs, targets, B, L)))[0];
      const ref = toF64(params);
      expect(loss).toBeCloseTo(referenceLoss(config, ref, inputs, targets, B, L), 5);
      const names = parameterShapes(config).map(([name]) => name);
      expect([...model.grads.keys()]).toEqual(names);
      const pick = new Rng(13);
      for (const name of names) {
        const x = ref.get(name)!;
        // Six entries per tensor (all of the small ones).
        const indices = x.length <= 6 ? [...x.keys()] : Array.from({ length: 6 }, () => pick.nextInt(x.length));
        const numeric = numericGradient(() => referenceLoss(config, ref, inputs, targets, B, L), x, indices);
        const analytic = await be.download(model.grads.get(name)!);
        const scale = Math.max(...[...numeric.values()].map(Math.abs), 1e-3);
        for (const [i, n] of numeric) {
          expect(Math.abs(analytic[i] - n), `${name}[${i}]: ${analytic[i]} vs ${n}`).toBeLessThanOrEqual(2e-4 * scale + 2e-3 * Math.abs(n));
        }
      }
    });
  }

  it('overwrites the gradients on each call, and lossOnly gives the same loss', async () => {
    const config = microConfig(true);
    const be = new CpuBackend();
    const model = new MambaLM(be, config, spreadParameters(config, 17));
    const inputs = tokens(8, config.vocab_size, 19);
    const targets = tokens(8, config.vocab_size, 20);
    const first = (await be.download(model.forwardBackward(inputs, targets, 2, 4)))[0];
    const g1 = await be.download(model.grads.get('backbone.layers.1.mixer.in_proj.weight')!);
    const e1 = await be.download(model.grads.get('backbone.embeddings.weight')!);
    const second = (await be.download(model.forwardBackward(inputs, targets, 2, 4)))[0];
    expect(second).toBe(first);
    expect(await be.download(model.grads.get('backbone.layers.1.mixer.in_proj.weight')!)).toEqual(g1);
    expect(await be.download(model.grads.get('backbone.embeddings.weight')!)).toEqual(e1);
    expect(await model.lossOnly(inputs, targets, 2, 4)).toBeCloseTo(first, 6);
  });

  it('padding after a game enters training as zero rows: even an infinite pad embedding changes no loss or gradient', async () => {
    // An infinite pad embedding stands for activations that overflow f16 in the deep layers of a mixed-
    // precision step: fed as such, the padding rows turn NaN and 0 x NaN spoils the weight gradients.
    // Untied, so the head's logit of the pad token stays that of the finite model.
    const config = microConfig(false);
    const B = 2, L = 6;
    const inputs = tokens(B * L, config.vocab_size, 23).map((t) => (t === config.pad_token_id ? 1 : t));
    const targets = tokens(B * L, config.vocab_size, 24).map((t) => (t === config.pad_token_id ? 2 : t));
    // the first game ends after 3 moves: the rest of its row is padding, its targets not counted
    for (let t = 3; t < L; t++) inputs[t] = config.pad_token_id;
    for (let t = 2; t < L; t++) targets[t] = -1;
    const run = async (padValue: number) => {
      const params = spreadParametersWithPad(config, 29, padValue);
      const be = new CpuBackend();
      const model = new MambaLM(be, config, params);
      const loss = (await be.download(model.forwardBackward(inputs, targets, B, L)))[0];
      const grads = new Map<string, Float32Array>();
      for (const [name, g] of model.grads) grads.set(name, await be.download(g));
      return { loss, grads };
    };
    const plain = await run(0.5);
    const huge = await run(Infinity);
    expect(Number.isFinite(huge.loss)).toBe(true);
    expect(huge.loss).toBe(plain.loss);
    for (const [name, g] of plain.grads) {
      expect(g.every(Number.isFinite), name).toBe(true);
      expect(huge.grads.get(name), name).toEqual(g);
    }
    // and the counted positions are those of the float64 reference, which knows nothing of padding
    expect(plain.loss).toBeCloseTo(referenceLoss(config, toF64(spreadParametersWithPad(config, 29, 0.5)), inputs, targets, B, L), 5);
  });

  it('refuses parameters that do not fit the config, naming the tensor', () => {
    const config = microConfig(true);
    const params = initParameters(config, new Rng(1));
    params.set('backbone.layers.0.mixer.D', new Float32Array(3));
    expect(() => new MambaLM(new CpuBackend(), config, params)).toThrow(/backbone\.layers\.0\.mixer\.D has 3 values, expected \[16\]/);
    const missing = initParameters(config, new Rng(1));
    missing.delete('backbone.norm_f.weight');
    expect(() => new MambaLM(new CpuBackend(), config, missing)).toThrow(/backbone\.norm_f\.weight \[8\] is missing/);
    const extra = initParameters(config, new Rng(1));
    extra.set('lm_head.weight', new Float32Array(56));
    expect(() => new MambaLM(new CpuBackend(), config, extra)).toThrow(/unexpected model parameter lm_head\.weight/);
  });
});

describe('MambaLM step', () => {
  it('token by token gives the full-sequence logits at every position (two sequences)', async () => {
    const config = microConfig(false);
    const model = new MambaLM(new CpuBackend(), config, spreadParameters(config, 23));
    const B = 2, L = 9, V = config.vocab_size;
    const ids = tokens(B * L, V, 29);
    const full = await model.logits(ids, B, L);
    const state = model.newStepState(B);
    for (let t = 0; t < L; t++) {
      const stepLogits = await model.step(state, Int32Array.from([ids[t], ids[L + t]]));
      for (let b = 0; b < B; b++) {
        for (let v = 0; v < V; v++) {
          expect(Math.abs(stepLogits[b * V + v] - full[(b * L + t) * V + v]), `b=${b} t=${t} v=${v}`).toBeLessThan(1e-5);
        }
      }
    }
    // The state is one conv window and one SSM state per layer, whatever the number of tokens fed.
    expect(state.tensors.map((t) => t.shape)).toEqual([[2, 3, 16], [2, 3, 16], [2, 16, 4], [2, 16, 4]]);
    expect(model.ssmState(state, 1)).toBe(state.tensors[3]);
    expect(state.position).toBe(L);
  });
});
