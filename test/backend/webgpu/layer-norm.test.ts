/**
 * LayerNorm with bias on the GPU against the cpu backend: y, mean, rstd, dx, dWeight and dBias. Inputs
 * uniform in [-2, 2], weights around 1, biases in [-0.5, 0.5], and in every case one row around 1000
 * with a spread of 0.01, whose mean dwarfs its spread (a one-pass or unshifted float32 mean loses it).
 * Tolerances (|gpu - cpu| <= atol + rtol |cpu|): the row sums run in float32 in a tree (the cpu: float64
 * in order), so y, mean, rstd, dx get atol 1e-6, rtol 1e-5; dWeight and dBias sum over the M rows:
 * atol 1e-6 sqrt(M), rtol 1e-5. On lavapipe the worst case uses a quarter of a bound; an unshifted mean
 * misses y of the narrow row by thousands of times its bound. Widths below, at and above the 128
 * threads of a row (1, 5, 128, 129, 256, 300), one row, row counts that leave the last 16-row block
 * part empty.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/backend/backend.js';
import { Rng } from '../../../src/util/rng.js';
import { addedToSines, cpu, gpu, noGpuReason, randomArray, toleranceRatio } from './gpu-fixture.js';

const EPS = 1e-5;

async function layerNorm(be: Backend, x: Float32Array, w: Float32Array, b: Float32Array, dy: Float32Array, M: number, d: number) {
  const tx = be.upload(x, [M, d]);
  const tw = be.upload(w, [d]);
  const { y, mean, rstd } = be.layerNormForward(tx, tw, be.upload(b, [d]), EPS);
  // dWeight and dBias start as garbage: the backward pass must overwrite them
  const dWeight = be.upload(new Float32Array(d).fill(3), [d]);
  const dBias = be.upload(new Float32Array(d).fill(3), [d]);
  const dx = be.layerNormBackward(tx, tw, mean, rstd, be.upload(dy, [M, d]), dWeight, dBias);
  const residual = be.upload(Float32Array.from({ length: M * d }, (_, i) => Math.sin(i)), [M, d]);
  const added = be.layerNormBackward(tx, tw, mean, rstd, be.upload(dy, [M, d]), be.zeros([d]), be.zeros([d]), residual);
  expect(added).toBe(residual);
  return Promise.all([y, mean, rstd, dx, dWeight, dBias, added].map((t) => be.download(t)));
}

function inputs(M: number, d: number) {
  const rng = new Rng(M * 1000 + d);
  const x = randomArray(rng, M * d, 2);
  // the last row: mean 1000, spread 0.01
  for (let i = (M - 1) * d; i < M * d; i++) x[i] = 1000 + (rng.nextFloat() * 2 - 1) * 0.01;
  const w = Float32Array.from(randomArray(rng, d, 0.5), (v) => 1 + v);
  return { x, w, b: randomArray(rng, d, 0.5), dy: randomArray(rng, M * d) };
}

describe.skipIf(!gpu)(`webgpu LayerNorm${gpu ? '' : ` (skipped: ${noGpuReason})`}`, () => {
  const cases: [number, number][] = [[1, 1], [3, 5], [17, 128], [33, 129], [100, 256], [7, 300]];
  for (const [M, d] of cases) {
    it(`forward and backward match the cpu backend (M ${M}, d ${d})`, async () => {
      const { x, w, b, dy } = inputs(M, d);
      const got = await layerNorm(gpu!, x, w, b, dy, M, d);
      const want = await layerNorm(cpu, x, w, b, dy, M, d);
      ['y', 'mean', 'rstd', 'dx'].forEach((name, k) => expect(toleranceRatio(got[k], want[k], 1e-6, 1e-5), name).toBeLessThanOrEqual(1));
      ['dWeight', 'dBias'].forEach((name, k) => expect(toleranceRatio(got[4 + k], want[4 + k], 1e-6 * Math.sqrt(M), 1e-5), name).toBeLessThanOrEqual(1));
      expect(got[6], 'dx added to a residual gradient').toEqual(addedToSines(got[3]));
      expect(want[6], 'the cpu backend adds it too').toEqual(addedToSines(want[3]));
    });
  }

  it('gives the same bits run after run', async () => {
    const [M, d] = [200, 96];
    const { x, w, b, dy } = inputs(M, d);
    const first = await layerNorm(gpu!, x, w, b, dy, M, d);
    const second = await layerNorm(gpu!, x, w, b, dy, M, d);
    first.forEach((t, k) => expect(second[k]).toEqual(t));
  });
});
