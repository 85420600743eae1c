/**
 * Every cpu backend op: forward against the float64 reference, backward against central differences
 * (h = 1e-5) of the float64 reference. Inputs are float32-representable so both sides see the same
 * numbers. Tolerances: forward |a - r| <= 1e-5 + 1e-5 |r|; gradients |a - n| <= 1e-4 + 1e-3 |n|
 * (float32 accumulation on the analytic side, ~1e-9 truncation on the numeric side).
 */
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import {
  conv1dRef, crossEntropyRef, dot, map, matmulRef, numericGradient, randomArray, rmsNormRef, scanRef, siluRef, softplusRef, sigmoidRef,
  type F64,
} from './reference.js';

const be = new CpuBackend();
/** The matmul and the scan have two implementations each (CpuKernels): both are checked. */
const kernelBackends = [new CpuBackend({ kernels: 'simd' }), new CpuBackend({ kernels: 'reference' })];

/** Random float32-representable values, held as float64. */
function rand(n: number, seed: number, lo = -1, hi = 1): F64 {
  return Float64Array.from(Float32Array.from(randomArray(n, seed, lo, hi)));
}

function up(x: F64, shape: number[]): Tensor {
  return be.upload(Float32Array.from(x), shape);
}

async function down(t: Tensor): Promise<Float32Array> {
  return be.download(t);
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number> | Map<number, number>, atol: number, rtol: number, what: string): void {
  const entries: [number, number][] = expected instanceof Map ? [...expected] : Array.from(expected, (v, i) => [i, v] as [number, number]);
  if (!(expected instanceof Map)) expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = { i: -1, excess: 0, a: 0, e: 0 };
  for (const [i, e] of entries) {
    const a = actual[i];
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= worst.excess) || Number.isNaN(a)) worst = { i, excess: Number.isNaN(a) ? Infinity : excess, a, e };
  }
  expect(worst.i, `${what}: index ${worst.i} is ${worst.a}, expected ${worst.e}`).toBe(-1);
}

const FWD = [1e-5, 1e-5] as const;
const GRAD = [1e-4, 1e-3] as const;

for (const kb of kernelBackends) describe(`matmul (${kb.kernels} kernels)`, () => {
  // more rows than columns, and fewer (the SIMD kernels split those by columns); 40 x 36 x 3 copies its
  // transposed operands in several ranges of rows
  for (const [M, N, K] of [[7, 5, 6], [3, 19, 6], [40, 36, 3]]) for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      it(`forward and backward, ${M}x${N}x${K}, transA=${transA} transB=${transB}`, async () => {
        const a = rand(M * K, 1), b = rand(K * N, 2), r = rand(M * N, 3);
        const aShape = transA ? [K, M] : [M, K];
        const bShape = transB ? [N, K] : [K, N];
        const c = await down(kb.matmul(up(a, aShape), up(b, bShape), { transA, transB }));
        expectClose(c, matmulRef(a, b, M, N, K, transA, transB), ...FWD, 'C');
        // Backward by the identities the model uses: for C = op(A) op(B), dA and dB are products too.
        const dC = up(r, [M, N]);
        const loss = () => dot(matmulRef(a, b, M, N, K, transA, transB), r);
        // dA (as stored): transA ? op(B) dC^T : dC op(B)^T
        const dA = transA ? kb.matmul(up(b, bShape), dC, { transA: transB, transB: true }) : kb.matmul(dC, up(b, bShape), { transB: !transB });
        const dB = transB ? kb.matmul(dC, up(a, aShape), { transA: true, transB: transA }) : kb.matmul(up(a, aShape), dC, { transA: !transA });
        expectClose(await down(dA), numericGradient(loss, a), ...GRAD, 'dA');
        expectClose(await down(dB), numericGradient(loss, b), ...GRAD, 'dB');
      });
    }
  }

  it('accumulates into a given tensor, and handles sizes that are not multiples of the 4x4 block', async () => {
    for (const [m, n, k] of [[1, 1, 1], [4, 4, 4], [9, 6, 3], [13, 17, 11]]) {
      const a = rand(m * k, m), b = rand(n * k, n), base = rand(m * n, k);
      const into = up(base, [m, n]);
      kb.matmul(up(a, [m, k]), up(b, [n, k]), { transB: true, into, accumulate: true });
      const ref = matmulRef(a, b, m, n, k, false, true);
      expectClose(await down(into), map(ref, (v, i) => v + base[i]), ...FWD, `${m}x${n}x${k}`);
    }
  });

  it('rejects mismatched inner sizes', () => {
    expect(() => kb.matmul(be.zeros([2, 3]), be.zeros([4, 2]))).toThrow(/inner sizes 3 and 4/);
  });

  it('an empty inner size gives zeros, and an empty part adds no columns to a concatenation', async () => {
    expect(Array.from(await down(kb.matmul(be.zeros([5, 0]), be.zeros([0, 7]))))).toEqual(new Array(35).fill(0));
    const joined = be.concatColumns([up(new Float32Array([1, 2, 3, 4]), [2, 2]), be.zeros([2, 0]), up(new Float32Array([5, 6]), [2, 1])]);
    expect(joined.shape).toEqual([2, 3]);
    expect(Array.from(await down(joined))).toEqual([1, 2, 5, 3, 4, 6]);
  });
});

