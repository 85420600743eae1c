/**
 * The GPU matmul against the cpu backend: every transpose pair, a new result, `into` (overwritten) and
 * `into` with accumulate, on awkward sizes (1 x 1 x 1, sizes that are not multiples of the tiles or of
 * the 16-wide K slices), each tile shape (N <= 16, N <= 32, 64 x 64, 128 x 128 when there are enough
 * tiles, directly or by splitting K), and long-K products that take the split-K path (partials, then column sums).
 *
 * Tolerance: entries uniform in [-1, 1]; each element of C is a sum of K products of size <= 1, that
 * the cpu adds in float64 and the GPU in float32 in another order (per split, then across splits):
 * |gpu - cpu| <= 1e-6 sqrt(K) (plus 1e-6 for the added C with accumulate): float32 rounding of K
 * terms of random sign grows like sqrt(K). On lavapipe the worst element uses 0.25 to 0.45 of the
 * bound; one wrong or missing product (size ~0.1..1) in any element fails it.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/util/rng.js';
import { gpu, noGpuReason, randomArray } from './gpu-fixture.js';
import { checkMatmul, name, PAIRS, products, type Case } from './matmul-cases.js';

const check = (shape: Case, transA: boolean, transB: boolean, seed: number) => checkMatmul(gpu!, shape, transA, transB, seed, 1e-6);

describe.skipIf(!gpu)(`webgpu matmul${gpu ? '' : ` (skipped: ${noGpuReason})`}`, () => {
  const shapes: Case[] = [
    { M: 1, N: 1, K: 1 },
    { M: 17, N: 33, K: 5 },
    { M: 65, N: 3, K: 129 },
    { M: 3, N: 65, K: 16 },
    { M: 130, N: 16, K: 17 }, // 256 x 16 tiles
    { M: 257, N: 20, K: 31 }, // 128 x 32 tiles
  ];
  for (const [transA, transB] of PAIRS) {
    it(`${name(transA, transB)}: new, into and accumulate match the cpu backend on awkward shapes`, async () => {
      for (const [k, shape] of shapes.entries()) await check(shape, transA, transB, k * 4 + (transA ? 2 : 0) + (transB ? 1 : 0));
    });
  }

  it('128 x 128 tiles (enough of them, partial tiles at both edges) match the cpu backend', async () => {
    await check({ M: 2100, N: 1030, K: 9 }, false, true, 100);
  });

  for (const [transA, transB] of PAIRS) {
    it(`128 x 128 tiles with K split (${name(transA, transB)}) match the cpu backend`, async () => {
      await check({ M: 130, N: 140, K: 8200 }, transA, transB, 400 + (transA ? 2 : 0) + (transB ? 1 : 0));
    });
  }

  for (const [transA, transB] of PAIRS) {
    it(`split K: long K with few output tiles (${name(transA, transB)}) matches the cpu backend`, async () => {
      await check({ M: 20, N: 24, K: 5000 }, transA, transB, 200 + (transA ? 2 : 0) + (transB ? 1 : 0));
      await check({ M: 61, N: 70, K: 1500 }, transA, transB, 300 + (transA ? 2 : 0) + (transB ? 1 : 0));
    });
  }

  it('split K gives the same bits run after run', async () => {
    const shape = { M: 48, N: 40, K: 4000 };
    const rng = new Rng(7);
    const [a, b, start] = [randomArray(rng, shape.M * shape.K), randomArray(rng, shape.K * shape.N), randomArray(rng, shape.M * shape.N)];
    const first = await products(gpu!, a, b, start, shape, true, false);
    const second = await products(gpu!, a, b, start, shape, true, false);
    first.forEach((t, k) => expect(second[k]).toEqual(t));
  });

  it('an empty inner size gives zeros, or leaves C as it was with accumulate', async () => {
    const be = gpu!;
    const [a, b] = [be.zeros([5, 0]), be.zeros([0, 7])];
    expect(Array.from(await be.download(be.matmul(a, b)))).toEqual(new Array(35).fill(0));
    const start = randomArray(new Rng(8), 35);
    const into = be.upload(start, [5, 7]);
    be.matmul(a, b, { into, accumulate: true });
    expect(await be.download(into)).toEqual(start);
  });

  it('rejects inner sizes that differ and an `into` of the wrong size', () => {
    const be = gpu!;
    expect(() => be.matmul(be.zeros([2, 3]), be.zeros([4, 5]))).toThrow(/inner sizes 3 and 4 differ/);
    expect(() => be.matmul(be.zeros([2, 3]), be.zeros([3, 5]), { into: be.zeros([2, 4]) })).toThrow(/does not fit/);
  });
});
