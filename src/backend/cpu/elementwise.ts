/**
 * Elementwise ops of the Mamba block on Float32Array: SiLU, softplus with the dt bias, and the output
 * gate y * silu(z). Each forward has its backward beside it. Each works on a range [i0, i1) of elements
 * (or [e0, e1) of columns where it sums over rows), so the cpu backend can split it across threads.
 */

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** y = x * sigmoid(x). */
export function siluForward(x: Float32Array, y: Float32Array, i0: number, i1: number): void {
  for (let i = i0; i < i1; i++) {
    const v = x[i];
    y[i] = v * sigmoid(v);
  }
}

/** d silu / dx = s (1 + x (1 - s)), s = sigmoid(x). */
export function siluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array, i0: number, i1: number): void {
  for (let i = i0; i < i1; i++) {
    const v = x[i];
    const s = sigmoid(v);
    dx[i] = dy[i] * s * (1 + v * (1 - s));
  }
}

/** PyTorch's softplus (beta 1, threshold 20): log(1 + e^v), or v itself above 20. */
function softplus(v: number): number {
  return v > 20 ? v : Math.log1p(Math.exp(v));
}

/** x: (M, E), bias: (E); y = softplus(x + bias) for the elements [i0, i1) (whole rows: multiples of E). */
export function softplusBiasForward(x: Float32Array, bias: Float32Array, y: Float32Array, E: number, i0: number, i1: number): void {
  for (let i = i0; i < i1; i += E) {
    for (let e = 0; e < E; e++) y[i + e] = softplus(x[i + e] + bias[e]);
  }
}

/** dx = dy * sigmoid(x + bias) (1 above the threshold); dBias = column sums of dx; for the columns [e0, e1). */
export function softplusBiasBackward(x: Float32Array, bias: Float32Array, dy: Float32Array, dx: Float32Array, dBias: Float32Array, E: number, e0: number, e1: number): void {
  const acc = new Float64Array(e1 - e0);
  for (let i = 0; i < x.length; i += E) {
    for (let e = e0; e < e1; e++) {
      const v = x[i + e] + bias[e];
      const g = v > 20 ? dy[i + e] : dy[i + e] * sigmoid(v);
      dx[i + e] = g;
      acc[e - e0] += g;
    }
  }
  for (let e = e0; e < e1; e++) dBias[e] = acc[e - e0];
}

/** out = y * silu(z). */
export function gateForward(y: Float32Array, z: Float32Array, out: Float32Array, i0: number, i1: number): void {
  for (let i = i0; i < i1; i++) {
    const v = z[i];
    out[i] = y[i] * v * sigmoid(v);
  }
}

/** dy = dOut * silu(z); dz = dOut * y * silu'(z). */
export function gateBackward(y: Float32Array, z: Float32Array, dOut: Float32Array, dy: Float32Array, dz: Float32Array, i0: number, i1: number): void {
  for (let i = i0; i < i1; i++) {
    const v = z[i];
    const s = sigmoid(v);
    const g = dOut[i];
    dy[i] = g * v * s;
    dz[i] = g * y[i] * s * (1 + v * (1 - s));
  }
}
