/**
 * LayerNorm with bias on the GPU (the cpu reference is src/backend/cpu/layer-norm.ts):
 *
 *   forward   y = (x - mean) * rstd * w + b,  rstd = 1 / sqrt(var(x) + eps)    x, y: (M, d), w, b: (d), mean, rstd: (M)
 *   backward  xhat = (x - mean) * rstd, g = dy * w
 *             dx = rstd * (g - mean(g) - xhat * mean(g * xhat));   dw = sum over rows of dy * xhat, db = sum of dy
 *
 * The work split is rms-norm.ts's: one workgroup of WG threads per row, thread t holding the columns
 * t, t + WG, ... in registers (coalesced reads and writes), row sums by a shared-memory tree in a fixed
 * order. The forward pass sums twice (the mean, then the squared deviations); both sums run on x
 * shifted by the row's first element, so a row whose mean dwarfs its spread loses nothing to
 * cancellation (x - x0 is exact for values within a factor of two of each other). The backward pass is
 * norm-backward.ts's, shared with RMSNorm.
 */
import { rowsCols } from '../../backend.js';
import type { GpuRuntime, GpuTensor } from '../runtime.js';
import { rowColumnsPerThread, ROW_THREADS, TREE_SUM } from './common.js';
import { normBackward } from './norm-backward.js';

const WG = ROW_THREADS;

const forwardCode = (per: number) => /* wgsl */ `
struct Params { rows: u32, cols: u32, eps: f32 }
@group(0) @binding(0) var<uniform> params: Params;
// x, y: (M, d)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// w, b: (d)
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
// mean, rstd: (M)
@group(0) @binding(5) var<storage, read_write> mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> rstd: array<f32>;
const WG = ${WG}u;
const PER = ${per}u;
var<workgroup> red: array<f32, WG>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let d = params.cols;
  for (var row = wid.x; row < params.rows; row += groups.x) {
    let shift = x[row * d];
    // x - shift, then (after the mean) the deviations x - mean
    var xs: array<f32, PER>;
    var sum = 0.0;
    for (var j = 0u; j < PER; j++) {
      let c = lid + j * WG;
      xs[j] = 0.0;
      if (c < d) { xs[j] = x[row * d + c] - shift; }
      sum += xs[j];
    }
    red[lid] = sum;
    ${TREE_SUM}
    let offset = red[0] / f32(d);
    // everyone has read red[0] before the second sum overwrites it
    workgroupBarrier();
    var ss = 0.0;
    for (var j = 0u; j < PER; j++) {
      let c = lid + j * WG;
      if (c < d) {
        xs[j] -= offset;
        ss += xs[j] * xs[j];
      }
    }
    red[lid] = ss;
    ${TREE_SUM}
    let r = 1.0 / sqrt(red[0] / f32(d) + params.eps);
    workgroupBarrier();
    if (lid == 0u) {
      mean[row] = shift + offset;
      rstd[row] = r;
    }
    for (var j = 0u; j < PER; j++) {
      let c = lid + j * WG;
      if (c < d) { y[row * d + c] = xs[j] * r * w[c] + b[c]; }
    }
  }
}`;

/** x: (M, d), weight and bias: (d) -> y: (M, d), mean and rstd: (M). */
export function layerNormForward(rt: GpuRuntime, x: GpuTensor, weight: GpuTensor, bias: GpuTensor, eps: number): { y: GpuTensor; mean: GpuTensor; rstd: GpuTensor } {
  const [M, d] = rowsCols(x);
  if (weight.size !== d || bias.size !== d) throw new Error(`layerNormForward: x [${x.shape.join(', ')}] against weight [${weight.shape.join(', ')}] and bias [${bias.shape.join(', ')}]`);
  const y = rt.tensor(x.shape);
  const mean = rt.tensor([M]);
  const rstd = rt.tensor([M]);
  const per = rowColumnsPerThread(d);
  rt.dispatch(rt.pipeline(`layerNormForward:${per}`, () => forwardCode(per)), [x, weight, bias, y, mean, rstd],
    [{ u: M }, { u: d }, { f: eps }], [Math.max(1, Math.min(M, 65535))]);
  return { y, mean, rstd };
}

/** Returns dx: (M, d), or adds it to `addTo` and returns that; writes dWeight and dBias: (d) (overwritten). */
export function layerNormBackward(
  rt: GpuRuntime, x: GpuTensor, weight: GpuTensor, mean: GpuTensor, rstd: GpuTensor, dy: GpuTensor, dWeight: GpuTensor, dBias: GpuTensor, addTo?: GpuTensor,
): GpuTensor {
  const [M, d] = rowsCols(x);
  if (dy.size !== x.size || mean.size !== M || rstd.size !== M || weight.size !== d) {
    throw new Error(`layerNormBackward: x [${x.shape.join(', ')}], dy [${dy.shape.join(', ')}], mean [${mean.shape.join(', ')}], rstd [${rstd.shape.join(', ')}], weight [${weight.shape.join(', ')}]`);
  }
  return normBackward(rt, 'layerNormBackward', { x, weight, mean, rstd, dy, dWeight, dBias, addTo });
}
