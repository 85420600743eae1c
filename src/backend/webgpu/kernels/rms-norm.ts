/**
 * RMSNorm on the GPU (the cpu reference is src/backend/cpu/rms-norm.ts):
 *
 *   forward   y = x * rstd * w,  rstd = 1 / sqrt(mean(x^2) + eps)          x, y: (M, d), w: (d), rstd: (M)
 *   backward  xhat = x * rstd, g = dy * w
 *             dx = rstd * (g - xhat * mean(g * xhat));   dw = sum over rows of dy * xhat
 *
 * One workgroup of WG threads per row: thread t holds the columns t, t + WG, ... (PER of them, a
 * compile-time constant per width so they live in registers), reads and writes are coalesced, and the
 * row's sum is a shared-memory tree (fixed order). The backward pass is norm-backward.ts's, shared with
 * LayerNorm.
 */
import type { GpuRuntime, GpuTensor } from '../runtime.js';
import { rowColumnsPerThread, ROW_THREADS, TREE_SUM } from './common.js';
import { normBackward } from './norm-backward.js';

const WG = ROW_THREADS;

const forwardCode = (per: number) => /* wgsl */ `
struct Params { rows: u32, cols: u32, eps: f32 }
@group(0) @binding(0) var<uniform> params: Params;
// x, y: (M, d)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// w: (d)
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
// rstd: (M)
@group(0) @binding(4) var<storage, read_write> rstd: array<f32>;
const WG = ${WG}u;
const PER = ${per}u;
var<workgroup> red: array<f32, WG>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let d = params.cols;
  for (var row = wid.x; row < params.rows; row += groups.x) {
    var xs: array<f32, PER>;
    var ss = 0.0;
    for (var j = 0u; j < PER; j++) {
      let c = lid + j * WG;
      xs[j] = 0.0;
      if (c < d) { xs[j] = x[row * d + c]; }
      ss += xs[j] * xs[j];
    }
    red[lid] = ss;
    ${TREE_SUM}
    let r = 1.0 / sqrt(red[0] / f32(d) + params.eps);
    // everyone has read red[0] before the next row overwrites it
    workgroupBarrier();
    if (lid == 0u) { rstd[row] = r; }
    for (var j = 0u; j < PER; j++) {
      let c = lid + j * WG;
      if (c < d) { y[row * d + c] = xs[j] * r * w[c]; }
    }
  }
}`;

/** x: (M, d), weight: (d) -> y: (M, d) and rstd: (M). */
export function rmsNormForward(rt: GpuRuntime, x: GpuTensor, weight: GpuTensor, eps: number): { y: GpuTensor; rstd: GpuTensor } {
  const d = weight.size;
  if (x.shape[x.shape.length - 1] !== d) throw new Error(`rmsNormForward: x [${x.shape.join(', ')}] against a weight of ${d}`);
  const M = x.size / d;
  const y = rt.tensor(x.shape);
  const rstd = rt.tensor([M]);
  const per = rowColumnsPerThread(d);
  rt.dispatch(rt.pipeline(`rmsNormForward:${per}`, () => forwardCode(per)), [x, weight, y, rstd], [{ u: M }, { u: d }, { f: eps }], [Math.max(1, Math.min(M, 65535))]);
  return { y, rstd };
}

/** Returns dx: (M, d), or adds it to `addTo` and returns that; writes dWeight: (d) (overwritten). */
export function rmsNormBackward(rt: GpuRuntime, x: GpuTensor, weight: GpuTensor, rstd: GpuTensor, dy: GpuTensor, dWeight: GpuTensor, addTo?: GpuTensor): GpuTensor {
  const M = x.size / weight.size;
  if (dy.size !== x.size || rstd.size !== M) throw new Error(`rmsNormBackward: x [${x.shape.join(', ')}], dy [${dy.shape.join(', ')}], rstd [${rstd.shape.join(', ')}]`);
  return normBackward(rt, 'rmsNormBackward', { x, weight, rstd, dy, dWeight, addTo });
}
