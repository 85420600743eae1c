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

/** Rows folded per thread in one pass of the column-sum tree. */
const FOLD = 64;

// x: (rows, cols) from element `offset` -> out: (ceil(rows / FOLD), cols); out[r, c] = the sum of
// x[r*FOLD .. r*FOLD+FOLD-1, c] (+ the old value of out when accumulate is set, used by the last pass
// only). Four running sums, rows k, k+1, k+2, k+3 each into its own: four loads in flight where one
// sum would wait on each load in turn (a pass over 64 rows is latency-bound, not bandwidth-bound).
const COLUMN_SUMS = /* wgsl */ `
struct Params { rows: u32, cols: u32, accumulate: u32, offset: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let outRows = (params.rows + ${FOLD}u - 1u) / ${FOLD}u;
  let total = outRows * params.cols;
  let cols = params.cols;
  for (var i = gid.x; i < total; i += groups.x * 256u) {
    let r = i / cols;
    let c = params.offset + i % cols;
    let end = min(params.rows, (r + 1u) * ${FOLD}u);
    var s = vec4f(0.0);
    var k = r * ${FOLD}u;
    for (; k + 4u <= end; k += 4u) {
      s += vec4f(x[k * cols + c], x[(k + 1u) * cols + c], x[(k + 2u) * cols + c], x[(k + 3u) * cols + c]);
    }
    for (; k < end; k++) { s.x += x[k * cols + c]; }
    var sum = (s.x + s.y) + (s.z + s.w);
    if (params.accumulate != 0u) { sum += out[i]; }
    out[i] = sum;
  }
}`;

/**
 * Sums of the columns of x: (rows, cols), read from element `offset` of x, written to `into`: (cols),
 * or added to it with `accumulate`. A tree of passes, FOLD rows per thread each, in a fixed order:
 * deterministic, no atomics.
 */
export function columnSums(rt: GpuRuntime, x: GpuTensor, rows: number, cols: number, into: GpuTensor, accumulate = false, offset = 0): void {
  const pipeline = rt.pipeline('columnSums', COLUMN_SUMS);
  let source = x;
  let from = offset;
  let n = rows;
  while (true) {
    const outRows = Math.ceil(n / FOLD);
    const last = outRows === 1;
    const target = last ? into : rt.tensor([outRows, cols]);
    rt.dispatch(pipeline, [source, target], [{ u: n }, { u: cols }, { u: last && accumulate ? 1 : 0 }, { u: from }], groupsFor(outRows * cols));
    if (source !== x) rt.release(source);
    if (last) return;
    source = target;
    from = 0;
    n = outRows;
  }
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