describe('embedding', () => {
  it('looks rows up and scatter-adds the gradient (repeated ids add up)', async () => {
    const V = 5, d = 3;
    const w = rand(V * d, 4);
    const ids = Int32Array.from([2, 0, 2, 4]);
    const out = await down(be.embeddingForward(be.uploadInts(ids, [4]), up(w, [V, d])));
    expectClose(out, Array.from(ids).flatMap((id) => Array.from(w.subarray(id * d, id * d + d))), 0, 0, 'rows');
    const r = rand(ids.length * d, 5);
    const dW = be.zeros([V, d]);
    be.embeddingBackward(be.uploadInts(ids, [4]), up(r, [4, d]), dW, false);
    const loss = () => dot(Array.from(ids).flatMap((id) => Array.from(w.subarray(id * d, id * d + d))), r);
    expectClose(await down(dW), numericGradient(loss, w), ...GRAD, 'dW');
    // accumulate adds to what is there
    be.embeddingBackward(be.uploadInts(ids, [4]), up(r, [4, d]), dW, true);
    const once = Float64Array.from(numericGradient(loss, w).values());
    expectClose(await down(dW), map(once, (v) => 2 * v), ...GRAD, 'accumulated dW');
  });

  it('rejects ids outside the vocabulary', () => {
    expect(() => be.embeddingForward(be.uploadInts(Int32Array.from([5]), [1]), be.zeros([5, 2]))).toThrow(/token id 5 is outside the vocabulary 0..4/);
  });
});

describe('RMSNorm', () => {
  it('forward and backward (x and weight)', async () => {
    const M = 4, d = 6, eps = 1e-5;
    const x = rand(M * d, 6), w = rand(d, 7, 0.5, 1.5), r = rand(M * d, 8);
    const { y, rstd } = be.rmsNormForward(up(x, [M, d]), up(w, [d]), eps);
    expectClose(await down(y), rmsNormRef(x, w, eps, d), ...FWD, 'y');
    const dW = be.zeros([d]);
    const dx = be.rmsNormBackward(up(x, [M, d]), up(w, [d]), rstd, up(r, [M, d]), dW);
    const loss = () => dot(rmsNormRef(x, w, eps, d), r);
    expectClose(await down(dx), numericGradient(loss, x), ...GRAD, 'dx');
    expectClose(await down(dW), numericGradient(loss, w), ...GRAD, 'dW');
  });
});

