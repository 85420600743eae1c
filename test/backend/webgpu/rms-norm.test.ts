/**
 * RMSNorm on the GPU against the cpu backend: y, rstd, dx and dWeight. Inputs uniform in [-2, 2],
 * weights around 1. Tolerances (|gpu - cpu| <= atol + rtol |cpu|): the row sums of d squares run in
 * float32 in a tree (the cpu: float64 in order), so y, rstd, dx get atol 1e-6, rtol 1e-5 (relative
 * error of a d-term float32 sum stays near 1e-7 sqrt(d)); dWeight sums over the M rows:
 * atol 1e-6 sqrt(M), rtol 1e-5. Widths below, at and above the 128 threads of a row (1, 5, 128, 129,
 * 256, 300), one row, row counts that leave the last 16-row block part empty.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/backend/backend.js';
import { Rng } from '../../../src/util/rng.js';
import { addedToSines, cpu, gpu, noGpuReason, randomArray, toleranceRatio } from './gpu-fixture.js';

async function rmsNorm(be: Backend, x: Float32Array, w: Float32Array, dy: Float32Array, M: number, d: number) {
  const tx = be.upload(x, [M, d]);
  const tw = be.upload(w, [d]);
  const { y, rstd } = be.rmsNormForward(tx, tw, 1e-5);
  // dWeight starts as garbage: the backward pass must overwrite it
  const dWeight = be.upload(new Float32Array(d).fill(3), [d]);
  const dx = be.rmsNormBackward(tx, tw, rstd, be.upload(dy, [M, d]), dWeight);
  // the same dx added to a residual gradient: what the model does
  const residual = be.upload(Float32Array.from({ length: M * d }, (_, i) => Math.sin(i)), [M, d]);
  const added = be.rmsNormBackward(tx, tw, rstd, be.upload(dy, [M, d]), be.zeros([d]), residual);
  expect(added).toBe(residual);
  return Promise.all([y, rstd, dx, dWeight, added].map((t) => be.download(t)));
}

describe.skipIf(!gpu)(`webgpu RMSNorm${gpu ? '' : ` (skipped: ${noGpuReason})`}`, () => {
  const cases: [number, number][] = [[1, 1], [3, 5], [17, 128], [33, 129], [100, 256], [7, 300]];
  for (const [M, d] of cases) {
    it(`forward and backward match the cpu backend (M ${M}, d ${d})`, async () => {
      const rng = new Rng(M * 1000 + d);
      const x = randomArray(rng, M * d, 2);
      const w = Float32Array.from(randomArray(rng, d, 0.5), (v) => 1 + v);
      const dy = randomArray(rng, M * d);
      const got = await rmsNorm(gpu!, x, w, dy, M, d);
      const want = await rmsNorm(cpu, x, w, dy, M, d);
      ['y', 'rstd', 'dx'].forEach((name, k) => expect(toleranceRatio(got[k], want[k], 1e-6, 1e-5), name).toBeLessThanOrEqual(1));
      expect(toleranceRatio(got[3], want[3], 1e-6 * Math.sqrt(M), 1e-5), 'dWeight').toBeLessThanOrEqual(1);
      expect(got[4], 'dx added to a residual gradient').toEqual(addedToSines(got[2]));
      expect(want[4], 'the cpu backend adds it too').toEqual(addedToSines(want[2]));
    });
  }

  it('gives the same bits run after run', async () => {
    const rng = new Rng(4);
    const [M, d] = [200, 96];
    const [x, w, dy] = [randomArray(rng, M * d), randomArray(rng, d), randomArray(rng, M * d)];
    const first = await rmsNorm(gpu!, x, w, dy, M, d);
    const second = await rmsNorm(gpu!, x, w, dy, M, d);
    first.forEach((t, k) => expect(second[k]).toEqual(t));
  });
});
