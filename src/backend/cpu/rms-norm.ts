/**
 * RMSNorm on Float32Array (Hugging Face MambaRMSNorm / mamba.py):
 *   y = x * rstd * w,  rstd = 1 / sqrt(mean(x^2) + eps)      x, y: (M, d), w: (d), rstd: (M)
 * Each function works on a range of rows or columns, so that the cpu backend's threads can share it;
 * no result depends on how the ranges are cut.
 */

/** The rows [m0, m1) of y and rstd. */
export function rmsNormForward(
  x: Float32Array, w: Float32Array, eps: number, y: Float32Array, rstd: Float32Array, d: number, m0: number, m1: number,
): void {
  for (let m = m0; m < m1; m++) {
    const o = m * d;
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[o + i] * x[o + i];
    const r = 1 / Math.sqrt(ss / d + eps);
    rstd[m] = r;
    for (let i = 0; i < d; i++) y[o + i] = x[o + i] * r * w[i];
  }
}

/**
 * With xhat = x * rstd:  dx = rstd * (g - xhat * mean(g * xhat)), g = dy * w. The rows [m0, m1) of dx (M, d).
 */
export function rmsNormBackwardRows(
  x: Float32Array, w: Float32Array, rstd: Float32Array, dy: Float32Array, dx: Float32Array, d: number, m0: number, m1: number,
): void {
  for (let m = m0; m < m1; m++) {
    const o = m * d;
    const r = rstd[m];
    let dot = 0;
    for (let i = 0; i < d; i++) dot += dy[o + i] * w[i] * (x[o + i] * r);
    const mean = dot / d;
    for (let i = 0; i < d; i++) dx[o + i] = r * (dy[o + i] * w[i] - x[o + i] * r * mean);
  }
}

/** dw = sum over the M rows of dy * xhat, summed in row order: the columns [i0, i1) of dw (d) (overwritten). */
export function rmsNormWeightGrad(
  x: Float32Array, rstd: Float32Array, dy: Float32Array, dw: Float32Array, d: number, M: number, i0: number, i1: number,
): void {
  for (let i = i0; i < i1; i++) {
    let acc = 0;
    for (let m = 0, o = i; m < M; m++, o += d) acc += dy[o] * (x[o] * rstd[m]);
    dw[i] = acc;
  }
}