describe('causal depthwise conv1d', () => {
  for (const kb of kernelBackends) it(`forward and backward (x, weight, bias), two sequences that must not leak into each other (${kb.kernels} kernels)`, async () => {
    const batch = 2, L = 6, E = 3, K = 4;
    const x = rand(batch * L * E, 9), w = rand(E * K, 10), bias = rand(E, 11), r = rand(batch * L * E, 12);
    const y = await down(kb.causalConv1dForward(up(x, [batch * L, E]), up(w, [E, 1, K]), up(bias, [E]), batch, L));
    expectClose(y, conv1dRef(x, w, bias, batch, L, E, K), ...FWD, 'y');
    const dW = be.zeros([E, 1, K]);
    const dBias = be.zeros([E]);
    const dx = kb.causalConv1dBackward(up(x, [batch * L, E]), up(w, [E, 1, K]), up(r, [batch * L, E]), batch, L, dW, dBias);
    const loss = () => dot(conv1dRef(x, w, bias, batch, L, E, K), r);
    expectClose(await down(dx), numericGradient(loss, x), ...GRAD, 'dx');
    expectClose(await down(dW), numericGradient(loss, w), ...GRAD, 'dW');
    expectClose(await down(dBias), numericGradient(loss, bias), ...GRAD, 'dBias');
  });

  it('a step with a window gives the sequence outputs one by one', async () => {
    const batch = 2, L = 5, E = 3, K = 4;
    const x = rand(batch * L * E, 13), w = rand(E * K, 14), bias = rand(E, 15);
    const full = conv1dRef(x, w, bias, batch, L, E, K);
    const window = be.zeros([batch, K - 1, E]);
    for (let t = 0; t < L; t++) {
      const xt = new Float64Array(batch * E);
      for (let b = 0; b < batch; b++) for (let e = 0; e < E; e++) xt[b * E + e] = x[(b * L + t) * E + e];
      const yt = await down(be.causalConv1dStep(window, up(xt, [batch, E]), up(w, [E, 1, K]), up(bias, [E])));
      const expected = new Float64Array(batch * E);
      for (let b = 0; b < batch; b++) for (let e = 0; e < E; e++) expected[b * E + e] = full[(b * L + t) * E + e];
      expectClose(yt, expected, ...FWD, `t=${t}`);
    }
  });
});

for (const kb of kernelBackends) describe(`elementwise (${kb.kernels} kernels)`, () => {
  // 21 elements and 3 columns: not multiples of the SIMD kernels' 4 lanes.
  const M = 7, E = 3;
  it('silu forward and backward', async () => {
    const x = rand(M * E, 16, -6, 6), r = rand(M * E, 17);
    expectClose(await down(kb.siluForward(up(x, [M, E]))), map(x, siluRef), ...FWD, 'silu');
    const dx = kb.siluBackward(up(x, [M, E]), up(r, [M, E]));
    expectClose(await down(dx), numericGradient(() => dot(map(x, siluRef), r), x), ...GRAD, 'dx');
  });

  it('softplus with bias, including the linear region above 20', async () => {
    const x = rand(M * E, 18, -8, 8), bias = Float64Array.from([0.5, 25, -2]), r = rand(M * E, 19);
    const f = () => map(x, (v, i) => softplusRef(v + bias[i % E]));
    expectClose(await down(kb.softplusBiasForward(up(x, [M, E]), up(bias, [E]))), f(), ...FWD, 'softplus');
    const dBias = be.zeros([E]);
    const dx = kb.softplusBiasBackward(up(x, [M, E]), up(bias, [E]), up(r, [M, E]), dBias);
    expectClose(await down(dx), numericGradient(() => dot(f(), r), x), ...GRAD, 'dx');
    expectClose(await down(dBias), numericGradient(() => dot(f(), r), bias), ...GRAD, 'dBias');
  });

  it('gate y * silu(z)', async () => {
    const y = rand(M * E, 20, -3, 3), z = rand(M * E, 21, -6, 6), r = rand(M * E, 22);
    const f = () => map(y, (v, i) => v * siluRef(z[i]));
    expectClose(await down(kb.gateForward(up(y, [M, E]), up(z, [M, E]))), f(), ...FWD, 'gate');
    const g = kb.gateBackward(up(y, [M, E]), up(z, [M, E]), up(r, [M, E]));
    expectClose(await down(g.dy), numericGradient(() => dot(f(), r), y), ...GRAD, 'dy');
    expectClose(await down(g.dz), numericGradient(() => dot(f(), r), z), ...GRAD, 'dz');
  });
});

