/**
 * The cpu reference kernels of the transformer baseline (LayerNorm with bias, GELU, bias add, causal
 * attention): forward against the float64 reference, backward against its central differences (h = 1e-5),
 * with the tolerances of cpu-ops.test.ts; the same bits however the work is cut into ranges; and the
 * same through the cpu backend (TransformerOps) on one thread and on three.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import { causalAttentionBackward, causalAttentionForward, type AttentionShape } from '../../src/backend/cpu/causal-attention.js';
import { biasAddForward, biasGrad, geluBackward, geluForward } from '../../src/backend/cpu/gelu.js';
import { layerNormBackwardRows, layerNormForward, layerNormParamGrads } from '../../src/backend/cpu/layer-norm.js';
import { attentionRef, dot, geluRef, layerNormRef, map, numericGradient, randomArray, type F64 } from './reference.js';

function rand(n: number, seed: number, lo = -1, hi = 1): F64 {
  return Float64Array.from(Float32Array.from(randomArray(n, seed, lo, hi)));
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number> | Map<number, number>, atol: number, rtol: number, what: string): void {
  const entries: [number, number][] = expected instanceof Map ? [...expected] : Array.from(expected, (v, i) => [i, v] as [number, number]);
  for (const [i, e] of entries) {
    const a = actual[i];
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) expect(a, `${what}[${i}]`).toBe(e);
  }
}

const FWD = [1e-5, 1e-5] as const;
const GRAD = [1e-4, 1e-3] as const;

describe('LayerNorm with bias', () => {
  it('forward and backward (x, weight and bias), rows far from zero mean included', () => {
    const M = 5, d = 7, eps = 1e-5;
    const x = rand(M * d, 1), w = rand(d, 2, 0.5, 1.5), b = rand(d, 3), r = rand(M * d, 4);
    for (let i = 0; i < d; i++) x[4 * d + i] += 100; // a row whose mean dwarfs its spread
    const y = new Float32Array(M * d), mean = new Float32Array(M), rstd = new Float32Array(M);
    const f32 = (a: F64) => Float32Array.from(a);
    layerNormForward(f32(x), f32(w), f32(b), eps, y, mean, rstd, d, 0, M);
    expectClose(y, layerNormRef(x, w, b, eps, d), 1e-4, 1e-5, 'y');
    const dx = new Float32Array(M * d), dw = new Float32Array(d), db = new Float32Array(d);
    layerNormBackwardRows(f32(x), f32(w), mean, rstd, f32(r), dx, d, 0, M);
    layerNormParamGrads(f32(x), mean, rstd, f32(r), dw, db, d, M, 0, d);
    const loss = () => dot(layerNormRef(x, w, b, eps, d), r);
    expectClose(dx, numericGradient(loss, x, [...Array(4 * d).keys()]), ...GRAD, 'dx');
    expectClose(dw, numericGradient(loss, w), ...GRAD, 'dw');
    expectClose(db, numericGradient(loss, b), ...GRAD, 'db');
  });
});

describe('GELU and bias', () => {
  it('GELU (tanh form) forward and backward', () => {
    const n = 64;
    const x = rand(n, 5, -6, 6), r = rand(n, 6);
    const y = new Float32Array(n), dx = new Float32Array(n);
    geluForward(Float32Array.from(x), y, 0, n);
    expectClose(y, map(x, geluRef), ...FWD, 'y');
    geluBackward(Float32Array.from(x), Float32Array.from(r), dx, 0, n);
    expectClose(dx, numericGradient(() => dot(map(x, geluRef), r), x), ...GRAD, 'dx');
  });

  it('bias add forward and its column-sum gradient', () => {
    const M = 6, C = 5;
    const x = rand(M * C, 7), bias = rand(C, 8), r = rand(M * C, 9);
    const y = new Float32Array(M * C), dBias = new Float32Array(C);
    biasAddForward(Float32Array.from(x), Float32Array.from(bias), y, C, 0, M * C);
    expectClose(y, map(x, (v, i) => v + bias[i % C]), ...FWD, 'y');
    biasGrad(Float32Array.from(r), dBias, C, M, 0, C);
    expectClose(dBias, numericGradient(() => dot(map(x, (v, i) => v + bias[i % C]), r), bias), ...GRAD, 'dBias');
  });
});

describe('causal attention', () => {
  for (const shape of [
    { batch: 2, length: 5, heads: 2, d: 8 },
    { batch: 1, length: 1, heads: 1, d: 4 },
    { batch: 1, length: 7, heads: 3, d: 6 },
  ] satisfies AttentionShape[]) {
    it(`forward and backward, batch ${shape.batch} x length ${shape.length}, ${shape.heads} heads of ${shape.d / shape.heads}`, () => {
      const { batch, length: L, heads: H, d } = shape;
      const M = batch * L;
      const qkv = rand(M * 3 * d, 10, -2, 2), r = rand(M * d, 11);
      const out = new Float32Array(M * d), lse = new Float32Array(batch * H * L);
      causalAttentionForward(Float32Array.from(qkv), out, lse, shape, 0, batch * H);
      expectClose(out, attentionRef(qkv, batch, L, H, d), ...FWD, 'out');
      const dqkv = new Float32Array(M * 3 * d);
      causalAttentionBackward(Float32Array.from(qkv), out, lse, Float32Array.from(r), dqkv, shape, 0, batch * H);
      expectClose(dqkv, numericGradient(() => dot(attentionRef(qkv, batch, L, H, d), r), qkv), ...GRAD, 'dqkv');
    });
  }

  it('a later token never changes an earlier output (causality)', () => {
    const shape = { batch: 1, length: 6, heads: 2, d: 4 };
    const qkv = Float32Array.from(rand(6 * 12, 12));
    const before = new Float32Array(6 * 4), after = new Float32Array(6 * 4), lse = new Float32Array(12);
    causalAttentionForward(qkv, before, lse, shape, 0, 2);
    for (let c = 0; c < 12; c++) qkv[5 * 12 + c] += 1; // the last position's q, k and v
    causalAttentionForward(qkv, after, lse, shape, 0, 2);
    expect(Array.from(after.subarray(0, 5 * 4))).toEqual(Array.from(before.subarray(0, 5 * 4)));
    expect(after.subarray(5 * 4)).not.toEqual(before.subarray(5 * 4));
  });

  it('gives the same bits however the (sequence, head) units are shared out', () => {
    const shape = { batch: 3, length: 4, heads: 2, d: 6 };
    const M = 12, U = 6;
    const qkv = Float32Array.from(rand(M * 18, 13)), dOut = Float32Array.from(rand(M * 6, 14));
    const run = (cuts: number[]) => {
      const out = new Float32Array(M * 6), lse = new Float32Array(U * 4), dqkv = new Float32Array(M * 18);
      for (let i = 0; i + 1 < cuts.length; i++) causalAttentionForward(qkv, out, lse, shape, cuts[i], cuts[i + 1]);
      for (let i = 0; i + 1 < cuts.length; i++) causalAttentionBackward(qkv, out, lse, dOut, dqkv, shape, cuts[i], cuts[i + 1]);
      return [out, lse, dqkv];
    };
    const whole = run([0, U]);
    const split = run([0, 1, 4, U]);
    for (let k = 0; k < 3; k++) expect(split[k]).toEqual(whole[k]);
  });
});

describe('the transformer ops through the cpu backend', () => {
  const backends = [new CpuBackend({ threads: 1 }), new CpuBackend({ threads: 3 })];
  // Large enough that LayerNorm, GELU and attention are split across the threads (PARALLEL_MIN_WORK).
  const [batch, L, H, d] = [8, 40, 4, 72];
  const M = batch * L;
  const x = Float32Array.from(rand(M * d, 20, -3, 3));
  const qkv = Float32Array.from(rand(M * 3 * d, 21, -2, 2));
  const w = Float32Array.from(rand(d, 22, 0.5, 1.5)), b = Float32Array.from(rand(d, 23)), dy = Float32Array.from(rand(M * d, 24));

  async function everything(be: CpuBackend): Promise<Float32Array[]> {
    const t = (data: Float32Array, shape: number[]) => be.upload(data, shape);
    const ln = be.layerNormForward(t(x, [M, d]), t(w, [d]), t(b, [d]), 1e-5);
    const dW = be.zeros([d]), dB = be.zeros([d]);
    const dx = be.layerNormBackward(t(x, [M, d]), t(w, [d]), ln.mean, ln.rstd, t(dy, [M, d]), dW, dB);
    const gelu = be.geluForward(t(x, [M, d]));
    const dGelu = be.geluBackward(t(x, [M, d]), t(dy, [M, d]));
    const biased = be.biasAdd(t(x, [M, d]), t(b, [d]));
    const dBias = be.zeros([d]);
    be.biasGrad(t(dy, [M, d]), dBias);
    const att = be.causalAttentionForward(t(qkv, [M, 3 * d]), batch, L, H);
    const dqkv = be.causalAttentionBackward(t(qkv, [M, 3 * d]), att.out, att.lse, t(dy, [M, d]), batch, L, H);
    return Promise.all([ln.y, dx, dW, dB, gelu, dGelu, biased, dBias, att.out, dqkv].map((tensor) => be.download(tensor)));
  }

  it('agree with the reference and give the same bits on 1 and 3 threads', async () => {
    const [one, three] = await Promise.all(backends.map(everything));
    for (let i = 0; i < one.length; i++) expect(three[i], `result ${i}`).toEqual(one[i]);
    const x64 = Float64Array.from(x);
    expectClose(one[0], layerNormRef(x64, Float64Array.from(w), Float64Array.from(b), 1e-5, d), 1e-4, 1e-5, 'LayerNorm');
    expectClose(one[4], map(x64, geluRef), ...FWD, 'GELU');
    expectClose(one[6], map(x64, (v, i) => v + b[i % d]), ...FWD, 'bias add');
    expectClose(one[8], attentionRef(Float64Array.from(qkv), batch, L, H, d), ...FWD, 'attention');
  });

  it('refuses a qkv that is not (batch x length, 3 d) with d a multiple of the heads', () => {
    const be = backends[0];
    expect(() => be.causalAttentionForward(be.zeros([M, 3 * d]), batch, L, 5)).toThrow(/not \(8 x 40, 3 d\) with d a multiple of 5 heads/);
    expect(() => be.causalAttentionForward(be.zeros([M - 1, 3 * d]), batch, L, H)).toThrow(/causal attention/);
  });
});
