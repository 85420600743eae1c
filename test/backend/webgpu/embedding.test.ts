/**
 * Embedding lookup and its scatter-add backward on the GPU against the cpu backend. The forward pass
 * is a copy and must be exact; the backward pass sums the dOut rows of equal ids in another order than
 * the cpu's (per block of 256 rows, then column sums), so it gets atol 1e-6 sqrt(M), rtol 1e-5.
 * Shapes: one id, ids repeated many times (a 3-token vocabulary over 700 rows: several blocks),
 * tokens that never occur (their rows must come out 0, or unchanged when accumulating), odd widths.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/backend/backend.js';
import { Rng } from '../../../src/util/rng.js';
import { cpu, gpu, noGpuReason, randomArray, toleranceRatio } from './gpu-fixture.js';

async function embedding(be: Backend, ids: Int32Array, weight: Float32Array, dOut: Float32Array, V: number, d: number, start: Float32Array) {
  const tIds = be.uploadInts(ids, [ids.length]);
  const out = be.embeddingForward(tIds, be.upload(weight, [V, d]));
  const dOutT = be.upload(dOut, [ids.length, d]);
  const overwritten = be.upload(start, [V, d]);
  be.embeddingBackward(tIds, dOutT, overwritten, false);
  const accumulated = be.upload(start, [V, d]);
  be.embeddingBackward(tIds, dOutT, accumulated, true);
  return Promise.all([out, overwritten, accumulated].map((t) => be.download(t)));
}

describe.skipIf(!gpu)(`webgpu embedding${gpu ? '' : ` (skipped: ${noGpuReason})`}`, () => {
  const cases: [number, number, number][] = [[1, 1, 1], [7, 5, 3], [700, 3, 33], [300, 61, 64], [513, 20, 7]];
  for (const [M, V, d] of cases) {
    it(`forward and backward (overwrite and accumulate) match the cpu backend (M ${M}, V ${V}, d ${d})`, async () => {
      const rng = new Rng(M * 100 + V + d);
      // ids from the lower part of the vocabulary only when V > 3, so some rows get no gradient
      const used = V > 3 ? V - 2 : V;
      const ids = Int32Array.from({ length: M }, () => rng.nextInt(used));
      const weight = randomArray(rng, V * d);
      const dOut = randomArray(rng, M * d);
      const start = randomArray(rng, V * d, 5);
      const got = await embedding(gpu!, ids, weight, dOut, V, d, start);
      const want = await embedding(cpu, ids, weight, dOut, V, d, start);
      expect(got[0], 'forward').toEqual(want[0]);
      expect(toleranceRatio(got[1], want[1], 1e-6 * Math.sqrt(M), 1e-5), 'backward').toBeLessThanOrEqual(1);
      expect(toleranceRatio(got[2], want[2], 1e-6 * Math.sqrt(M), 1e-5), 'backward, accumulating').toBeLessThanOrEqual(1);
      if (V > 3) expect(Array.from(got[1].subarray((V - 2) * d))).toEqual(new Array(2 * d).fill(0));
    });
  }

  it('an id outside the vocabulary gives a NaN row instead of another token', async () => {
    const be = gpu!;
    const out = await be.download(be.embeddingForward(be.uploadInts(Int32Array.from([1, 5, -2]), [3]), be.upload(Float32Array.from([1, 2, 3, 4]), [2, 2])));
    expect(Array.from(out.subarray(0, 2))).toEqual([3, 4]);
    expect(Array.from(out.subarray(2)).every(Number.isNaN)).toBe(true);
  });
});