for (const kb of kernelBackends) describe(`selective scan (${kb.kernels} kernels)`, () => {
  it('known answer: N = 1, E = 1, L = 3 by hand', async () => {
    // A = -exp(0) = -1 and delta = ln 2, so exp(delta A) = 1/2 at every step; B = 1, u = 1, 2, 3.
    //   h0 = ln2 * 1                    = ln2
    //   h1 = ln2 / 2 + ln2 * 2          = 2.5 ln2
    //   h2 = 1.25 ln2 + ln2 * 3         = 4.25 ln2
    // y = C h + D u with C = 1, 2, 1 and D = 0.5.
    const ln2 = Math.LN2;
    const t = (v: number[], shape: number[]) => be.upload(Float32Array.from(v), shape);
    const { y } = kb.selectiveScanForward({
      u: t([1, 2, 3], [3, 1]), delta: t([ln2, ln2, ln2], [3, 1]), aLog: t([0], [1, 1]),
      b: t([1, 1, 1], [3, 1]), c: t([1, 2, 1], [3, 1]), d: t([0.5], [1]), batch: 1, length: 3,
    }, false);
    expectClose(await down(y), [ln2 + 0.5, 5 * ln2 + 1, 4.25 * ln2 + 1.5], 1e-6, 1e-6, 'y');
  });

  for (const forBackward of [true, false]) it(`forward and backward of every input, several sequences, channels and state entries (states ${forBackward ? 'kept' : 'recomputed'})`, async () => {
    const batch = 2, L = 5, E = 3, N = 4, M = batch * L;
    const u = rand(M * E, 23), delta = rand(M * E, 24, 0.05, 1), aLog = rand(E * N, 25, -1, 1.5);
    const bm = rand(M * N, 26), cm = rand(M * N, 27), d = rand(E, 28), r = rand(M * E, 29);
    const inputs = () => ({
      u: up(u, [M, E]), delta: up(delta, [M, E]), aLog: up(aLog, [E, N]), b: up(bm, [M, N]), c: up(cm, [M, N]), d: up(d, [E]), batch, length: L,
    });
    const ref = () => scanRef(u, delta, aLog, bm, cm, d, batch, L, E, N);
    const { y, saved } = kb.selectiveScanForward(inputs(), forBackward);
    // Only the reference kernels keep the states; the SIMD backward pass recomputes them.
    expect(saved === null).toBe(!forBackward || kb.kernels === 'simd');
    expectClose(await down(y), ref(), ...FWD, 'y');
    const dALog = be.zeros([E, N]);
    const dD = be.zeros([E]);
    const g = kb.selectiveScanBackward(inputs(), saved, up(r, [M, E]), dALog, dD);
    const loss = () => dot(ref(), r);
    expectClose(await down(g.du), numericGradient(loss, u), ...GRAD, 'du');
    expectClose(await down(g.dDelta), numericGradient(loss, delta), ...GRAD, 'dDelta');
    expectClose(await down(g.dB), numericGradient(loss, bm), ...GRAD, 'dB');
    expectClose(await down(g.dC), numericGradient(loss, cm), ...GRAD, 'dC');
    expectClose(await down(dALog), numericGradient(loss, aLog), ...GRAD, 'dA_log');
    expectClose(await down(dD), numericGradient(loss, d), ...GRAD, 'dD');
  });

  it('more channels than one block of the backward pass (blocks must not mix)', async () => {
    const batch = 1, L = 3, E = 70, N = 2, M = batch * L;
    const u = rand(M * E, 30), delta = rand(M * E, 31, 0.05, 1), aLog = rand(E * N, 32), bm = rand(M * N, 33), cm = rand(M * N, 34), d = rand(E, 35), r = rand(M * E, 36);
    const inputs = { u: up(u, [M, E]), delta: up(delta, [M, E]), aLog: up(aLog, [E, N]), b: up(bm, [M, N]), c: up(cm, [M, N]), d: up(d, [E]), batch, length: L };
    const g = kb.selectiveScanBackward(inputs, null, up(r, [M, E]), be.zeros([E, N]), be.zeros([E]));
    const loss = () => dot(scanRef(u, delta, aLog, bm, cm, d, batch, L, E, N), r);
    expectClose(await down(g.dDelta), numericGradient(loss, delta), ...GRAD, 'dDelta');
    expectClose(await down(g.dB), numericGradient(loss, bm), ...GRAD, 'dB');
  });

  it('A = -exp(A_log) follows A_log changed in place, as an optimizer step changes it', async () => {
    const batch = 2, L = 3, E = 6, N = 4, M = batch * L;
    const u = rand(M * E, 45), delta = rand(M * E, 46, 0.05, 1), first = rand(E * N, 47), second = rand(E * N, 48), bm = rand(M * N, 49), cm = rand(M * N, 50), d = rand(E, 51);
    const aLog = up(first, [E, N]);
    const inputs = { u: up(u, [M, E]), delta: up(delta, [M, E]), aLog, b: up(bm, [M, N]), c: up(cm, [M, N]), d: up(d, [E]), batch, length: L };
    const before = await down(kb.selectiveScanForward(inputs, false).y);
    expectClose(before, scanRef(u, delta, first, bm, cm, d, batch, L, E, N), ...FWD, 'first A_log');
    kb.addInPlace(aLog, up(Float64Array.from(second, (v, i) => v - first[i]), [E, N]));
    const changed = Float64Array.from(await down(aLog));
    const after = await down(kb.selectiveScanForward(inputs, false).y);
    expectClose(after, scanRef(u, delta, changed, bm, cm, d, batch, L, E, N), ...FWD, 'A_log changed in place');
    expect(await down(kb.selectiveScanForward(inputs, false).y), 'the same A_log again').toEqual(after);
  });

  for (const N of [2, 8]) {
    it(`a step from a carried state gives the sequence outputs one by one (N ${N})`, async () => {
      const batch = 3, L = 4, E = 5, M = batch * L;
      const u = rand(M * E, 37), delta = rand(M * E, 38, 0.05, 1), aLog = rand(E * N, 39), bm = rand(M * N, 40), cm = rand(M * N, 41), d = rand(E, 42);
      const full = scanRef(u, delta, aLog, bm, cm, d, batch, L, E, N);
      const inputs = { u: up(u, [M, E]), delta: up(delta, [M, E]), aLog: up(aLog, [E, N]), b: up(bm, [M, N]), c: up(cm, [M, N]), d: up(d, [E]), batch, length: L };
      const fullY = await down(kb.selectiveScanForward(inputs, false).y);
      const h = kb.zeros([batch, E, N]);
      const rows = (x: ArrayLike<number>, w: number, t: number) => {
        const out = new Float64Array(batch * w);
        for (let b = 0; b < batch; b++) for (let i = 0; i < w; i++) out[b * w + i] = x[(b * L + t) * w + i];
        return out;
      };
      for (let t = 0; t < L; t++) {
        const yt = await down(kb.selectiveScanStep(h, up(rows(u, E, t), [batch, E]), up(rows(delta, E, t), [batch, E]), up(aLog, [E, N]), up(rows(bm, N, t), [batch, N]), up(rows(cm, N, t), [batch, N]), up(d, [E])));
        expectClose(yt, rows(full, E, t), ...FWD, `t=${t}`);
        // the SIMD step is the SIMD forward kernel from the carried state: the same bits as the whole sequence
        if (kb.kernels === 'simd') expect(yt, `t=${t} against the full-sequence kernel`).toEqual(Float32Array.from(rows(fullY, E, t)));
      }
    });
  }
});

