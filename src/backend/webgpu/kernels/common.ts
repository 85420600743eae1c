/** Kernels every op family shares: fill, and column sums (the reduction behind every bias/weight gradient). */
import { groupsFor, type GpuRuntime, type GpuTensor } from '../runtime.js';

const FILL = /* wgsl */ `
struct Params { n: u32, value: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < params.n; i += groups.x * 256u) { out[i] = params.value; }
}`;

/** Sets every element of `t` to `value`. */
export function fill(rt: GpuRuntime, t: GpuTensor, value: number): void {
  rt.dispatch(rt.pipeline('fill', FILL), [t], [{ u: t.size }, { f: value }], groupsFor(t.size));
}

/** Most rows a column sum adds with a thread per column; more are split among a workgroup's threads. */
const FOLD = 64;

// x: (rows, cols) from element `offset` -> out: (cols), rows <= FOLD: a thread per column adds its rows
// (+ the old value of out with accumulate). Four running sums, rows k, k+1, k+2, k+3 each into its own:
// four loads in flight where one sum would wait on each load in turn (latency-bound, not bandwidth-bound).
const COLUMN_SUMS = /* wgsl */ `
struct Params { rows: u32, cols: u32, accumulate: u32, offset: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let cols = params.cols;
  let end = params.rows;
  for (var i = gid.x; i < cols; i += groups.x * 256u) {
    let c = params.offset + i;
    var s = vec4f(0.0);
    var k = 0u;
    for (; k + 4u <= end; k += 4u) {
      s += vec4f(x[k * cols + c], x[(k + 1u) * cols + c], x[(k + 2u) * cols + c], x[(k + 3u) * cols + c]);
    }
    for (; k < end; k++) { s.x += x[k * cols + c]; }
    var sum = (s.x + s.y) + (s.z + s.w);
    if (params.accumulate != 0u) { sum += out[i]; }
    out[i] = sum;
  }
}`;

// The same for rows > FOLD, in one pass: a workgroup takes COLS adjacent columns (adjacent threads,
// coalesced reads) and splits the rows among LANES = 256 / COLS lanes, lane l adding rows l, l + LANES, ...
// four at a time; the lanes' sums then meet in a fixed-order tree in workgroup memory.
const wideColumnSumsCode = (columns: number) => /* wgsl */ `
struct Params { rows: u32, cols: u32, accumulate: u32, offset: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
const COLS = ${columns}u;
const LANES = ${256 / columns}u;
var<workgroup> sums: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let cols = params.cols;
  let rows = params.rows;
  let lane = lid / COLS;
  let blocks = (cols + COLS - 1u) / COLS;
  // the loop bound is the same for the whole workgroup, so its barriers are reached by all threads
  for (var block = wid.x; block < blocks; block += groups.x) {
    let i = block * COLS + lid % COLS;
    var s = vec4f(0.0);
    if (i < cols) {
      let c = params.offset + i;
      var k = lane;
      for (; k + 3u * LANES < rows; k += 4u * LANES) {
        s += vec4f(x[k * cols + c], x[(k + LANES) * cols + c], x[(k + 2u * LANES) * cols + c], x[(k + 3u * LANES) * cols + c]);
      }
      for (; k < rows; k += LANES) { s.x += x[k * cols + c]; }
    }
    sums[lid] = (s.x + s.y) + (s.z + s.w);
    workgroupBarrier();
    for (var half = LANES / 2u; half > 0u; half >>= 1u) {
      if (lane < half) { sums[lid] += sums[lid + half * COLS]; }
      workgroupBarrier();
    }
    if (lane == 0u && i < cols) {
      var sum = sums[lid];
      if (params.accumulate != 0u) { sum += out[i]; }
      out[i] = sum;
    }
    workgroupBarrier();
  }
}`;

/** Workgroups that keep a large GPU busy: the wide column sum takes fewer columns a workgroup until it has them. */
const TARGET_GROUPS = 128;

/**
 * Sums of the columns of x: (rows, cols), read from element `offset` of x, written to `into`: (cols),
 * or added to it with `accumulate`. One dispatch, in a fixed order: deterministic, no atomics.
 */
export function columnSums(rt: GpuRuntime, x: GpuTensor, rows: number, cols: number, into: GpuTensor, accumulate = false, offset = 0): void {
  const params = [{ u: rows }, { u: cols }, { u: accumulate ? 1 : 0 }, { u: offset }];
  if (rows <= FOLD) {
    rt.dispatch(rt.pipeline('columnSums', COLUMN_SUMS), [x, into], params, groupsFor(cols));
    return;
  }
  let columns = 64;
  while (columns > 8 && Math.ceil(cols / columns) < TARGET_GROUPS) columns /= 2;
  const groups = Math.min(Math.ceil(cols / columns), 65535);
  rt.dispatch(rt.pipeline(`columnSumsWide:${columns}`, () => wideColumnSumsCode(columns)), [x, into], params, [groups]);
}

/** `addTo`, after checking that it has x's size (a norm's backward pass adding dx to it). */
export function checkAddTo(addTo: GpuTensor, x: GpuTensor, op: string): GpuTensor {
  if (addTo.size !== x.size) throw new Error(`${op}: addTo [${addTo.shape.join(', ')}] is not the size of x [${x.shape.join(', ')}]`);
  return addTo;
}

/**
 * The row kernels' work split (RMSNorm, LayerNorm): ROW_THREADS threads per row, each holding the columns
 * t, t + ROW_THREADS, ... in registers (rowColumnsPerThread of them); the backward passes take
 * ROWS_PER_BLOCK rows a workgroup and write one partial of each parameter gradient per block.
 */
export const ROW_THREADS = 128;
export const ROWS_PER_BLOCK = 16;
export const rowColumnsPerThread = (d: number) => Math.max(1, Math.ceil(d / ROW_THREADS));

/** WGSL: the shared-memory tree sum of `red` (WG values) into red[0] in a fixed order; ends with a barrier. */
export const TREE_SUM = /* wgsl */ `
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }`;
