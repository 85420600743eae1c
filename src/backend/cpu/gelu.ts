/**
 * The transformer MLP's elementwise ops on Float32Array: GELU in the tanh form GPT-2 uses
 * (transformers' `gelu_new`) and the bias of a linear layer. Each works on a range of elements (or of
 * columns where it sums over rows), so the cpu backend can split it across threads.
 */

/** sqrt(2 / pi). */
const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/** y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) for the elements [i0, i1). */
export function geluForward(x: Float32Array, y: Float32Array, i0: number, i1: number): void {
  for (let i = i0; i < i1; i++) {
    const v = x[i];
    y[i] = 0.5 * v * (1 + Math.tanh(GELU_C * (v + GELU_A * v * v * v)));
  }
}

/** dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 0.044715 x^2), t = tanh(...). */
export function geluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array, i0: number, i1: number): void {
  for (let i = i0; i < i1; i++) {
    const v = x[i];
    const t = Math.tanh(GELU_C * (v + GELU_A * v * v * v));
    dx[i] = dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * v * v));
  }
}

/** x: (M, C), bias: (C); y = x + bias for the elements [i0, i1) (whole rows: multiples of C). */
export function biasAddForward(x: Float32Array, bias: Float32Array, y: Float32Array, C: number, i0: number, i1: number): void {
  for (let i = i0; i < i1; i += C) {
    for (let c = 0; c < C; c++) y[i + c] = x[i + c] + bias[c];
  }
}

/** dBias = column sums of dy (M, C), each summed in row order, for the columns [c0, c1) (overwritten). */
export function biasGrad(dy: Float32Array, dBias: Float32Array, C: number, M: number, c0: number, c1: number): void {
  for (let c = c0; c < c1; c++) {
    let acc = 0;
    for (let m = 0, o = c; m < M; m++, o += C) acc += dy[o];
    dBias[c] = acc;
  }
}
