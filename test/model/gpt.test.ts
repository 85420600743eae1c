/**
 * The GPT-2 decoder on the cpu backend against a float64 reference written from its definition: logits,
 * the gradient of every parameter tensor (a sample of entries, central differences, h = 1e-5,
 * |a - n| <= 2e-4 * max|n| of the tensor + 2e-3 |n|, as for the Mamba), and refusals of bad parameters.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import type { GptConfig } from '../../src/model/config.js';
import { GptLM, gptParameterShapes, initGptParameters } from '../../src/model/gpt.js';
import { createModel } from '../../src/model/models.js';
import { loadCheckpoint } from '../../src/train/load-checkpoint.js';
import { decodeSafetensors, toFloat32 } from '../../src/train/safetensors.js';
import { Rng } from '../../src/util/rng.js';
import { numericGradient, randomArray, type F64 } from '../backend/reference.js';
import { gptReferenceLogits, gptReferenceLoss } from './gpt-reference.js';

const CONFIG: GptConfig = { architecture: 'transformer', d_model: 8, n_layers: 2, n_heads: 2, n_positions: 8, vocab_size: 7, layer_norm_epsilon: 1e-5, pad_token_id: 0 };

/** GPT-2's init with larger random values added, so every path carries a gradient well above float32 noise. */
function spreadParameters(config: GptConfig, seed: number): Map<string, Float32Array> {
  const params = initGptParameters(config, new Rng(seed));
  let k = 0;
  for (const value of params.values()) {
    const noise = randomArray(value.length, seed * 100 + k++, -0.5, 0.5);
    for (let i = 0; i < value.length; i++) value[i] += noise[i];
  }
  return params;
}

const toF64 = (params: Map<string, Float32Array>): Map<string, F64> => new Map([...params].map(([k, v]) => [k, Float64Array.from(v)]));
const tokens = (n: number, V: number, seed: number) => Int32Array.from(randomArray(n, seed, 0, V), Math.floor);

describe('GptLM', () => {
  it('has GPT2LMHeadModel\'s names and shapes (Conv1D weights [in, out], head tied) and GPT-2\'s init', () => {
    const shapes = new Map(gptParameterShapes(CONFIG));
    expect(shapes.get('transformer.h.1.attn.c_attn.weight')).toEqual([8, 24]);
    expect(shapes.get('transformer.h.0.mlp.c_fc.weight')).toEqual([8, 32]);
    expect(shapes.get('transformer.h.0.mlp.c_proj.weight')).toEqual([32, 8]);
    expect(shapes.get('transformer.wpe.weight')).toEqual([8, 8]);
    expect(shapes.has('lm_head.weight')).toBe(false);
    const params = initGptParameters(CONFIG, new Rng(1));
    expect(Array.from(params.get('transformer.h.0.ln_1.weight')!)).toEqual(Array(8).fill(1));
    expect(Array.from(params.get('transformer.h.0.attn.c_attn.bias')!)).toEqual(Array(24).fill(0));
  });

  it('logits match the float64 reference', async () => {
    const params = spreadParameters(CONFIG, 3);
    const model = new GptLM(new CpuBackend(), CONFIG, params);
    const ids = tokens(2 * 6, CONFIG.vocab_size, 5);
    const logits = await model.logits(ids, 2, 6);
    const ref = gptReferenceLogits(CONFIG, toF64(params), ids, 2, 6);
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(logits[i] - ref[i]));
    expect(worst).toBeLessThan(1e-4);
  });

  it('every parameter tensor\'s gradient against central differences', async () => {
    const params = spreadParameters(CONFIG, 7);
    const be = new CpuBackend();
    const model = new GptLM(be, CONFIG, params);
    const B = 2, L = 5;
    const inputs = tokens(B * L, CONFIG.vocab_size, 11);
    const targets = tokens(B * L, CONFIG.vocab_size, 12);
    targets[3] = -1;
    const loss = (await be.download(model.forwardBackward(inputs, targets, B, L)))[0];
    const ref = toF64(params);
    expect(loss).toBeCloseTo(gptReferenceLoss(CONFIG, ref, inputs, targets, B, L), 5);
    const pick = new Rng(13);
    for (const [name] of gptParameterShapes(CONFIG)) {
      const x = ref.get(name)!;
      const indices = x.length <= 6 ? [...x.keys()] : Array.from({ length: 6 }, () => pick.nextInt(x.length));
      const numeric = numericGradient(() => gptReferenceLoss(CONFIG, ref, inputs, targets, B, L), x, indices);
      const analytic = await be.download(model.grads.get(name)!);
      const scale = Math.max(...[...numeric.values()].map(Math.abs), 1e-3);
      for (const [i, n] of numeric) {
        expect(Math.abs(analytic[i] - n), `${name}[${i}]: ${analytic[i]} vs ${n}`).toBeLessThanOrEqual(2e-4 * scale + 2e-3 * Math.abs(n));
      }
    }
  });

  it('refuses parameters that do not fit the config, and sequences longer than its positions', async () => {
    const params = initGptParameters(CONFIG, new Rng(1));
    params.set('transformer.ln_f.bias', new Float32Array(3));
    expect(() => new GptLM(new CpuBackend(), CONFIG, params)).toThrow(/transformer\.ln_f\.bias has 3 values, expected \[8\]/);
    expect(() => new GptLM(new CpuBackend(), { ...CONFIG, n_heads: 3 }, initGptParameters(CONFIG, new Rng(1)))).toThrow(/d_model 8 is not a multiple of n_heads 3/);
    const model = new GptLM(new CpuBackend(), CONFIG, initGptParameters(CONFIG, new Rng(1)));
    await expect(model.logits(new Int32Array(9), 1, 9)).rejects.toThrow(/length 9 is longer than the 8 positions/);
  });
});

