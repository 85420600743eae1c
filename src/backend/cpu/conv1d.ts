/**
 * Causal depthwise conv1d on Float32Array, as PyTorch's Conv1d(E, E, K, groups=E, padding=K-1) keeping
 * the first L outputs:  y[t, e] = bias[e] + sum_k w[e, k] * x[t - (K-1) + k, e]  (x = 0 before t = 0).
 *
 * Shapes: x, y: (M, E) with M = batch * length rows; w: (E, K) (PyTorch's (E, 1, K), same memory); bias: (E).
 *
 * Forward and backward work on a range of channels [e0, e1): channels are independent (depthwise), and
 * each channel's weight gradient is summed over (sequence, time) in the same order whatever the range,
 * so the cpu backend can hand ranges to different threads.
 */

export function causalConv1dForward(x: Float32Array, w: Float32Array, bias: Float32Array, y: Float32Array, batch: number, L: number, E: number, K: number, e0: number, e1: number): void {
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < L; t++) {
      const row = (b * L + t) * E;
      for (let e = e0; e < e1; e++) {
        let acc = bias[e];
        for (let k = 0; k < K; k++) {
          const s = t - (K - 1) + k;
          if (s >= 0) acc += w[e * K + k] * x[row + (s - t) * E + e];
        }
        y[row + e] = acc;
      }
    }
  }
}

let dwScratch = new Float64Array(0);

/** Writes the channels [e0, e1) of dx: (M, E), dw: (E, K), dBias: (E) (overwritten). */
export function causalConv1dBackward(
  x: Float32Array, w: Float32Array, dy: Float32Array, dx: Float32Array, dw: Float32Array, dBias: Float32Array,
  batch: number, L: number, E: number, K: number, e0: number, e1: number,
): void {
  if (dwScratch.length < E * (K + 1)) dwScratch = new Float64Array(E * (K + 1));
  // dw in [0, E*K), dBias in [E*K, E*K + E), summed in float64
  const acc = dwScratch;
  const biasOffset = E * K;
  acc.fill(0, e0 * K, e1 * K);
  acc.fill(0, biasOffset + e0, biasOffset + e1);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < L; t++) {
      const row = (b * L + t) * E;
      for (let e = e0; e < e1; e++) {
        const g = dy[row + e];
        acc[biasOffset + e] += g;
        for (let k = 0; k < K; k++) {
          const s = t - (K - 1) + k;
          if (s >= 0) acc[e * K + k] += g * x[row + (s - t) * E + e];
        }
        // dx[t, e] collects dy[t + (K-1) - k, e] * w[e, k] for the outputs that read x[t].
        let g2 = 0;
        for (let k = 0; k < K; k++) {
          const out = t + (K - 1) - k;
          if (out < L) g2 += dy[row + (out - t) * E + e] * w[e * K + k];
        }
        dx[row + e] = g2;
      }
    }
  }
  for (let i = e0 * K; i < e1 * K; i++) dw[i] = acc[i];
  for (let e = e0; e < e1; e++) dBias[e] = acc[biasOffset + e];
}

/** The step's running sums of one sequence (E channels), kept between calls. */
let stepSums = new Float64Array(0);

/**
 * One token for the sequences [b0, b1): window: (B, K-1, E) the previous inputs, oldest first, shifted
 * in place; x, y: (B, E). Each output sums bias + w[K-1] x, then the window's terms oldest first, in
 * float64, row by row across the channels (rows of the window are contiguous).
 */
export function causalConv1dStep(
  window: Float32Array, x: Float32Array, w: Float32Array, bias: Float32Array, y: Float32Array, E: number, K: number, b0: number, b1: number,
): void {
  const W = K - 1;
  if (stepSums.length < E) stepSums = new Float64Array(E);
  const acc = stepSums;
  for (let b = b0; b < b1; b++) {
    const win = b * W * E;
    const row = b * E;
    for (let e = 0; e < E; e++) acc[e] = bias[e] + w[e * K + W] * x[row + e];
    for (let k = 0; k < W; k++) {
      const from = win + k * E;
      for (let e = 0; e < E; e++) acc[e] += w[e * K + k] * window[from + e];
    }
    for (let e = 0; e < E; e++) y[row + e] = acc[e];
    if (W > 0) {
      window.copyWithin(win, win + E, win + W * E);
      window.set(x.subarray(row, row + E), win + (W - 1) * E);
    }
  }
}
