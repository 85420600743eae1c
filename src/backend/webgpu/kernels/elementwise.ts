/**
 * Elementwise ops of the Mamba block on the GPU (the cpu reference is src/backend/cpu/elementwise.ts and
 * the add/split/concat of src/backend/cpu/cpu-backend.ts):
 *
 *   add, addInPlace                 out = a + b, target += source
 *   silu                            y = x sigmoid(x);  dx = dy s (1 + x (1 - s)), s = sigmoid(x)
 *   softplusBias                    y = softplus(x + bias) (PyTorch: linear above 20);  dx = dy sigmoid(x + bias)
 *   gate                            out = y silu(z);  dy = dOut silu(z), dz = dOut y silu'(z)
 *   splitColumns, concatColumns     column copies between (M, sum of widths) and (M, width) tensors
 *
 * All of them are memory-bound walks over the elements, adjacent threads on adjacent elements so every
 * access is coalesced, with grid-stride loops for tensors over 65535 workgroups of 256. The softplus
 * backward also sums dx over the rows for dBias: each thread takes a block of ROWS rows of one column
 * and writes the block's partial sum, and columnSums adds the blocks in a fixed order (no atomics).
 */
import { rowsCols } from '../../backend.js';
import { groupsFor, type GpuRuntime, type GpuTensor } from '../runtime.js';
import { columnSums } from './common.js';

/** Rows per thread (one partial of dBias per block of rows) in the softplus backward. */
const ROWS = 32;

export const SIGMOID = /* wgsl */ `
fn sigmoid(v: f32) -> f32 { return 1.0 / (1.0 + exp(-v)); }`;

/** A kernel over n elements; `body` reads and writes index i. */
export const elementwiseCode = (bindings: string, body: string) => /* wgsl */ `
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> params: Params;
${bindings}
${SIGMOID}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < params.n; i += groups.x * 256u) {
    ${body}
  }
}`;

export const binding = (k: number, name: string, write = false) =>
  `@group(0) @binding(${k}) var<storage, ${write ? 'read_write' : 'read'}> ${name}: array<f32>;`;

const ADD = elementwiseCode([binding(1, 'a'), binding(2, 'b'), binding(3, 'out', true)].join('\n'), 'out[i] = a[i] + b[i];');
const ADD_IN_PLACE = elementwiseCode([binding(1, 'acc', true), binding(2, 'addend')].join('\n'), 'acc[i] += addend[i];');
const SILU_FORWARD = elementwiseCode([binding(1, 'x'), binding(2, 'y', true)].join('\n'), 'let v = x[i]; y[i] = v * sigmoid(v);');
const SILU_BACKWARD = elementwiseCode([binding(1, 'x'), binding(2, 'dy'), binding(3, 'dx', true)].join('\n'),
  'let v = x[i]; let s = sigmoid(v); dx[i] = dy[i] * s * (1.0 + v * (1.0 - s));');
const GATE_FORWARD = elementwiseCode([binding(1, 'y'), binding(2, 'z'), binding(3, 'out', true)].join('\n'),
  'let v = z[i]; out[i] = y[i] * v * sigmoid(v);');
const GATE_BACKWARD = elementwiseCode(
  [binding(1, 'y'), binding(2, 'z'), binding(3, 'dOut'), binding(4, 'dy', true), binding(5, 'dz', true)].join('\n'),
  'let v = z[i]; let s = sigmoid(v); let g = dOut[i]; dy[i] = g * v * s; dz[i] = g * y[i] * s * (1.0 + v * (1.0 - s));');

