/**
 * The GPU ridge solve (blocked Cholesky in float32) against the float64 cpu solver: n on both sides of
 * the 64-column block (1, 5, 63, 64, 65, 130, 300) and 1, 3 or 192 right-hand sides (832 once), a
 * gram matrix whose upper triangle is garbage, inputs left as they were, and an indefinite matrix,
 * which must give all-NaN x.
 *
 * Systems: G = Z^T Z with Z: (2n + 3, n) uniform in [-1, 1] and lambda = 0.01 (2n + 3). The largest
 * eigenvalue of Z^T Z is about rows/3 (1 + sqrt(n / rows))^2 < 0.98 rows and lambda lifts the smallest
 * to at least 0.01 rows, so G + lambda I has condition number kappa < 100 (about 26 for the larger n,
 * where the smallest eigenvalue of Z^T Z is near rows/3 (1 - sqrt(n / rows))^2). Cholesky in float32
 * is backward stable: x solves a system perturbed by rounding errors of relative size ~eps = 2^-24
 * per operation, which add up with random signs (~sqrt(n) eps per entry after n-long sums) and are
 * amplified by at most kappa in x. Hence the tolerance |x - x*| <= kappa sqrt(n) eps max |x*|, with
 * kappa = 100: 6e-6 sqrt(n) (1e-4 at n = 300). On lavapipe the worst case uses about 2% of it (errors
 * of 1e-7 .. 1.4e-6 max |x*|); one wrong or missing block product puts errors of the size of x itself
 * into many elements.
 */
import { describe, expect, it } from 'vitest';
import { solveRidge as solveOnCpu } from '../../../src/backend/cpu/ridge-solve.js';
import { solveRidge } from '../../../src/backend/webgpu/kernels/ridge-solve.js';
import type { GpuTensor } from '../../../src/backend/webgpu/runtime.js';
import { Rng } from '../../../src/util/rng.js';
import { gpu, noGpuReason, randomArray } from './gpu-fixture.js';

/** kappa eps, per sqrt(n): see above. */
const TOLERANCE_PER_ROOT_N = 100 * 2 ** -24;

/** Z^T Z (lower triangle mirrored) for Z: (rows, n) uniform in [-1, 1], in float64, rounded to float32. */
function gramOf(rng: Rng, rows: number, n: number): Float32Array {
  const z = randomArray(rng, rows * n);
  const g = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += z[r * n + i] * z[r * n + j];
      g[i * n + j] = s;
      g[j * n + i] = s;
    }
  }
  return g;
}

/** The GPU solve of uploaded copies of gram and rhs; also returns both inputs as they are afterwards. */
async function solveOnGpu(gram: Float32Array, n: number, lambda: number, rhs: Float32Array, K: number) {
  const g = gpu!.upload(gram, [n, n]) as GpuTensor;
  const r = gpu!.upload(rhs, [K, n]) as GpuTensor;
  const x = solveRidge(gpu!.rt, g, lambda, r);
  const [out, gramAfter, rhsAfter] = await Promise.all([x, g, r].map((t) => gpu!.download(t)));
  for (const t of [x, g, r]) gpu!.dispose(t);
  return { x: out, gramAfter, rhsAfter };
}

/** max |x - want| / max |want| (Infinity for any NaN). */
function relativeError(x: Float32Array, want: Float64Array): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i] - want[i]);
    err = Number.isNaN(d) ? Infinity : Math.max(err, d);
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return err / scale;
}

/** Elements whose bits differ (toEqual takes most of a second on 90000 floats). */
function differingWords(a: Float32Array, b: Float32Array): number {
  const u = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const v = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let count = Math.abs(u.length - v.length);
  for (let i = 0; i < Math.min(u.length, v.length); i++) if (u[i] !== v[i]) count++;
  return count;
}

async function check(n: number, K: number, seed: number, garbageAbove = false): Promise<void> {
  const rng = new Rng(seed);
  const rows = 2 * n + 3;
  const lambda = 0.01 * rows;
  const gram = gramOf(rng, rows, n);
  const rhs = randomArray(rng, K * n);
  const input = Float32Array.from(gram);
  if (garbageAbove) {
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) input[i * n + j] = (i + j) % 3 === 0 ? NaN : (i - j) * 1e30;
  }
  const { x, gramAfter, rhsAfter } = await solveOnGpu(input, n, lambda, rhs, K);
  const want = solveOnCpu(Float64Array.from(gram), n, lambda, Float64Array.from(rhs), K);
  expect(relativeError(x, want) / (TOLERANCE_PER_ROOT_N * Math.sqrt(n)), 'error / tolerance').toBeLessThanOrEqual(1);
  expect(differingWords(gramAfter, input), 'gram changed').toBe(0);
  expect(differingWords(rhsAfter, rhs), 'rhs changed').toBe(0);
}

describe.skipIf(!gpu)(`webgpu ridge solve${gpu ? '' : ` (skipped: ${noGpuReason})`}`, () => {
  for (const n of [1, 5, 63, 64, 65, 130, 300]) {
    for (const K of [1, 3, 192]) {
      it(`matches the float64 cpu solve (n ${n}, K ${K})`, async () => {
        await check(n, K, n * 1000 + K);
      });
    }
  }

  it('matches the float64 cpu solve with 832 right-hand sides (n 130)', async () => {
    await check(130, 832, 7);
  });

  for (const n of [5, 65, 130]) {
    it(`reads only the lower triangle of gram (n ${n}, upper half NaN and +-1e30)`, async () => {
      await check(n, 3, n + 17, true);
    });
  }

  // diag(1, ..., -1 at `at`, ..., 1) with lambda 0: a negative pivot in the first block, at the start
  // of a block, in the middle of a later one, and the last pivot of all.
  for (const [n, at] of [[5, 1], [65, 64], [130, 100], [130, 0], [130, 129]]) {
    it(`gives all-NaN x for an indefinite matrix (n ${n}, pivot ${at} negative)`, async () => {
      const gram = new Float32Array(n * n);
      for (let i = 0; i < n; i++) gram[i * n + i] = i === at ? -1 : 1;
      const K = 3;
      const rhs = randomArray(new Rng(n), K * n);
      const { x } = await solveOnGpu(gram, n, 0, rhs, K);
      expect(x.filter((v) => !Number.isNaN(v)).length, 'elements that are not NaN').toBe(0);
    });
  }
});
