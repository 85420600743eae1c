/**
 * Causal depthwise conv1d on the GPU (the cpu reference is src/backend/cpu/conv1d.ts):
 *
 *   y[t, e] = bias[e] + sum_k w[e, k] * x[t - (K-1) + k, e]      (x = 0 before t = 0 of each sequence)
 *
 * x, y: (M, E) with M = batch * length rows, row b*length + t; w: (E, 1, K) stored as (E, K); bias: (E).
 * The kernels are memory-bound elementwise walks: adjacent threads take adjacent channels, so every
 * read of a row is coalesced. K is a compile-time constant (one pipeline per K) so the per-thread
 * weight-gradient accumulator lives in registers.
 *
 * Backward: one thread per (block of ROWS rows, channel) computes dx for its rows and the block's
 * partial sums of dWeight and dBias; columnSums then adds the blocks in a fixed order (no atomics).
 *
 * The Mamba's SiLU after the convolution can run in the same kernels: the forward pass then also writes
 * u = silu(y), and the backward pass reads du and y and forms dy = du silu'(y) where it reads dy, so
 * neither the SiLU nor its gradient takes a pass of its own over (M, E).
 */
import { sizeOf } from '../../backend.js';
import { groupsFor, type GpuRuntime, type GpuTensor } from '../runtime.js';
import { columnSums } from './common.js';
import { SIGMOID } from './elementwise.js';

/** Rows per thread in the backward pass (one partial of dWeight and dBias per block of rows). */
const ROWS = 32;

const forwardCode = (K: number, silu: boolean) => /* wgsl */ `
struct Params { rows: u32, length: u32, channels: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// x: (M, E)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// w: (E, K)
@group(0) @binding(2) var<storage, read> w: array<f32>;
// bias: (E)
@group(0) @binding(3) var<storage, read> bias: array<f32>;
// y: (M, E)${silu ? ', and u = silu(y)' : ''}
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
${silu ? `@group(0) @binding(5) var<storage, read_write> u: array<f32>;
${SIGMOID}` : ''}
const K = ${K}u;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let E = params.channels;
  let total = params.rows * E;
  for (var i = gid.x; i < total; i += groups.x * 256u) {
    let row = i / E;
    let e = i % E;
    let t = row % params.length;
    var acc = bias[e];
    for (var k = 0u; k < K; k++) {
      // input position t - (K-1) + k, skipped before the start of the sequence
      if (t + k >= K - 1u) { acc += w[e * K + k] * x[i - (K - 1u - k) * E]; }
    }
    y[i] = acc;
    ${silu ? 'u[i] = acc * sigmoid(acc);' : ''}
  }
}`;

function runForward(rt: GpuRuntime, x: GpuTensor, weight: GpuTensor, bias: GpuTensor, batch: number, length: number, silu: boolean): GpuTensor[] {
  const E = x.shape[x.shape.length - 1];
  const K = weight.size / E;
  const rows = batch * length;
  const outs = (silu ? [0, 1] : [0]).map(() => rt.tensor(x.shape));
  rt.dispatch(rt.pipeline(`conv1dForward:${K}${silu ? ':silu' : ''}`, () => forwardCode(K, silu)), [x, weight, bias, ...outs], [{ u: rows }, { u: length }, { u: E }], groupsFor(rows * E));
  return outs;
}

/** x: (M, E), weight: (E, 1, K), bias: (E) -> y: (M, E). */
export function causalConv1dForward(rt: GpuRuntime, x: GpuTensor, weight: GpuTensor, bias: GpuTensor, batch: number, length: number): GpuTensor {
  return runForward(rt, x, weight, bias, batch, length, false)[0];
}

/** The convolution y and u = silu(y) in one pass: { conv: y, u }. */
export function causalConv1dSiluForward(rt: GpuRuntime, x: GpuTensor, weight: GpuTensor, bias: GpuTensor, batch: number, length: number): { conv: GpuTensor; u: GpuTensor } {
  const [conv, u] = runForward(rt, x, weight, bias, batch, length, true);
  return { conv, u };
}

const backwardCode = (K: number, silu: boolean) => /* wgsl */ `
struct Params { rows: u32, length: u32, channels: u32, blocks: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// x: (M, E)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// w: (E, K)
@group(0) @binding(2) var<storage, read> w: array<f32>;
${silu
  ? `// y: (M, E), the convolution, and du: (M, E), the gradient of silu(y)
@group(0) @binding(3) var<storage, read> y: array<f32>;
@group(0) @binding(4) var<storage, read> du: array<f32>;
${SIGMOID}
fn gradAt(at: u32) -> f32 { let v = y[at]; let s = sigmoid(v); return du[at] * s * (1.0 + v * (1.0 - s)); }`
  : `// dy: (M, E)
