/**
 * Fused softmax + cross-entropy on the GPU against the cpu backend: the loss (mean over the rows whose
 * target is not -1) and dLogits, with and without the gradient. Logits uniform in [-8, 8] (the
 * softmax then spans ~7 orders of magnitude). Tolerances: the cpu sums in float64, the GPU in float32
 * trees, so the loss gets rtol 1e-5 and dLogits atol 2.5e-7 / count with rtol 1e-4 (exp of float32
 * arguments near 8: a few ulp). Its entries are probabilities divided by the count of rows, and the
 * target's is p / count - 1 / count in float32: a cancellation whose error is a few ulp of 1 / count
 * (2^-24 / count each), so the absolute tolerance is about four of them.
 * Shapes: one row, vocabularies below, at and above the 64 threads of a row (1, 5, 61, 64, 65, 200),
 * at and past the 16 columns that get a thread per row (16, 17), a probe's 3 classes over 20,000
 * rows, rows ignored at random, and all rows ignored (loss 0, dLogits 0).
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/backend/backend.js';
import { Rng } from '../../../src/util/rng.js';
import { cpu, gpu, noGpuReason, randomArray, toleranceRatio } from './gpu-fixture.js';

async function crossEntropy(be: Backend, logits: Float32Array, targets: Int32Array, V: number) {
  const M = targets.length;
  const tl = be.upload(logits, [M, V]);
  const tt = be.uploadInts(targets, [M]);
  const withGradient = be.crossEntropy(tl, tt, true);
  const lossOnly = be.crossEntropy(tl, tt, false);
  expect(lossOnly.dLogits).toBeNull();
  return Promise.all([withGradient.loss, withGradient.dLogits!, lossOnly.loss].map((t) => be.download(t)));
}

describe.skipIf(!gpu)(`webgpu cross-entropy${gpu ? '' : ` (skipped: ${noGpuReason})`}`, () => {
  const cases: [number, number, number][] = [
    [1, 1, 0], [1, 5, 0], [40, 61, 0.3], [33, 64, 0.1], [70, 65, 0.5], [300, 200, 0.2], [9, 7, 1], [50, 16, 0.1], [50, 17, 0.1], [20000, 3, 0.05],
  ];
  for (const [M, V, ignored] of cases) {
    it(`loss and dLogits match the cpu backend (M ${M}, V ${V}, ${ignored * 100}% of rows ignored)`, async () => {
      const rng = new Rng(M * 1000 + V);
      const logits = randomArray(rng, M * V, 8);
      const targets = Int32Array.from({ length: M }, () => (rng.nextFloat() < ignored ? -1 : rng.nextInt(V)));
      const count = targets.filter((t) => t !== -1).length;
      const got = await crossEntropy(gpu!, logits, targets, V);
      const want = await crossEntropy(cpu, logits, targets, V);
      expect(toleranceRatio(got[0], want[0], 1e-7, 1e-5), 'loss').toBeLessThanOrEqual(1);
      expect(got[2], 'loss without the gradient').toEqual(got[0]);
      expect(toleranceRatio(got[1], want[1], 2.5e-7 / Math.max(count, 1), 1e-4), 'dLogits').toBeLessThanOrEqual(1);
      if (count === 0) {
        expect(got[0][0]).toBe(0);
        expect(got[1].every((v) => v === 0)).toBe(true);
      }
    });
  }

  it('a target outside the vocabulary (and not -1) makes the loss NaN', async () => {
    const be = gpu!;
    const { loss } = be.crossEntropy(be.upload(new Float32Array(6), [2, 3]), be.uploadInts(Int32Array.from([1, 3]), [2]), false);
    expect((await be.download(loss))[0]).toBeNaN();
  });
});
