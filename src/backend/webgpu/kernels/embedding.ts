/**
 * Token embedding on the GPU (the cpu reference is src/backend/cpu/embedding.ts):
 *
 *   forward   out[m, c] = weight[ids[m], c]                   ids: (M) int, weight: (V, d), out: (M, d)
 *   backward  dWeight[v, c] (+)= sum over m with ids[m] = v of dOut[m, c]
 *
 * The backward pass is a scatter-add, done without atomics so that it gives the same bits every run:
 * one thread per (block of ROWS rows, vocabulary row v, column c) walks its block's ids and adds the
 * rows of dOut whose id is v, writing one partial per block; columnSums adds the blocks in a fixed
 * order (and adds the old dWeight when accumulating, for the tied lm_head). Adjacent threads take
 * adjacent columns of one v, so the id reads are broadcasts and the dOut reads coalesced. The cost is
 * V * M id reads, fine for game vocabularies (61 Othello tokens, a few dozen chess characters).
 *
 * An id outside 0..V-1 (the cpu backend throws) gives a row of NaN in the forward pass, so a bad batch
 * shows up in the loss instead of training on a wrong row.
 */
import { groupsFor, type GpuRuntime, type GpuTensor } from '../runtime.js';
import { columnSums } from './common.js';

/** Rows of dOut per partial in the backward pass. */
const ROWS = 256;

const FORWARD = /* wgsl */ `
struct Params { rows: u32, vocab: u32, cols: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// ids: (M)
@group(0) @binding(1) var<storage, read> ids: array<i32>;
// weight: (V, d)
@group(0) @binding(2) var<storage, read> weight: array<f32>;
// out: (M, d)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let d = params.cols;
  for (var i = gid.x; i < params.rows * d; i += groups.x * 256u) {
    let id = ids[i / d];
    if (id >= 0 && u32(id) < params.vocab) {
      out[i] = weight[u32(id) * d + i % d];
    } else {
      // a NaN (through a var: WGSL rejects NaN as a constant expression)
      var nanBits = 0x7fc00000u;
      out[i] = bitcast<f32>(nanBits);
    }
  }
}`;

/** ids: (M) int, weight: (V, d) -> (M, d). */
export function embeddingForward(rt: GpuRuntime, ids: GpuTensor, weight: GpuTensor): GpuTensor {
  if (ids.dtype !== 'i32') throw new Error('embeddingForward: ids must be an int tensor');
  const d = weight.shape[weight.shape.length - 1];
  const V = weight.size / d;
  const out = rt.tensor([ids.size, d]);
  rt.dispatch(rt.pipeline('embeddingForward', FORWARD), [ids, weight, out], [{ u: ids.size }, { u: V }, { u: d }], groupsFor(ids.size * d));
  return out;
}

const BACKWARD = /* wgsl */ `
struct Params { rows: u32, vocab: u32, cols: u32, blocks: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// ids: (M)
@group(0) @binding(1) var<storage, read> ids: array<i32>;
// dOut: (M, d)
@group(0) @binding(2) var<storage, read> dOut: array<f32>;
// partial: (blocks, V * d), the sums over each block of ROWS rows
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;
const ROWS = ${ROWS}u;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let d = params.cols;
  let width = params.vocab * d;
  for (var i = gid.x; i < params.blocks * width; i += groups.x * 256u) {
    let block = i / width;
    let v = i32((i % width) / d);
    let c = i % d;
    var s = 0.0;
    let end = min(params.rows, (block + 1u) * ROWS);
    for (var m = block * ROWS; m < end; m++) {
      if (ids[m] == v) { s += dOut[m * d + c]; }
    }
    partial[i] = s;
  }
}`;

/** dWeight[ids[m]] += dOut[m]; dWeight: (V, d) is overwritten unless `accumulate`. */
export function embeddingBackward(rt: GpuRuntime, ids: GpuTensor, dOut: GpuTensor, dWeight: GpuTensor, accumulate: boolean): void {
  if (ids.dtype !== 'i32') throw new Error('embeddingBackward: ids must be an int tensor');
  const d = dWeight.shape[dWeight.shape.length - 1];
  const V = dWeight.size / d;
  const M = ids.size;
  if (dOut.size !== M * d) throw new Error(`embeddingBackward: dOut [${dOut.shape.join(', ')}] against ${M} ids of width ${d}`);
  const blocks = Math.max(1, Math.ceil(M / ROWS));
  const partial = rt.tensor([blocks, V * d]);
  rt.dispatch(rt.pipeline('embeddingBackward', BACKWARD), [ids, dOut, partial], [{ u: M }, { u: V }, { u: d }, { u: blocks }], groupsFor(blocks * V * d));
  columnSums(rt, partial, blocks, V * d, dWeight, accumulate);
  rt.release(partial);
}
