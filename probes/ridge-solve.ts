/**
 * The ridge system of a probe's closed-form start: (G + lambda I) W^T = R, with G: (D, D) symmetric
 * positive semi-definite (a Gram matrix) and R: (D, K), solved by Cholesky in float64. Written out
 * rather than through ml-matrix because the state probes have D = E * N (2048 for `tiny`), where these
 * contiguous-row loops on one Float64Array (dot products with four accumulators) are several times
 * faster; ml-matrix solves the same system in the tests as the reference.
 */

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

/** L (D, D) lower-triangular with L L^T = a (row-major; only the lower triangle of `a` is read). */
export function choleskyLower(a: Float64Array, D: number): Float64Array {
  const l = new Float64Array(D * D);
  for (let i = 0; i < D; i++) {
    const li = i * D;
    for (let j = 0; j <= i; j++) {
      const lj = j * D;
      const s = a[li + j] - dot(l, li, l, lj, j);
      if (i === j) {
        if (!(s > 0)) throw new Error(`ridge system is not positive definite at row ${i} (pivot ${s})`);
        l[li + i] = Math.sqrt(s);
      } else {
        l[li + j] = s / l[lj + j];
      }
    }
  }
  return l;
}

/**
 * Solves (G + lambda I) x = b for each of the K right-hand sides given as rows of rhs: (K, D).
 * Returns x as rows (K, D).
 */
export function solveRidge(gram: Float64Array, D: number, lambda: number, rhs: Float64Array, K: number): Float64Array {
  const a = Float64Array.from(gram);
  for (let i = 0; i < D; i++) a[i * D + i] += lambda;
  const l = choleskyLower(a, D);
  // Back substitution runs over the rows of L^T, read backwards: store them reversed so that the
  // dot products run forwards over contiguous memory. rev[(D-1-i) * D + (D-1-k)] = L[k, i].
  const rev = new Float64Array(D * D);
  for (let i = 0; i < D; i++) for (let k = i; k < D; k++) rev[(D - 1 - i) * D + (D - 1 - k)] = l[k * D + i];
  const x = new Float64Array(K * D);
  const y = new Float64Array(D);
  const xr = new Float64Array(D);
  for (let r = 0; r < K; r++) {
    const b = r * D;
    // L y = b
    for (let i = 0; i < D; i++) y[i] = (rhs[b + i] - dot(l, i * D, y, 0, i)) / l[i * D + i];
    // L^T x = y, solved for x reversed (xr[D-1-i] = x[i]).
    for (let j = 0; j < D; j++) {
      const i = D - 1 - j;
      xr[j] = (y[i] - dot(rev, j * D, xr, 0, j)) / l[i * D + i];
    }
    for (let i = 0; i < D; i++) x[b + i] = xr[D - 1 - i];
  }
  return x;
}
