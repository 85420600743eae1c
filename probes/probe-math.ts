/**
 * The dense kernels of probe fitting, on Float32Array: C = A B^T over contiguous rows (4x4 register
 * blocks, float64 sums), a blocked transpose, and the Gram matrix X^T X of a chunk of rows. Probes are
 * fitted on the host whatever backend ran the model, so they live here rather than in a backend.
 */

/** out (cols, rows) = transpose of x (rows, cols). */
export function transpose(x: Float32Array, rows: number, cols: number, out: Float32Array): void {
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) {
        const xr = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = x[xr + c];
      }
    }
  }
}

/**
 * c (M, N) = a (M, K) . b (N, K)^T, or += with `accumulate`. With `upper` only the blocks on or above
 * the diagonal are computed (for a symmetric result; a === b).
 */
export function gemmNT(a: Float32Array, b: Float32Array, c: Float32Array | Float64Array, M: number, N: number, K: number, accumulate: boolean, upper = false): void {
  const M4 = M - (M % 4);
  const N4 = N - (N % 4);
  for (let i = 0; i < M4; i += 4) {
    const a0 = i * K, a1 = a0 + K, a2 = a1 + K, a3 = a2 + K;
    for (let j = upper ? i : 0; j < N4; j += 4) {
      const b0 = j * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
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
      const o0 = i * N + j, o1 = o0 + N, o2 = o1 + N, o3 = o2 + N;
      if (accumulate) {
        c[o0] += s00; c[o0 + 1] += s01; c[o0 + 2] += s02; c[o0 + 3] += s03;
        c[o1] += s10; c[o1 + 1] += s11; c[o1 + 2] += s12; c[o1 + 3] += s13;
        c[o2] += s20; c[o2 + 1] += s21; c[o2 + 2] += s22; c[o2 + 3] += s23;
        c[o3] += s30; c[o3 + 1] += s31; c[o3 + 2] += s32; c[o3 + 3] += s33;
      } else {
        c[o0] = s00; c[o0 + 1] = s01; c[o0 + 2] = s02; c[o0 + 3] = s03;
        c[o1] = s10; c[o1 + 1] = s11; c[o1 + 2] = s12; c[o1 + 3] = s13;
        c[o2] = s20; c[o2 + 1] = s21; c[o2 + 2] = s22; c[o2 + 3] = s23;
        c[o3] = s30; c[o3 + 1] = s31; c[o3 + 2] = s32; c[o3 + 3] = s33;
      }
    }
    // Columns left over when N is not a multiple of 4.
    for (let j = Math.max(N4, upper ? i : 0); j < N; j++) dotRows(a, b, c, i, 4, j, N, K, accumulate);
  }
  // Rows left over when M is not a multiple of 4.
  for (let i = M4; i < M; i++) {
    for (let j = upper ? i : 0; j < N; j++) dotRows(a, b, c, i, 1, j, N, K, accumulate);
  }
}

/** c[r, j] (+)= a[r] . b[j] for rows r = i .. i+count-1. */
function dotRows(a: Float32Array, b: Float32Array, c: Float32Array | Float64Array, i: number, count: number, j: number, N: number, K: number, accumulate: boolean): void {
  const bj = j * K;
  for (let r = i; r < i + count; r++) {
    const ar = r * K;
    let s = 0;
    for (let k = 0; k < K; k++) s += a[ar + k] * b[bj + k];
    if (accumulate) c[r * N + j] += s;
    else c[r * N + j] = s;
  }
}

/**
 * gram (D, D) += x^T x for the chunk x: (rows, D), given as xT: (D, rows). Only the upper triangle
 * (i <= j, in 4x4 blocks) is accumulated; `mirrorUpper` fills the rest once at the end.
 */
export function addGram(xT: Float32Array, D: number, rows: number, gram: Float64Array): void {
  gemmNT(xT, xT, gram, D, D, rows, true, true);
}

/** Copies the upper triangle of a (D, D) matrix onto the lower one. */
export function mirrorUpper(m: Float64Array, D: number): void {
  for (let i = 0; i < D; i++) for (let j = 0; j < i; j++) m[i * D + j] = m[j * D + i];
}