describe('cross-entropy', () => {
  it('mean over the targets that are not -1, and its gradient', async () => {
    const M = 5, V = 7;
    const logits = rand(M * V, 43, -3, 3);
    const targets = Int32Array.from([3, -1, 0, 6, -1]);
    const { loss, dLogits } = be.crossEntropy(up(logits, [M, V]), be.uploadInts(targets, [M]), true);
    expectClose(await down(loss), [crossEntropyRef(logits, targets, V)], ...FWD, 'loss');
    expectClose(await down(dLogits!), numericGradient(() => crossEntropyRef(logits, targets, V), logits), ...GRAD, 'dLogits');
  });

  it('uniform logits give ln V; no counted target gives 0 and a zero gradient', async () => {
    const V = 61;
    const { loss } = be.crossEntropy(be.zeros([2, V]), be.uploadInts(Int32Array.from([5, 60]), [2]), false);
    expect((await down(loss))[0]).toBeCloseTo(Math.log(V), 6);
    const none = be.crossEntropy(be.upload(Float32Array.from(rand(2 * V, 44)), [2, V]), be.uploadInts(Int32Array.from([-1, -1]), [2]), true);
    expect((await down(none.loss))[0]).toBe(0);
    expect((await down(none.dLogits!)).every((v) => v === 0)).toBe(true);
  });

  it('rejects targets outside the vocabulary', () => {
    expect(() => be.crossEntropy(be.zeros([1, 3]), be.uploadInts(Int32Array.from([3]), [1]), false)).toThrow(/target 3 is outside the vocabulary/);
  });
});