export function checkSame(a: GpuTensor, b: GpuTensor, what: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((s, i) => s !== b.shape[i])) {
    throw new Error(`${what}: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
  }
}

/** One dispatch of an elementwise kernel over the elements of tensors[0]. */
export function runElementwise(rt: GpuRuntime, key: string, code: string, tensors: GpuTensor[]): void {
  const n = tensors[0].size;
  rt.dispatch(rt.pipeline(key, code), tensors, [{ u: n }], groupsFor(n));
}

/** a + b (same shape). */
export function add(rt: GpuRuntime, a: GpuTensor, b: GpuTensor): GpuTensor {
  checkSame(a, b, 'add');
  const out = rt.tensor(a.shape);
  runElementwise(rt, 'add', ADD, [a, b, out]);
  return out;
}

/** target += source (same shape). */
export function addInPlace(rt: GpuRuntime, target: GpuTensor, source: GpuTensor): void {
  checkSame(target, source, 'addInPlace');
  runElementwise(rt, 'addInPlace', ADD_IN_PLACE, [target, source]);
}

export function siluForward(rt: GpuRuntime, x: GpuTensor): GpuTensor {
  const y = rt.tensor(x.shape);
  runElementwise(rt, 'siluForward', SILU_FORWARD, [x, y]);
  return y;
}

export function siluBackward(rt: GpuRuntime, x: GpuTensor, dy: GpuTensor): GpuTensor {
  checkSame(x, dy, 'siluBackward');
  const dx = rt.tensor(x.shape);
  runElementwise(rt, 'siluBackward', SILU_BACKWARD, [x, dy, dx]);
  return dx;
}

const SOFTPLUS_FORWARD = /* wgsl */ `
struct Params { n: u32, channels: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// x, y: (M, E)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// bias: (E)
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < params.n; i += groups.x * 256u) {
    let v = x[i] + bias[i % params.channels];
    // PyTorch's threshold: linear above 20
    y[i] = select(log1p(exp(v)), v, v > 20.0);
  }
}
// log(1 + x) for x in [0, 1]: WGSL's log only promises an absolute error of 2^-21 near 1, a large
// relative error on softplus of a negative input, so small x take the series (error below x^7 / 7).
fn log1p(x: f32) -> f32 {
  if (x < 0.0625) { return x * (1.0 - x * (0.5 - x * (1.0 / 3.0 - x * (0.25 - x * (0.2 - x / 6.0))))); }
  return log(1.0 + x);
}`;

/** x: (M, E), bias: (E) -> softplus(x + bias). */
export function softplusBiasForward(rt: GpuRuntime, x: GpuTensor, bias: GpuTensor): GpuTensor {
  const E = bias.size;
  if (x.shape[x.shape.length - 1] !== E) throw new Error(`softplusBiasForward: x [${x.shape.join(', ')}] against bias of ${E}`);
  const y = rt.tensor(x.shape);
  rt.dispatch(rt.pipeline('softplusBiasForward', SOFTPLUS_FORWARD), [x, bias, y], [{ u: x.size }, { u: E }], groupsFor(x.size));
  return y;
}

const SOFTPLUS_BACKWARD = /* wgsl */ `
struct Params { rows: u32, channels: u32, blocks: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// x, dy, dx: (M, E)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// bias: (E)
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
// partial: (blocks, E), the sums of dx over each block of ROWS rows
@group(0) @binding(5) var<storage, read_write> partial: array<f32>;
${SIGMOID}
const ROWS = ${ROWS}u;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let E = params.channels;
  for (var i = gid.x; i < params.blocks * E; i += groups.x * 256u) {
    let block = i / E;
    let e = i % E;
    let b = bias[e];
    var sum = 0.0;
    let end = min(params.rows, (block + 1u) * ROWS);
    for (var row = block * ROWS; row < end; row++) {
      let at = row * E + e;
      let v = x[at] + b;
      let g = select(dy[at] * sigmoid(v), dy[at], v > 20.0);
      dx[at] = g;
      sum += g;
    }
    partial[i] = sum;
  }
}`;

/** Returns dx: (M, E); writes dBias: (E) (overwritten) = column sums of dx. */
export function softplusBiasBackward(rt: GpuRuntime, x: GpuTensor, bias: GpuTensor, dy: GpuTensor, dBias: GpuTensor): GpuTensor {
  checkSame(x, dy, 'softplusBiasBackward');
  const E = bias.size;
  const rows = x.size / E;
  const blocks = Math.ceil(rows / ROWS);
  const dx = rt.tensor(x.shape);
  const partial = rt.tensor([blocks, E]);
  rt.dispatch(rt.pipeline('softplusBiasBackward', SOFTPLUS_BACKWARD), [x, bias, dy, dx, partial],
    [{ u: rows }, { u: E }, { u: blocks }], groupsFor(blocks * E));
  columnSums(rt, partial, blocks, E, dBias);
  rt.release(partial);
  return dx;
}

/** The output gate y * silu(z). */
export function gateForward(rt: GpuRuntime, y: GpuTensor, z: GpuTensor): GpuTensor {
  checkSame(y, z, 'gateForward');
  const out = rt.tensor(y.shape);
  runElementwise(rt, 'gateForward', GATE_FORWARD, [y, z, out]);
  return out;
}

export function gateBackward(rt: GpuRuntime, y: GpuTensor, z: GpuTensor, dOut: GpuTensor): { dy: GpuTensor; dz: GpuTensor } {
  checkSame(y, z, 'gateBackward');
  checkSame(y, dOut, 'gateBackward');
  const dy = rt.tensor(y.shape);
  const dz = rt.tensor(z.shape);
  runElementwise(rt, 'gateBackward', GATE_BACKWARD, [y, z, dOut, dy, dz]);
  return { dy, dz };
}

// Copies the columns [offset, offset + width) of a (rows, wide) matrix to or from a (rows, width) one.
// One pass over the wide tensor (rows, wide) for `parts` narrow ones side by side: part k holds the
// columns [o_k, o_{k+1}); columns outside [o_0, o_parts) belong to another dispatch.
const COLUMNS_CODE = (toNarrow: boolean, parts: number) => /* wgsl */ `
struct Params { rows: u32, wide: u32, ${Array.from({ length: parts + 1 }, (_, k) => `o${k}: u32`).join(', ')} }
@group(0) @binding(0) var<uniform> params: Params;
// wide: (rows, wide); part k: (rows, o_{k+1} - o_k)
@group(0) @binding(1) var<storage, ${toNarrow ? 'read' : 'read_write'}> wide: array<f32>;
${Array.from({ length: parts }, (_, k) => `@group(0) @binding(${k + 2}) var<storage, ${toNarrow ? 'read_write' : 'read'}> part${k}: array<f32>;`).join('\n')}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let n = params.rows * params.wide;
  for (var i = gid.x; i < n; i += groups.x * 256u) {
    let r = i / params.wide;
    let col = i % params.wide;
    if (col < params.o0) { continue; }
    ${Array.from({ length: parts }, (_, k) => {
      const at = `r * (params.o${k + 1} - params.o${k}) + col - params.o${k}`;
      const move = toNarrow ? `part${k}[${at}] = wide[i];` : `wide[i] = part${k}[${at}];`;
      return `${k === 0 ? '' : 'else '}if (col < params.o${k + 1}) { ${move} }`;
    }).join('\n    ')}
  }
}`;

/** Parts moved by one dispatch (each a storage binding beside the wide tensor). */
const PARTS_PER_DISPATCH = 6;

/**
 * Copies between x: (M, C) and parts (M, w_k) holding its columns in order, all parts in one pass over
 * x (a dispatch per PARTS_PER_DISPATCH of them); zero-width parts are skipped.
 */
function moveColumns(rt: GpuRuntime, toNarrow: boolean, x: GpuTensor, parts: readonly GpuTensor[], M: number, C: number): void {
  let offset = 0;
  const live: { part: GpuTensor; begin: number; end: number }[] = [];
  for (const part of parts) {
    const w = part.shape[part.shape.length - 1];
    if (w > 0) live.push({ part, begin: offset, end: offset + w });
    offset += w;
  }
  for (let first = 0; first < live.length; first += PARTS_PER_DISPATCH) {
    const group = live.slice(first, first + PARTS_PER_DISPATCH);
    const pipeline = rt.pipeline(`${toNarrow ? 'splitColumns' : 'concatColumns'}:${group.length}`, () => COLUMNS_CODE(toNarrow, group.length));
    const bounds = [group[0].begin, ...group.map((g) => g.end)].map((u) => ({ u }));
    rt.dispatch(pipeline, [x, ...group.map((g) => g.part)], [{ u: M }, { u: C }, ...bounds], groupsFor(M * C));
  }
}

/** x: (M, sum(widths)) -> one (M, width) tensor per width, columns in order (one pass for all of them). */
export function splitColumns(rt: GpuRuntime, x: GpuTensor, widths: readonly number[]): GpuTensor[] {
  const C = x.shape[x.shape.length - 1];
  const total = widths.reduce((s, w) => s + w, 0);
  if (total !== C) throw new Error(`splitColumns: widths sum to ${total}, the tensor has ${C} columns`);
  const M = rowsCols(x)[0];
  const parts = widths.map((w) => rt.tensor([...x.shape.slice(0, -1), w]));
  moveColumns(rt, true, x, parts, M, C);
  return parts;
}

/** The inverse of splitColumns: parts (M, w_i) -> (M, sum w_i). */
export function concatColumns(rt: GpuRuntime, parts: readonly GpuTensor[]): GpuTensor {
  const M = rowsCols(parts[0])[0];
  const C = parts.reduce((s, p) => s + p.shape[p.shape.length - 1], 0);
  for (const part of parts) {
    if (rowsCols(part)[0] !== M) throw new Error(`concatColumns: ${rowsCols(part)[0]} rows against ${M}`);
  }
  const out = rt.tensor([...parts[0].shape.slice(0, -1), C]);
  moveColumns(rt, false, out, parts, M, C);
  return out;
}
