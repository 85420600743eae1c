/**
 * The probe ops on the GPU (the cpu reference is src/backend/cpu/probe-ops.ts):
 *
 *   shiftScaleColumns   y = (x - shift) * scale          x, y: (M, C), shift, scale: (C)
 *   argmaxRows          out[m] = arg max_c x[m, c]       x: (M, C), out: (M) int, the first of equals
 *
 * The first walks the elements in a grid-stride loop like biasAdd; the second gives each row a thread:
 * probe rows have a few classes (3 for Othello, 13 for chess pieces), too few to share.
 */
import { rowsCols, shiftScaleWidth } from '../../backend.js';
import { groupsFor, type GpuRuntime, type GpuTensor } from '../runtime.js';

const SHIFT_SCALE = /* wgsl */ `
struct Params { n: u32, cols: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// x, y: (M, C)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// shift, scale: (C)
@group(0) @binding(2) var<storage, read> shift: array<f32>;
@group(0) @binding(3) var<storage, read> scale: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < params.n; i += groups.x * 256u) {
    let c = i % params.cols;
    y[i] = (x[i] - shift[c]) * scale[c];
  }
}`;

const ARGMAX_ROWS = /* wgsl */ `
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// x: (M, C)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// out: (M)
@group(0) @binding(2) var<storage, read_write> out: array<i32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var r = gid.x; r < params.rows; r += groups.x * 256u) {
    let o = r * params.cols;
    var best = 0u;
    for (var c = 1u; c < params.cols; c++) {
      if (x[o + c] > x[o + best]) { best = c; }
    }
    out[r] = i32(best);
  }
}`;

/** x: (M, C), shift and scale: (C) -> (x - shift) * scale. */
export function shiftScaleColumns(rt: GpuRuntime, x: GpuTensor, shift: GpuTensor, scale: GpuTensor): GpuTensor {
  const C = shiftScaleWidth(x, shift, scale);
  const y = rt.tensor(x.shape);
  if (x.size > 0) rt.dispatch(rt.pipeline('shiftScaleColumns', SHIFT_SCALE), [x, shift, scale, y], [{ u: x.size }, { u: C }], groupsFor(x.size));
  return y;
}

/** x: (M, C) -> (M) int, each row's arg max. */
export function argmaxRows(rt: GpuRuntime, x: GpuTensor): GpuTensor {
  const [M, C] = rowsCols(x);
  const out = rt.tensor([M], 'i32');
  if (M > 0) rt.dispatch(rt.pipeline('argmaxRows', ARGMAX_ROWS), [x, out], [{ u: M }, { u: C }], groupsFor(M));
  return out;
}
