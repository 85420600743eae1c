/**
 * Elementwise ops of the Mamba block on Float32Array: SiLU, softplus with the dt bias, and the output
 * gate y * silu(z). Each forward has its backward beside it.
 */

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** y = x * sigmoid(x). */
export function siluForward(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    y[i] = v * sigmoid(v);
  }
}

/** d silu / dx = s (1 + x (1 - s)), s = sigmoid(x). */
export function siluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const s = sigmoid(v);
    dx[i] = dy[i] * s * (1 + v * (1 - s));
  }
}

/** PyTorch's softplus (beta 1, threshold 20): log(1 + e^v), or v itself above 20. */
function softplus(v: number): number {
  return v > 20 ? v : Math.log1p(Math.exp(v));
}

/** x: (M, E), bias: (E); y = softplus(x + bias). */
export function softplusBiasForward(x: Float32Array, bias: Float32Array, y: Float32Array, E: number): void {
  for (let i = 0; i < x.length; i += E) {
    for (let e = 0; e < E; e++) y[i + e] = softplus(x[i + e] + bias[e]);
  }
}

/** dx = dy * sigmoid(x + bias) (1 above the threshold); dBias = column sums of dx. */
export function softplusBiasBackward(x: Float32Array, bias: Float32Array, dy: Float32Array, dx: Float32Array, dBias: Float32Array, E: number): void {
  const acc = new Float64Array(E);
  for (let i = 0; i < x.length; i += E) {
    for (let e = 0; e < E; e++) {
      const v = x[i + e] + bias[e];
      const g = v > 20 ? dy[i + e] : dy[i + e] * sigmoid(v);
      dx[i + e] = g;
      acc[e] += g;
    }
  }
  for (let e = 0; e < E; e++) dBias[e] = acc[e];
}

/** out = y * silu(z). */
export function gateForward(y: Float32Array, z: Float32Array, out: Float32Array): void {
  for (let i = 0; i < y.length; i++) {
    const v = z[i];
    out[i] = y[i] * v * sigmoid(v);
  }
}

/** dy = dOut * silu(z); dz = dOut * y * silu'(z). */
export function gateBackward(y: Float32Array, z: Float32Array, dOut: Float32Array, dy: Float32Array, dz: Float32Array): void {
  for (let i = 0; i < y.length; i++) {
    const v = z[i];
    const s = sigmoid(v);
    const g = dOut[i];
    dy[i] = g * v * s;
    dz[i] = g * y[i] * s * (1 + v * (1 - s));
  }
}