describe('AdamW and sumOfSquares', () => {
  it('two steps match the update rule computed by hand in float64', async () => {
    const p0 = [0.5, -1, 2, 0], g1 = [0.1, -0.2, 0, 3], g2 = [0.3, 0.1, -0.5, 1];
    const hyper = { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradScale: 0.5 };
    const p = be.upload(Float32Array.from(p0), [4]);
    const m = be.zeros([4]);
    const v = be.zeros([4]);
    const expected = [...p0];
    const ms = [0, 0, 0, 0], vs = [0, 0, 0, 0];
    for (const [step, g] of [[1, g1], [2, g2]] as const) {
      be.adamwUpdate(p, be.upload(Float32Array.from(g), [4]), m, v, { ...hyper, step });
      for (let i = 0; i < 4; i++) {
        const gi = g[i] * hyper.gradScale;
        ms[i] = 0.9 * ms[i] + 0.1 * gi;
        vs[i] = 0.95 * vs[i] + 0.05 * gi * gi;
        const mHat = ms[i] / (1 - 0.9 ** step);
        const vHat = vs[i] / (1 - 0.95 ** step);
        expected[i] -= hyper.lr * (mHat / (Math.sqrt(vHat) + hyper.eps) + hyper.weightDecay * expected[i]);
      }
    }
    expectClose(await down(p), expected, 1e-6, 1e-6, 'param');
    expectClose(await down(m), ms, 1e-7, 1e-6, 'm');
    expectClose(await down(v), vs, 1e-8, 1e-6, 'v');
  });

  it('sumOfSquares', async () => {
    const x = rand(37, 45);
    expect((await down(be.sumOfSquares(up(x, [37]))))[0]).toBeCloseTo(dot(x, x), 5);
  });
});

describe('memory', () => {
  it('a disposed tensor is reused for the next one of its size, and zeros() clears it', async () => {
    const a = be.upload(Float32Array.from([1, 2, 3]), [3]);
    be.dispose(a);
    const z = be.zeros([3]);
    expect(Array.from(await down(z))).toEqual([0, 0, 0]);
  });
});
