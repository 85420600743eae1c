import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SIMD_KERNELS_BASE64 } from '../../src/backend/cpu/simd/kernels-binary.js';
import { gemmNT, gemmTN } from '../../src/backend/cpu/simd/simd-kernels.js';
import { compileSimdKernels } from '../../tools/compile-simd-kernels.mjs';
import { matmulRef, randomArray } from './reference.js';

describe('cpu SIMD kernels', () => {
  it('embeds exactly the module that kernels.wat compiles to (run tools/build-simd-kernels.mjs after editing it)', async () => {
    const source = readFileSync(new URL('../../src/backend/cpu/simd/kernels.wat', import.meta.url), 'utf8');
    const compiled = Buffer.from(await compileSimdKernels(source));
    expect(Buffer.from(SIMD_KERNELS_BASE64, 'base64').equals(compiled)).toBe(true);
  });

  // The two products, each with its operands' stored layout (a then b) and its padding sizes.
  const products = [
    { name: 'gemmNT (a stored M x K, b stored N x K)', transA: false, transB: true, sizes: [[1, 1, 1], [4, 2, 4], [5, 3, 7], [13, 17, 11], [64, 61, 64], [9, 20, 944]],
      run: (a: Float32Array, b: Float32Array, c: Float32Array, M: number, N: number, K: number, acc: boolean) => gemmNT(a, b, c, M, N, K, acc) },
    { name: 'gemmTN (a stored K x M, b stored K x N)', transA: true, transB: false, sizes: [[1, 1, 1], [4, 8, 4], [5, 3, 7], [13, 17, 11], [64, 61, 64], [22, 192, 944]],
      run: (a: Float32Array, b: Float32Array, c: Float32Array, M: number, N: number, K: number, acc: boolean) => gemmTN(a, b, c, M, N, K, acc, 0, M) },
  ];
  for (const { name, transA, transB, sizes, run } of products) it(`${name} matches the float64 product on sizes that need every kind of padding, and accumulates`, () => {
    for (const [M, N, K] of sizes) {
      const a = Float32Array.from(randomArray(M * K, M + 1));
      const b = Float32Array.from(randomArray(N * K, N + 2));
      const ref = matmulRef(Float64Array.from(a), Float64Array.from(b), M, N, K, transA, transB);
      const c = new Float32Array(M * N).fill(Number.NaN);
      run(a, b, c, M, N, K, false);
      const base = Float32Array.from(randomArray(M * N, K + 3));
      const acc = base.slice();
      run(a, b, acc, M, N, K, true);
      for (let i = 0; i < M * N; i++) {
        const tol = 1e-6 * Math.sqrt(K) * (1 + Math.abs(ref[i]));
        expect(Math.abs(c[i] - ref[i]), `${M}x${N}x${K} [${i}]`).toBeLessThan(tol);
        expect(Math.abs(acc[i] - (base[i] + ref[i])), `${M}x${N}x${K} += [${i}]`).toBeLessThan(tol + 1e-6);
      }
    }
  });

  it('gemmTN writes only its range of rows, with the bits of the whole product', () => {
    const M = 23, N = 9, K = 37;
    const a = Float32Array.from(randomArray(K * M, 7));
    const b = Float32Array.from(randomArray(K * N, 8));
    const whole = new Float32Array(M * N);
    gemmTN(a, b, whole, M, N, K, false, 0, M);
    const parts = new Float32Array(M * N).fill(Number.NaN);
    gemmTN(a, b, parts, M, N, K, false, 0, 4);
    expect(parts.subarray(4 * N).every(Number.isNaN), 'rows past the range untouched').toBe(true);
    for (const [r0, r1] of [[18, 23], [5, 18], [4, 5]]) gemmTN(a, b, parts, M, N, K, false, r0, r1);
    expect(Buffer.from(parts.buffer).equals(Buffer.from(whole.buffer))).toBe(true);
  });

  it('gives every row the same bits whether it is computed in the whole product or in a range of rows', () => {
    const M = 23, N = 9, K = 37;
    const a = Float32Array.from(randomArray(M * K, 5));
    const b = Float32Array.from(randomArray(N * K, 6));
    const whole = new Float32Array(M * N);
    gemmNT(a, b, whole, M, N, K, false);
    const parts = new Float32Array(M * N);
    for (const [r0, r1] of [[0, 4], [4, 5], [5, 18], [18, 23]]) {
      gemmNT(a.subarray(r0 * K, r1 * K), b, parts.subarray(r0 * N, r1 * N), r1 - r0, N, K, false);
    }
    expect(Buffer.from(parts.buffer).equals(Buffer.from(whole.buffer))).toBe(true);
  });

  it('gives zeros for an empty inner dimension', () => {
    const c = new Float32Array(6).fill(Number.NaN);
    gemmNT(new Float32Array(0), new Float32Array(0), c, 2, 3, 0, false);
    expect(Array.from(c)).toEqual([0, 0, 0, 0, 0, 0]);
    c.fill(Number.NaN);
    gemmTN(new Float32Array(0), new Float32Array(0), c, 2, 3, 0, false, 0, 2);
    expect(Array.from(c)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});
