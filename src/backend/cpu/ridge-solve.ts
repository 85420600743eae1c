/**
 * The ridge system of a probe's closed-form start: (G + lambda I) W^T = R, with G: (D, D) symmetric
 * positive semi-definite (a Gram matrix) and R: (D, K), solved by Cholesky in float64. Written out
 * rather than through ml-matrix because the state probes have D = E * N (2048 for `tiny`), where these
 * loops are many times faster; ml-matrix solves the same system in the tests as the reference.
 *
 * Blocked (LAPACK's right-looking order, blocks of NB): almost all the work (D^3 / 3 for the factor,
 * D^2 K for the two triangular solves) is in matrix products over contiguous rows, done by the cpu
 * matmul's 4 x 4 register-block kernel (gemmNTStrided), which runs about three times faster than the
 * dot-product loops of the unblocked textbook order; the cpu backend spreads those products over its
 * threads (RidgeSolveOptions).
 */
import { gemmNTStrided, SUBTRACT } from './matmul.js';

/** Block size: 64 doubles = 512 bytes per row piece, so a 4 x 4 product's 8 rows stay in L1. */
const NB = 64;

/**
 * c -= a b^T over row-major views, with gemmNTStrided's arguments (`lower` >= 0: only the blocks that
 * reach the lower triangle): on this thread, or split by rows across the cpu backend's threads.
 */
export type SubtractProduct = (
  a: Float64Array, ao: number, lda: number, b: Float64Array, bo: number, ldb: number, c: Float64Array, co: number, ldc: number,
  M: number, N: number, K: number, lower: number,
) => void;

export interface RidgeSolveOptions {
  subtract?: SubtractProduct;
  /**
   * The factor's, its transpose's and the solution's memory (shared memory, for the backend's threads
   * to write). It may hold anything: every entry the solve reads, it has written first.
   */
  alloc?: (n: number) => Float64Array;
}

const subtractHere: SubtractProduct = (a, ao, lda, b, bo, ldb, c, co, ldc, M, N, K, lower) => gemmNTStrided(a, ao, lda, b, bo, ldb, c, co, ldc, M, N, K, SUBTRACT, lower);

/** sum_k a[ia + k] * b[ib + k] for k < n, in four independent chains (the loop is latency-bound). */
function dot(a: Float64Array, ia: number, b: Float64Array, ib: number, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const n4 = n - (n % 4);
  for (let k = 0; k < n4; k += 4) {
    s0 += a[ia + k] * b[ib + k];
    s1 += a[ia + k + 1] * b[ib + k + 1];
    s2 += a[ia + k + 2] * b[ib + k + 2];
    s3 += a[ia + k + 3] * b[ib + k + 3];
  }
  for (let k = n4; k < n; k++) s0 += a[ia + k] * b[ib + k];
  return s0 + s1 + s2 + s3;
}

/**
 * L (D, D) lower-triangular with L L^T = a + lambda I (row-major; only the lower triangle of `a` is
 * read, float32 or float64), or null when that is not positive definite (a pivot that is not above 0).
 */
export function choleskyLower(a: Float32Array | Float64Array, D: number, options: RidgeSolveOptions = {}, lambda = 0): Float64Array | null {
  const subtract = options.subtract ?? subtractHere;
  // Work in place on a float64 copy of the lower triangle; the upper one ends zero.
  const l = options.alloc ? options.alloc(D * D) : new Float64Array(D * D);
  for (let i = 0; i < D; i++) {
    l.set(a.subarray(i * D, i * D + i + 1), i * D);
    l[i * D + i] += lambda;
  }
  for (let k0 = 0; k0 < D; k0 += NB) {
    const k1 = Math.min(D, k0 + NB);
    // Diagonal block: unblocked Cholesky of l[k0:k1, k0:k1] (already updated by the blocks left of it).
    for (let i = k0; i < k1; i++) {
      for (let j = k0; j <= i; j++) {
        const s = l[i * D + j] - dot(l, i * D + k0, l, j * D + k0, j - k0);
        if (i === j) {
          if (!(s > 0)) return null;
          l[i * D + i] = Math.sqrt(s);
        } else {
          l[i * D + j] = s / l[j * D + j];
        }
      }
    }
    // Panel below it: l[i, k0:k1] = l[i, k0:k1] L[k0:k1, k0:k1]^-T, row by row.
    for (let i = k1; i < D; i++) {
      for (let j = k0; j < k1; j++) l[i * D + j] = (l[i * D + j] - dot(l, i * D + k0, l, j * D + k0, j - k0)) / l[j * D + j];
    }
    // Trailing lower triangle: l[k1:, k1:] -= panel panel^T.
    if (k1 < D) subtract(l, k1 * D + k0, D, l, k1 * D + k0, D, l, k1 * D + k1, D, D - k1, D - k1, k1 - k0, 0);
  }
  // The 4 x 4 blocks on the diagonal also updated a few entries above it, which nothing read: clear them.
  for (let i = 0; i < D; i++) l.fill(0, i * D + i + 1, (i + 1) * D);
  return l;
}

/**
 * Solves (G + lambda I) x = b for each of the K right-hand sides given as rows of rhs: (K, D), in
 * float64 whether G and rhs are float32 or float64 (neither is changed). Returns x as rows (K, D), all
 * NaN when G + lambda I is not positive definite.
 */
export function solveRidge(
  gram: Float32Array | Float64Array, D: number, lambda: number, rhs: Float32Array | Float64Array, K: number, options: RidgeSolveOptions = {},
): Float64Array {
  const subtract = options.subtract ?? subtractHere;
  const l = choleskyLower(gram, D, options, lambda);
  if (!l) return new Float64Array(K * D).fill(NaN);
  // lt = L^T, so both solves read rows.
  const lt = options.alloc ? options.alloc(D * D) : new Float64Array(D * D);
  for (let i = 0; i < D; i++) for (let j = 0; j <= i; j++) lt[j * D + i] = l[i * D + j];
  // Forward, as rows: Y = B L^-T (each row y solves L y = b), column block by column block.
  const x = options.alloc ? options.alloc(K * D) : new Float64Array(K * D);
  x.set(rhs);
  for (let j0 = 0; j0 < D; j0 += NB) {
    const j1 = Math.min(D, j0 + NB);
    // x[:, j0:j1] -= x[:, 0:j0] L[j0:j1, 0:j0]^T
    if (j0 > 0) subtract(x, 0, D, l, j0 * D, D, x, j0, D, K, j1 - j0, j0, -1);
    for (let r = 0; r < K; r++) {
      const o = r * D;
      for (let i = j0; i < j1; i++) x[o + i] = (x[o + i] - dot(l, i * D + j0, x, o + j0, i - j0)) / l[i * D + i];
    }
  }
  // Backward: X = Y L^-1 (each row x solves L^T x = y), from the last column block.
  for (let j1 = D; j1 > 0; j1 -= NB) {
    const j0 = Math.max(0, j1 - NB);
    // x[:, j0:j1] -= x[:, j1:D] L[j1:D, j0:j1] = x[:, j1:D] (L^T[j0:j1, j1:D])^T
    if (j1 < D) subtract(x, j1, D, lt, j0 * D + j1, D, x, j0, D, K, j1 - j0, D - j1, -1);
    for (let r = 0; r < K; r++) {
      const o = r * D;
      for (let i = j1 - 1; i >= j0; i--) x[o + i] = (x[o + i] - dot(lt, i * D + i + 1, x, o + i + 1, j1 - i - 1)) / l[i * D + i];
    }
  }
  return x;
}
