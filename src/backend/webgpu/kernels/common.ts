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

// x: (rows, cols) -> out: (ceil(rows / FOLD), cols); out[r, c] = sum of x[r*FOLD .. r*FOLD+FOLD-1, c]
// (+ the old value of out when accumulate is set, used by the last pass only).
const COLUMN_SUMS = /* wgsl */ `
struct Params { rows: u32, cols: u32, accumulate: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let outRows = (params.rows + ${FOLD}u - 1u) / ${FOLD}u;
  let total = outRows * params.cols;
  for (var i = gid.x; i < total; i += groups.x * 256u) {
    let r = i / params.cols;
    let c = i % params.cols;
    let end = min(params.rows, (r + 1u) * ${FOLD}u);
    var s = 0.0;
    for (var k = r * ${FOLD}u; k < end; k++) { s += x[k * params.cols + c]; }
    if (params.accumulate != 0u) { s += out[i]; }
    out[i] = s;
  }
}`;

/**
 * Sums of the columns of x: (rows, cols) written to `into`: (cols), or added to it with `accumulate`.
 * A tree of passes, FOLD rows per thread each, in a fixed order: deterministic, no atomics.
 */
export function columnSums(rt: GpuRuntime, x: GpuTensor, rows: number, cols: number, into: GpuTensor, accumulate = false): void {
  const pipeline = rt.pipeline('columnSums', COLUMN_SUMS);
  let source = x;
  let n = rows;
  while (true) {
    const outRows = Math.ceil(n / FOLD);
    const last = outRows === 1;
    const target = last ? into : rt.tensor([outRows, cols]);
    rt.dispatch(pipeline, [source, target], [{ u: n }, { u: cols }, { u: last && accumulate ? 1 : 0 }], groupsFor(outRows * cols));
    if (source !== x) rt.release(source);
    if (last) return;
    source = target;
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
