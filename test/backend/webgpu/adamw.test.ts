/**
 * The optimizer kernels on the GPU against the cpu backend: AdamW over several steps with the
 * gradient scale as a number and as the tensor from clipScale, sumOfSquares on one- and two-pass
 * sizes, clipScale over more squares than one dispatch binds, clip 0, and clip above and below the
 * norm. Tolerances: the update is elementwise float32 (the cpu: float64 arithmetic), 5 steps of it:
 * atol 1e-6, rtol 1e-5 on param, m, v. Sums of n squares in float32 trees: rtol 1e-6 sqrt(n) / 10.
 */
import { describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../../../src/backend/backend.js';
import { Rng } from '../../../src/util/rng.js';
import { cpu, gpu, noGpuReason, randomArray, toleranceRatio } from './gpu-fixture.js';

const HYPER = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

/** Five AdamW steps on two parameters, clipped through clipScale (tensor) or a fixed number; returns param, m, v, [scale, norm] of the last step. */
async function train(be: Backend, data: Float32Array[][], clip: number | 'fixed') {
  const params = data.map(([p]) => be.upload(p, [p.length]));
  const ms = data.map(([p]) => be.zeros([p.length]));
  const vs = data.map(([p]) => be.zeros([p.length]));
  let scale: Tensor | null = null;
  for (let step = 1; step <= 5; step++) {
    const grads = data.map((d) => be.upload(d[step], [d[step].length]));
    let gradScale: number | Tensor = 0.7;
    if (clip !== 'fixed') gradScale = scale = be.clipScale(grads.map((g) => be.sumOfSquares(g)), clip);
    params.forEach((p, k) => be.adamwUpdate(p, grads[k], ms[k], vs[k], { ...HYPER, step, weightDecay: k === 0 ? HYPER.weightDecay : 0, gradScale }));
  }
  const out = await Promise.all([...params, ...ms, ...vs].map((t) => be.download(t)));
  if (scale) out.push(await be.download(scale));
  return out;
}

describe.skipIf(!gpu)(`webgpu AdamW, sum of squares and clip${gpu ? '' : ` (skipped: ${noGpuReason})`}`, () => {
  for (const clip of ['fixed', 0, 0.5, 1e6] as const) {
    it(`five AdamW steps match the cpu backend (gradient scale ${clip === 'fixed' ? 'a number' : `from clipScale, clip ${clip}`})`, async () => {
      const rng = new Rng(typeof clip === 'number' ? clip * 10 + 1 : 0);
      const data = [1001, 3].map((n) => Array.from({ length: 6 }, (_, k) => randomArray(rng, n, k === 0 ? 1 : 0.3)));
      const got = await train(gpu!, data, clip);
      const want = await train(cpu, data, clip);
      got.forEach((g, k) => expect(toleranceRatio(g, want[k], 1e-6, 1e-5), `output ${k}`).toBeLessThanOrEqual(1));
      if (clip === 0.5) expect(got[6][0]).toBeLessThan(1);
      if (clip === 0 || clip === 1e6) expect(got[6][0]).toBe(1);
    });
  }

  it('sums of squares match a float64 sum on one-pass and two-pass sizes, the same bits every run', async () => {
    const rng = new Rng(3);
    for (const n of [1, 255, 8192, 8193, 300_000]) {
      const x = randomArray(rng, n);
      let want = 0;
      for (const v of x) want += v * v;
      const t = gpu!.upload(x, [n]);
      const got = (await gpu!.download(gpu!.sumOfSquares(t)))[0];
      expect(Math.abs(got - want), `n ${n}`).toBeLessThanOrEqual(1e-7 * Math.sqrt(n) * want + 1e-12);
      expect((await gpu!.download(gpu!.sumOfSquares(t)))[0]).toBe(got);
    }
  });

  it('clipScale adds more squares than one dispatch binds, in order, and handles none', async () => {
    const be = gpu!;
    const values = Array.from({ length: 40 }, (_, k) => (k + 1) * 0.25);
    const norm = Math.sqrt(values.reduce((s, v) => s + v, 0));
    const squares = values.map((v) => be.upload(Float32Array.from([v]), [1]));
    const [scale, gotNorm] = await be.download(be.clipScale(squares, 2));
    expect(gotNorm).toBeCloseTo(norm, 5);
    expect(scale).toBeCloseTo(2 / norm, 6);
    expect(Array.from(await be.download(be.clipScale([], 1)))).toEqual([1, 0]);
  });
});

/** The same five steps, both parameters packed in one tensor with the decayed one first (decayEnd 1024). */
async function trainPacked(be: Backend, data: Float32Array[][]) {
  const offsets = [0, 1024];
  const size = 1088;
  const pack = (arrays: Float32Array[]) => {
    const all = new Float32Array(size);
    arrays.forEach((a, k) => all.set(a, offsets[k]));
    return all;
  };
  const param = be.upload(pack(data.map(([p]) => p)), [size]);
  const m = be.zeros([size]);
  const v = be.zeros([size]);
  for (let step = 1; step <= 5; step++) {
    const grad = be.upload(pack(data.map((d) => d[step])), [size]);
    const gradScale = be.clipScale([be.sumOfSquares(grad)], 0.5);
    be.adamwUpdate(param, grad, m, v, { ...HYPER, step, decayEnd: 1024, gradScale });
  }
  const [p, mm, vv] = await Promise.all([param, m, v].map((t) => be.download(t)));
  const parts = (all: Float32Array) => data.map(([d], k) => all.slice(offsets[k], offsets[k] + d.length));
  const gaps = [...p.subarray(1001, 1024), ...p.subarray(1027)];
  return { outputs: [...parts(p), ...parts(mm), ...parts(vv)], gaps };
}

describe('AdamW over a packed tensor (decay up to decayEnd), one pass for all parameters', () => {
  const rng = new Rng(9);
  const data = [1001, 3].map((n) => Array.from({ length: 6 }, (_, k) => randomArray(rng, n, k === 0 ? 1 : 0.3)));
  for (const [name, be] of [['cpu', cpu], ['webgpu', gpu]] as const) {
    it.skipIf(!be)(`${name}: equals the per-parameter updates, gaps stay zero${be ? '' : ` (skipped: ${noGpuReason})`}`, async () => {
      const { outputs, gaps } = await trainPacked(be!, data);
      const want = await train(be!, data, 0.5);
      outputs.forEach((g, k) => expect(toleranceRatio(g, want[k], 1e-6, 1e-5), `output ${k}`).toBeLessThanOrEqual(1));
      expect(gaps.every((x) => x === 0)).toBe(true);
    });
  }
});
