/**
 * The transformer MLP's elementwise ops on the GPU (the cpu reference is src/backend/cpu/gelu.ts):
 *
 *   gelu       y = 0.5 x (1 + tanh u),  u = sqrt(2/pi) (x + 0.044715 x^3)     (GPT-2's tanh form)
 *              dx = dy (0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 0.044715 x^2))
 *   biasAdd    y = x + bias                                                     x, y: (M, C), bias: (C)
 *   biasGrad   dBias = column sums of dy (M, C)
 *
 * GELU and biasAdd walk the elements, adjacent threads on adjacent elements (coalesced), in
 * grid-stride loops. biasGrad is columnSums: a fixed-order tree, no atomics.
 */
import { rowsCols } from '../../backend.js';
import { groupsFor, type GpuRuntime, type GpuTensor } from '../runtime.js';
import { columnSums } from './common.js';
import { binding, checkSame, elementwiseCode, runElementwise } from './elementwise.js';

/**
 * With s = sigmoid(2u) = 0.5 (1 + tanh u) and s (1 - s) = 0.25 (1 - tanh^2 u), both from e = exp(-2|u|),
 * which never overflows: WGSL's tanh may be exp-based and give NaN for large |u|. Past |x| = 20, e is 0
 * in float32 already, so clamping x there gives the exact limits (y = x or 0, slope 1 or 0) and keeps
 * x^3 finite for any x.
 */
const GELU = /* wgsl */ `
const GELU_C = ${Math.sqrt(2 / Math.PI)};
const GELU_A = 0.044715;
// (s, dy/dx) at x
fn gelu(x: f32) -> vec2f {
  let xc = clamp(x, -20.0, 20.0);
  let u = GELU_C * (xc + GELU_A * xc * xc * xc);
  let e = exp(-2.0 * abs(u));
  let r = 1.0 / (1.0 + e);
  let s = select(e * r, r, u >= 0.0);
  return vec2f(s, s + 2.0 * xc * e * r * r * GELU_C * (1.0 + 3.0 * GELU_A * xc * xc));
}`;

const GELU_FORWARD = elementwiseCode([binding(1, 'x'), binding(2, 'y', true), GELU].join('\n'), 'let v = x[i]; y[i] = v * gelu(v).x;');
const GELU_BACKWARD = elementwiseCode([binding(1, 'x'), binding(2, 'dy'), binding(3, 'dx', true), GELU].join('\n'), 'dx[i] = dy[i] * gelu(x[i]).y;');

export function geluForward(rt: GpuRuntime, x: GpuTensor): GpuTensor {
  const y = rt.tensor(x.shape);
  runElementwise(rt, 'geluForward', GELU_FORWARD, [x, y]);
  return y;
}

export function geluBackward(rt: GpuRuntime, x: GpuTensor, dy: GpuTensor): GpuTensor {
  checkSame(x, dy, 'geluBackward');
  const dx = rt.tensor(x.shape);
  runElementwise(rt, 'geluBackward', GELU_BACKWARD, [x, dy, dx]);
  return dx;
}

const BIAS_ADD = /* wgsl */ `
struct Params { n: u32, cols: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// x, y: (M, C)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// bias: (C)
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < params.n; i += groups.x * 256u) { y[i] = x[i] + bias[i % params.cols]; }
}`;

/** x: (M, C), bias: (C) -> x + bias. */
export function biasAdd(rt: GpuRuntime, x: GpuTensor, bias: GpuTensor): GpuTensor {
  const C = rowsCols(x)[1];
  if (bias.size !== C) throw new Error(`biasAdd: bias [${bias.shape.join(', ')}] does not fit rows of ${C}`);
  const y = rt.tensor(x.shape);
  rt.dispatch(rt.pipeline('biasAdd', BIAS_ADD), [x, bias, y], [{ u: x.size }, { u: C }], groupsFor(x.size));
  return y;
}

/** Writes dBias: (C) (overwritten), the column sums of dy: (M, C). */
export function biasGrad(rt: GpuRuntime, dy: GpuTensor, dBias: GpuTensor): void {
  const [M, C] = rowsCols(dy);
  columnSums(rt, dy, M, C, dBias);
}
