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
 * cancellation (x - x0 is exact for values within a factor of two of each other). The backward pass
 * gives each workgroup a block of ROWS rows, keeps the block's dw and db in registers and writes them
 * as partials; columnSums adds the blocks in a fixed order.
 */
import { rowsCols } from '../../backend.js';
import { groupsFor, type GpuRuntime, type GpuTensor } from '../runtime.js';
import { checkAddTo, columnSums, rowColumnsPerThread, ROW_THREADS, ROWS_PER_BLOCK, TREE_SUM } from './common.js';

const WG = ROW_THREADS;
const ROWS = ROWS_PER_BLOCK;

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

const backwardCode = (per: number) => /* wgsl */ `
struct Params { rows: u32, cols: u32, blocks: u32, accumulate: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// x, dy, dx: (M, d)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// w: (d)
@group(0) @binding(2) var<storage, read> w: array<f32>;
// mean, rstd: (M)
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
// partialW, partialB: (blocks, d), dw and db summed over each block of ROWS rows
@group(0) @binding(7) var<storage, read_write> partialW: array<f32>;
@group(0) @binding(8) var<storage, read_write> partialB: array<f32>;
const WG = ${WG}u;
const PER = ${per}u;
const ROWS = ${ROWS}u;
// the row's sums of g and g * xhat, summed as one tree
var<workgroup> red: array<vec2f, WG>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let d = params.cols;
  for (var block = wid.x; block < params.blocks; block += groups.x) {
    var dw: array<f32, PER>;
    var db: array<f32, PER>;
    var ws: array<f32, PER>;
    for (var j = 0u; j < PER; j++) {
      let c = lid + j * WG;
      dw[j] = 0.0;
      db[j] = 0.0;
      ws[j] = 0.0;
      if (c < d) { ws[j] = w[c]; }
    }
    let end = min(params.rows, (block + 1u) * ROWS);
    for (var row = block * ROWS; row < end; row++) {
      let mu = mean[row];
      let r = rstd[row];
      var xhat: array<f32, PER>;
      var g: array<f32, PER>;
      var sums = vec2f(0.0);
      for (var j = 0u; j < PER; j++) {
        let c = lid + j * WG;
        xhat[j] = 0.0;
        g[j] = 0.0;
        if (c < d) {
          let gy = dy[row * d + c];
          xhat[j] = (x[row * d + c] - mu) * r;
          g[j] = gy * ws[j];
          dw[j] += gy * xhat[j];
          db[j] += gy;
        }
        sums += vec2f(g[j], g[j] * xhat[j]);
      }
      red[lid] = sums;
      ${TREE_SUM}
      let means = red[0] / f32(d);
      workgroupBarrier();
      for (var j = 0u; j < PER; j++) {
        let c = lid + j * WG;
        if (c < d) {
          var v = r * (g[j] - means.x - xhat[j] * means.y);
          if (params.accumulate != 0u) { v += dx[row * d + c]; }
          dx[row * d + c] = v;
        }
      }
    }
    for (var j = 0u; j < PER; j++) {
      let c = lid + j * WG;
      if (c < d) {
        partialW[block * d + c] = dw[j];
        partialB[block * d + c] = db[j];
      }
    }
  }
}`;

/** Returns dx: (M, d), or adds it to `addTo` and returns that; writes dWeight and dBias: (d) (overwritten). */
export function layerNormBackward(
  rt: GpuRuntime, x: GpuTensor, weight: GpuTensor, mean: GpuTensor, rstd: GpuTensor, dy: GpuTensor, dWeight: GpuTensor, dBias: GpuTensor, addTo?: GpuTensor,
): GpuTensor {
  const [M, d] = rowsCols(x);
  if (dy.size !== x.size || mean.size !== M || rstd.size !== M || weight.size !== d) {
    throw new Error(`layerNormBackward: x [${x.shape.join(', ')}], dy [${dy.shape.join(', ')}], mean [${mean.shape.join(', ')}], rstd [${rstd.shape.join(', ')}], weight [${weight.shape.join(', ')}]`);
  }
  const blocks = Math.max(1, Math.ceil(M / ROWS));
  const dx = addTo ? checkAddTo(addTo, x, 'layerNormBackward') : rt.tensor(x.shape);
  const partialW = rt.tensor([blocks, d]);
  const partialB = rt.tensor([blocks, d]);
  const per = rowColumnsPerThread(d);
  rt.dispatch(rt.pipeline(`layerNormBackward:${per}`, () => backwardCode(per)), [x, weight, mean, rstd, dy, dx, partialW, partialB],
    [{ u: M }, { u: d }, { u: blocks }, { u: addTo ? 1 : 0 }], groupsFor(blocks, 1));
  columnSums(rt, partialW, blocks, d, dWeight);
  columnSums(rt, partialB, blocks, d, dBias);
  rt.release(partialW);
  rt.release(partialB);
  return dx;
}
