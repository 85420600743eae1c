/**
 * The ridge system of a probe's closed-form start: (G + lambda I) W^T = R, with G: (D, D) symmetric
 * positive semi-definite (a Gram matrix) and R: (D, K), solved by Cholesky in float64. Written out
 * rather than through ml-matrix because the state probes have D = E * N (2048 for `tiny`), where these
 * loops are many times faster; ml-matrix solves the same system in the tests as the reference.
 *
 * Blocked (LAPACK's right-looking order, blocks of NB): almost all the work (D^3 / 3 for the factor,
 * D^2 K for the two triangular solves) is in matrix products over contiguous rows, done in 4 x 4
 * register blocks (`subtractProductNT`), which run about three times faster than the dot-product loops
 * of the unblocked textbook order.
 */

/** Block size: 64 doubles = 512 bytes per row piece, so a 4 x 4 product's 8 rows stay in L1. */
const NB = 64;

/**
 * c[i, j] -= sum_k a[i, k] * b[j, k] for i < M, j < N, k < K, on row-major views: a row i at
 * a[ao + i * lda], b row j at b[bo + j * ldb], c row i at c[co + i * ldc]. With `lower`, only j <= i
 * (a === b, for the lower triangle of a symmetric update).
 */
export function subtractProductNT(
  a: Float64Array, ao: number, lda: number, b: Float64Array, bo: number, ldb: number, c: Float64Array, co: number, ldc: number,
  M: number, N: number, K: number, lower = false,
): void {
  const M4 = M - (M % 4);
  for (let i = 0; i < M4; i += 4) {
    const a0 = ao + i * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
    const jEnd = lower ? Math.min(N, i + 4) : N;
    const N4 = jEnd - (jEnd % 4);
    for (let j = 0; j < N4; j += 4) {
      const b0 = bo + j * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0;
      let s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0;
      let s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = a[a0 + k], x1 = a[a1 + k], x2 = a[a2 + k], x3 = a[a3 + k];
        const y0 = b[b0 + k], y1 = b[b1 + k], y2 = b[b2 + k], y3 = b[b3 + k];
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
        s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
        s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
      }
      const o0 = co + i * ldc + j, o1 = o0 + ldc, o2 = o1 + ldc, o3 = o2 + ldc;
      c[o0] -= s00; c[o0 + 1] -= s01; c[o0 + 2] -= s02; c[o0 + 3] -= s03;
      c[o1] -= s10; c[o1 + 1] -= s11; c[o1 + 2] -= s12; c[o1 + 3] -= s13;
      c[o2] -= s20; c[o2 + 1] -= s21; c[o2 + 2] -= s22; c[o2 + 3] -= s23;
      c[o3] -= s30; c[o3 + 1] -= s31; c[o3 + 2] -= s32; c[o3 + 3] -= s33;
    }
    for (let j = N4; j < jEnd; j++) for (let r = i; r < i + 4; r++) c[co + r * ldc + j] -= dot(a, ao + r * lda, b, bo + j * ldb, K);
  }
  for (let i = M4; i < M; i++) {
    const jEnd = lower ? Math.min(N, i + 1) : N;
    for (let j = 0; j < jEnd; j++) c[co + i * ldc + j] -= dot(a, ao + i * lda, b, bo + j * ldb, K);
  }
}

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
 * L (D, D) lower-triangular with L L^T = a (row-major; only the lower triangle of `a` is read), or null
 * when `a` is not positive definite (a pivot that is not above 0).
 */
export function choleskyLower(a: Float64Array, D: number): Float64Array | null {
  // Work in place on a copy of the lower triangle; the upper one ends zero.
  const l = new Float64Array(D * D);
  for (let i = 0; i < D; i++) l.set(a.subarray(i * D, i * D + i + 1), i * D);
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
    if (k1 < D) subtractProductNT(l, k1 * D + k0, D, l, k1 * D + k0, D, l, k1 * D + k1, D, D - k1, D - k1, k1 - k0, true);
  }
  // The 4 x 4 blocks on the diagonal also updated a few entries above it, which nothing read: clear them.
  for (let i = 0; i < D; i++) l.fill(0, i * D + i + 1, (i + 1) * D);
  return l;
}

/**
 * Solves (G + lambda I) x = b for each of the K right-hand sides given as rows of rhs: (K, D).
 * Returns x as rows (K, D), all NaN when G + lambda I is not positive definite.
 */
export function solveRidge(gram: Float64Array, D: number, lambda: number, rhs: Float64Array, K: number): Float64Array {
  const a = Float64Array.from(gram);
  for (let i = 0; i < D; i++) a[i * D + i] += lambda;
  const l = choleskyLower(a, D);
  if (!l) return new Float64Array(K * D).fill(NaN);
  // lt = L^T, so both solves read rows.
  const lt = new Float64Array(D * D);
  for (let i = 0; i < D; i++) for (let j = 0; j <= i; j++) lt[j * D + i] = l[i * D + j];
  // Forward, as rows: Y = B L^-T (each row y solves L y = b), column block by column block.
  const x = Float64Array.from(rhs);
  for (let j0 = 0; j0 < D; j0 += NB) {
    const j1 = Math.min(D, j0 + NB);
    // x[:, j0:j1] -= x[:, 0:j0] L[j0:j1, 0:j0]^T
    if (j0 > 0) subtractProductNT(x, 0, D, l, j0 * D, D, x, j0, D, K, j1 - j0, j0);
    for (let r = 0; r < K; r++) {
      const o = r * D;
      for (let i = j0; i < j1; i++) x[o + i] = (x[o + i] - dot(l, i * D + j0, x, o + j0, i - j0)) / l[i * D + i];
    }
  }
  // Backward: X = Y L^-1 (each row x solves L^T x = y), from the last column block.
  for (let j1 = D; j1 > 0; j1 -= NB) {
    const j0 = Math.max(0, j1 - NB);
    // x[:, j0:j1] -= x[:, j1:D] L[j1:D, j0:j1] = x[:, j1:D] (L^T[j0:j1, j1:D])^T
    if (j1 < D) subtractProductNT(x, j1, D, lt, j0 * D + j1, D, x, j0, D, K, j1 - j0, D - j1);
    for (let r = 0; r < K; r++) {
      const o = r * D;
      for (let i = j1 - 1; i >= j0; i--) x[o + i] = (x[o + i] - dot(lt, i * D + i + 1, x, o + i + 1, j1 - i - 1)) / l[i * D + i];
    }
  }
  return x;
}
