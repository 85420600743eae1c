/**
 * RMSNorm on Float32Array (Hugging Face MambaRMSNorm / mamba.py):
 *   y = x * rstd * w,  rstd = 1 / sqrt(mean(x^2) + eps)      x, y: (M, d), w: (d), rstd: (M)
 */

export function rmsNormForward(x: Float32Array, w: Float32Array, eps: number, y: Float32Array, rstd: Float32Array, d: number): void {
  const M = x.length / d;
  for (let m = 0; m < M; m++) {
    const o = m * d;
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[o + i] * x[o + i];
    const r = 1 / Math.sqrt(ss / d + eps);
    rstd[m] = r;
    for (let i = 0; i < d; i++) y[o + i] = x[o + i] * r * w[i];
  }
}

let dwScratch = new Float64Array(0);

/**
 * With xhat = x * rstd:  dw = sum_rows dy * xhat;  dx = rstd * (g - xhat * mean(g * xhat)), g = dy * w.
 * Writes dx: (M, d) and dw: (d) (overwritten).
 */
export function rmsNormBackward(x: Float32Array, w: Float32Array, rstd: Float32Array, dy: Float32Array, dx: Float32Array, dw: Float32Array, d: number): void {
  const M = x.length / d;
  if (dwScratch.length < d) dwScratch = new Float64Array(d);
  const acc = dwScratch;
  acc.fill(0, 0, d);
  for (let m = 0; m < M; m++) {
    const o = m * d;
    const r = rstd[m];
    let dot = 0;
    for (let i = 0; i < d; i++) {
      const xhat = x[o + i] * r;
      const g = dy[o + i] * w[i];
      acc[i] += dy[o + i] * xhat;
      dot += g * xhat;
    }
    const mean = dot / d;
    for (let i = 0; i < d; i++) dx[o + i] = r * (dy[o + i] * w[i] - x[o + i] * r * mean);
  }
  for (let i = 0; i < d; i++) dw[i] = acc[i];
}