@group(0) @binding(3) var<storage, read> dy: array<f32>;
fn gradAt(at: u32) -> f32 { return dy[at]; }`}
// dx: (M, E)
@group(0) @binding(${silu ? 5 : 4}) var<storage, read_write> dx: array<f32>;
// partialW: (blocks, E * K), partialBias: (blocks, E): sums over the block's rows
@group(0) @binding(${silu ? 6 : 5}) var<storage, read_write> partialW: array<f32>;
@group(0) @binding(${silu ? 7 : 6}) var<storage, read_write> partialBias: array<f32>;
const K = ${K}u;
const ROWS = ${ROWS}u;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let E = params.channels;
  let L = params.length;
  let total = params.blocks * E;
  for (var i = gid.x; i < total; i += groups.x * 256u) {
    let block = i / E;
    let e = i % E;
    var wk: array<f32, K>;
    var dw: array<f32, K>;
    for (var k = 0u; k < K; k++) { wk[k] = w[e * K + k]; dw[k] = 0.0; }
    var db = 0.0;
    let end = min(params.rows, (block + 1u) * ROWS);
    for (var row = block * ROWS; row < end; row++) {
      let t = row % L;
      let at = row * E + e;
      let g = gradAt(at);
      db += g;
      var g2 = 0.0;
      for (var k = 0u; k < K; k++) {
        // y[t] read x[t - (K-1) + k] with weight k
        if (t + k >= K - 1u) { dw[k] += g * x[at - (K - 1u - k) * E]; }
        // x[t] fed y[t + (K-1) - k] with weight k
        if (t + K - 1u - k < L) { g2 += gradAt(at + (K - 1u - k) * E) * wk[k]; }
      }
      dx[at] = g2;
    }
    for (var k = 0u; k < K; k++) { partialW[block * E * K + e * K + k] = dw[k]; }
    partialBias[block * E + e] = db;
  }
}`;

/** dy is the gradient of the convolution, or with `conv`, du = the gradient of silu(conv). */
function runBackward(rt: GpuRuntime, x: GpuTensor, weight: GpuTensor, grads: GpuTensor[], batch: number, length: number, dWeight: GpuTensor, dBias: GpuTensor): GpuTensor {
  const silu = grads.length === 2;
  const E = x.shape[x.shape.length - 1];
  const K = weight.size / E;
  const rows = batch * length;
  const blocks = Math.ceil(rows / ROWS);
  const dx = rt.tensor(x.shape);
  const partialW = rt.tensor([blocks, E * K]);
  const partialBias = rt.tensor([blocks, E]);
  rt.dispatch(rt.pipeline(`conv1dBackward:${K}${silu ? ':silu' : ''}`, () => backwardCode(K, silu)), [x, weight, ...grads, dx, partialW, partialBias],
    [{ u: rows }, { u: length }, { u: E }, { u: blocks }], groupsFor(blocks * E));
  columnSums(rt, partialW, blocks, E * K, dWeight);
  columnSums(rt, partialBias, blocks, E, dBias);
  rt.release(partialW);
  rt.release(partialBias);
  return dx;
}

/** Returns dx: (M, E); writes dWeight: (E, 1, K) and dBias: (E) (overwritten). */
export function causalConv1dBackward(rt: GpuRuntime, x: GpuTensor, weight: GpuTensor, dy: GpuTensor, batch: number, length: number, dWeight: GpuTensor, dBias: GpuTensor): GpuTensor {
  return runBackward(rt, x, weight, [dy], batch, length, dWeight, dBias);
}

/** The backward pass of causalConv1dSiluForward from du and the saved convolution: dx, dWeight, dBias. */
export function causalConv1dSiluBackward(rt: GpuRuntime, x: GpuTensor, weight: GpuTensor, conv: GpuTensor, du: GpuTensor, batch: number, length: number, dWeight: GpuTensor, dBias: GpuTensor): GpuTensor {
  return runBackward(rt, x, weight, [conv, du], batch, length, dWeight, dBias);
}

const stepCode = (K: number) => /* wgsl */ `
struct Params { batch: u32, channels: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// window: (B, K-1, E), oldest first
@group(0) @binding(1) var<storage, read_write> window: array<f32>;
// x, y: (B, E)
@group(0) @binding(2) var<storage, read> x: array<f32>;
// w: (E, K)
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
const K = ${K}u;
const W = ${K - 1}u;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let E = params.channels;
  let total = params.batch * E;
  for (var i = gid.x; i < total; i += groups.x * 256u) {
    let b = i / E;
    let e = i % E;
    let xi = x[i];
    var acc = bias[e] + w[e * K + W] * xi;
    let win = b * W * E + e;
    for (var k = 0u; k < W; k++) { acc += w[e * K + k] * window[win + k * E]; }
    y[i] = acc;
    // Shift the window one step: each thread owns its (b, e) column, so the in-place shift is safe.
    for (var k = 0u; k + 1u < W; k++) { window[win + k * E] = window[win + (k + 1u) * E]; }
    ${K > 1 ? 'window[win + (W - 1u) * E] = xi;' : ''}
  }
}`;

/** window: (B, K-1, E) updated in place; x: (B, E) -> y: (B, E). */
export function causalConv1dStep(rt: GpuRuntime, window: GpuTensor, x: GpuTensor, weight: GpuTensor, bias: GpuTensor): GpuTensor {
  const E = x.shape[x.shape.length - 1];
  const B = sizeOf(x.shape) / E;
  const K = weight.size / E;
  const y = rt.tensor(x.shape);
  rt.dispatch(rt.pipeline(`conv1dStep:${K}`, () => stepCode(K)), [window, x, weight, bias, y], [{ u: B }, { u: E }], groupsFor(B * E));
  return y;
}
