/**
 * LayerNorm with bias on Float32Array (GPT-2's ln_1, ln_2, ln_f; PyTorch's nn.LayerNorm):
 *   y = (x - mean) * rstd * w + b,  rstd = 1 / sqrt(var(x) + eps)     x, y: (M, d), w, b: (d), mean, rstd: (M)
 * (var is the biased variance, as PyTorch's). Each function works on a range of rows or columns, so
 * that the cpu backend's threads can share it; no result depends on how the ranges are cut.
 */

/** The rows [m0, m1) of y, mean and rstd. */
export function layerNormForward(
  x: Float32Array, w: Float32Array, b: Float32Array, eps: number, y: Float32Array, mean: Float32Array, rstd: Float32Array,
  d: number, m0: number, m1: number,
): void {
  for (let m = m0; m < m1; m++) {
    const o = m * d;
    let sum = 0;
    for (let i = 0; i < d; i++) sum += x[o + i];
    const mu = sum / d;
    // Two passes (mean, then squared deviations): no cancellation when |mean| >> std.
    let ss = 0;
    for (let i = 0; i < d; i++) ss += (x[o + i] - mu) * (x[o + i] - mu);
    const r = 1 / Math.sqrt(ss / d + eps);
    mean[m] = mu;
    rstd[m] = r;
    for (let i = 0; i < d; i++) y[o + i] = (x[o + i] - mu) * r * w[i] + b[i];
  }
}

/**
 * With xhat = (x - mean) rstd and g = dy w:  dx = rstd (g - mean(g) - xhat mean(g xhat)). The rows
 * [m0, m1) of dx (M, d).
 */
export function layerNormBackwardRows(
  x: Float32Array, w: Float32Array, mean: Float32Array, rstd: Float32Array, dy: Float32Array, dx: Float32Array,
  d: number, m0: number, m1: number,
): void {
  for (let m = m0; m < m1; m++) {
    const o = m * d;
    const mu = mean[m];
    const r = rstd[m];
    let sumG = 0;
    let sumGX = 0;
    for (let i = 0; i < d; i++) {
      const g = dy[o + i] * w[i];
      sumG += g;
      sumGX += g * (x[o + i] - mu) * r;
    }
    const meanG = sumG / d;
    const meanGX = sumGX / d;
    for (let i = 0; i < d; i++) dx[o + i] = r * (dy[o + i] * w[i] - meanG - (x[o + i] - mu) * r * meanGX);
  }
}

/**
 * dw = sum over the M rows of dy * xhat and db = sum of dy, each summed in row order: the columns
 * [i0, i1) of dw and db (d) (overwritten).
 */
export function layerNormParamGrads(
  x: Float32Array, mean: Float32Array, rstd: Float32Array, dy: Float32Array, dw: Float32Array, db: Float32Array,
  d: number, M: number, i0: number, i1: number,
): void {
  for (let i = i0; i < i1; i++) {
    let accW = 0;
    let accB = 0;
    for (let m = 0, o = i; m < M; m++, o += d) {
      accW += dy[o] * ((x[o] - mean[m]) * rstd[m]);
      accB += dy[o];
    }
    dw[i] = accW;
    db[i] = accB;
  }
}