describe('GptLM step', () => {
  it('token by token with the key/value cache gives the full-sequence logits at every position (two sequences)', async () => {
    const params = spreadParameters(CONFIG, 17);
    const model = new GptLM(new CpuBackend(), CONFIG, params);
    const B = 2, L = CONFIG.n_positions, V = CONFIG.vocab_size;
    const ids = tokens(B * L, V, 19);
    const full = await model.logits(ids, B, L);
    const state = model.newStepState(B);
    const residuals: number[] = [];
    for (let t = 0; t < L; t++) {
      const stepLogits = await model.step(state, Int32Array.from([ids[t], ids[L + t]]), (layer) => residuals.push(layer));
      for (let b = 0; b < B; b++) {
        for (let v = 0; v < V; v++) {
          expect(Math.abs(stepLogits[b * V + v] - full[(b * L + t) * V + v]), `b=${b} t=${t} v=${v}`).toBeLessThan(1e-5);
        }
      }
    }
    // Keys and values of every layer for every position; the residual stream after the embedding and each layer.
    expect(state.tensors.map((t) => t.shape)).toEqual(Array(2 * CONFIG.n_layers).fill([B, L, CONFIG.d_model]));
    expect(residuals.slice(0, 3)).toEqual([0, 1, 2]);
    expect(state.position).toBe(L);
    await expect(model.step(state, Int32Array.from([1, 1]))).rejects.toThrow(/token 9 is past the 8 positions of the model/);
  });
});

describe('GptLM against transformers', () => {
  it('gives GPT2LMHeadModel\'s logits for a model saved by transformers (test/fixtures/transformers/gpt2-fp32), loaded as any checkpoint', async () => {
    const dir = 'test/fixtures/transformers/gpt2-fp32';
    const hf = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(hf).toMatchObject({ model_type: 'gpt2', activation_function: 'gelu_new' });
    expect(hf.d_model).toBeUndefined();
    const { config, params } = loadCheckpoint(dir);
    expect(config).toMatchObject({ architecture: 'transformer', d_model: hf.n_embd, n_layers: hf.n_layer, n_heads: hf.n_head, n_positions: hf.n_positions });
    const expected = decodeSafetensors(readFileSync(`${dir}.logits.safetensors`), dir);
    const tokenTensor = expected.tensors.get('tokens')!;
    const [games, length] = tokenTensor.shape;
    const theirs = toFloat32(expected.tensors.get('logits')!);
    const ours = await createModel(new CpuBackend(), config, params).logits(Int32Array.from(toFloat32(tokenTensor)), games, length);
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < theirs.length; i++) {
      worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
      scale = Math.max(scale, Math.abs(theirs[i]));
    }
    expect(scale).toBeGreaterThan(1);
    expect(worst).toBeLessThan(1e-4 * scale);
  });
});
