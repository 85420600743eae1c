/**
 * Mixed precision: the tensor-core matmul (f16 operands, f32 sums) against the cpu backend, on the
 * shapes and paths the f32 kernel is tested on (every transpose pair, new / into / accumulate, each tile
 * shape, edges, split K). It needs f16 subgroup matrices, which lavapipe lacks: there the products are
 * skipped (reported as skipped) and `node tools/matmul-check.mjs` covers them on the H200, on every
 * product of a training step. What runs everywhere: asking for mixed precision where it cannot run is
 * refused in one line.
 *
 * Tolerance: rounding both operands to f16 (11 significant bits) moves each product by up to 2^-10
 * relative; over K products of random sign the error grows like sqrt(K): |gpu - cpu| <= 2e-3 sqrt(K),
 * about four times the standard deviation for entries uniform in [-1, 1], and far below one wrong or
 * missing product on the short-K shapes.
 */
import { describe, expect, it } from 'vitest';
import { createBackend } from '../../../src/backend/index.js';
import { WebGpuBackend } from '../../../src/backend/webgpu/webgpu-backend.js';
import { checkMatmul, name, PAIRS, type Case } from './matmul-cases.js';
import { gpu, noGpuReason } from './gpu-fixture.js';

const tensorCores = gpu?.rt.gpu.subgroupMatrix ? new WebGpuBackend(gpu.rt.gpu, 'mixed') : null;
const why = !gpu ? noGpuReason : `${gpu.adapterName} has no f16 subgroup matrices; tools/matmul-check.mjs covers them on a GPU that has`;

describe.skipIf(!tensorCores)(`mixed-precision matmul${tensorCores ? '' : ` (skipped: ${why})`}`, () => {
  const shapes: Case[] = [
    { M: 1, N: 1, K: 1 },
    { M: 17, N: 33, K: 5 },
    { M: 65, N: 3, K: 129 },
    { M: 130, N: 16, K: 17 },
    { M: 257, N: 20, K: 31 },
    { M: 2100, N: 1030, K: 9 },
    { M: 130, N: 140, K: 8200 },
    { M: 20, N: 24, K: 5000 },
  ];
  for (const [transA, transB] of PAIRS) {
    it(`${name(transA, transB)}: new, into and accumulate match the cpu backend within f16 rounding`, async () => {
      for (const [k, shape] of shapes.entries()) await checkMatmul(tensorCores!, shape, transA, transB, 500 + k * 4 + (transA ? 2 : 0) + (transB ? 1 : 0), 2e-3);
    });
  }
});

describe('mixed precision where it cannot run', () => {
  it('is refused on the cpu backend, and on an adapter without subgroup matrices', async () => {
    await expect(createBackend('cpu', 'mixed')).rejects.toThrow(/^--precision mixed: the cpu backend multiplies in float32 only/);
    if (gpu && !gpu.rt.gpu.subgroupMatrix) {
      await expect(createBackend('webgpu', 'mixed')).rejects.toThrow(/^--precision mixed: the adapter \(.+\) has no f16 subgroup matrices$/);
      expect(() => new WebGpuBackend(gpu.rt.gpu, 'mixed')).toThrow(/needs an adapter with f16 subgroup matrices/);
      // auto falls back to f32 there
      expect((await createBackend('webgpu', 'auto')).precision).toBe('f32');
    }
  });
});
