/**
 * Matrix products on the GPU (the cpu reference is src/backend/cpu/matmul.ts):
 *
 *   C (M, N) = op(A) op(B)  (+ C with accumulate)     A: (M, K) or, transposed, (K, M); B: (K, N) or (N, K)
 *
 * One register-blocked f32 kernel, compiled per tile shape and transpose pair. A workgroup of 256
 * threads computes a BM x BN tile of C, each thread TM rows x TN columns of it in registers (vec4
 * accumulators), as TM/4 groups of 4 rows and TN/4 groups of 4 columns, the groups BM/(TM/4) rows and
 * BN/(TN/4) columns apart (so the threads of a warp read adjacent vec4s of the staged slices). K is
 * walked in slices of BK: the workgroup stages a BM x BK slice of op(A) and a BK x BN slice of op(B) in
 * workgroup memory, k-major, so the inner loop reads TN/4 vec4s of B and TM/4 vec4s of A per k and does
 * TM TN multiply-adds (64 for the 8 x 8 of the largest tile). The transposes are folded into the staging loads: each
 * load walks the operand's contiguous axis with adjacent threads (coalesced), and writes the slice
 * k-major; rows of the slices are padded by 4 floats to spread those writes over the memory banks.
 * Edges are bounds-checked (zeros staged outside the matrix), so any M, N, K works.
 *
 * Tile shapes by the width N of C: 256 x 16 for N <= 16, 128 x 32 for N <= 32; 128 x 128 (8 x 8 per
 * thread) when that gives enough workgroups (half a wave of TARGET_GROUPS), directly or by splitting a
 * long K; else 64 x 64, whose four times as many workgroups fill the GPU on small products.
 *
 * Split-K: a product with few output tiles and a long K (the weight gradients op(A) = X^T with
 * K = batch * length rows, and small outputs) would leave most of the GPU idle. Such a product runs
 * as S workgroup layers, each over a K range of its own, writing S partial products (S, M*N); then
 * columnSums adds them in a fixed order (and adds the old C when accumulating). Deterministic: S
 * depends only on the shape.
 *
 * Mixed precision runs the same tiles and splits on the tensor cores (matmul-tensor-core.ts), each tile
 * divided among subgroups by its default plan; tools/matmul-tune.mjs times other plans against it.
 */
import { rowsCols, type Precision } from '../../backend.js';
import type { GpuRuntime, GpuTensor } from '../runtime.js';
import { columnSums } from './common.js';
import { defaultPlan, tensorCoreMatmulCode, type KernelAnatomy, type TensorCorePlan } from './matmul-tensor-core.js';

/** K per staged slice. */
const BK = 16;
/** Workgroups that keep a large GPU busy (the H200 has 132 SMs); fewer tiles than half of this split K. */
const TARGET_GROUPS = 256;
/** The K range of one split is at least this long (shorter ones spend more on partials than they save). */
const MIN_SPLIT_K = 128;
/** Most splits: columnSums then adds them in one pass. */
const MAX_SPLITS = 64;
/** Largest partial-products buffer (bytes). */
const MAX_PARTIAL_BYTES = 128 * 1024 * 1024;

interface Tile {
  /** Rows and columns of C per workgroup. */
  bm: number;
  bn: number;
  /** Rows and columns of C per thread (multiples of 4), with (bm / tm) * (bn / tn) = 256. */
  tm: number;
  tn: number;
}

const LARGE: Tile = { bm: 128, bn: 128, tm: 8, tn: 8 };
const SQUARE: Tile = { bm: 64, bn: 64, tm: 4, tn: 4 };
const NARROW32: Tile = { bm: 128, bn: 32, tm: 4, tn: 4 };
const NARROW16: Tile = { bm: 256, bn: 16, tm: 4, tn: 4 };

const tilesOf = (t: { bm: number; bn: number }, M: number, N: number) => Math.ceil(M / t.bm) * Math.ceil(N / t.bn);

function chooseTile(M: number, N: number, K: number): Tile {
  if (N <= 16) return NARROW16;
  if (N <= 32) return NARROW32;
  const large = tilesOf(LARGE, M, N);
  if (large >= TARGET_GROUPS / 2) return LARGE;
  if (M >= LARGE.bm && N >= LARGE.bn && large * Math.floor(K / MIN_SPLIT_K) >= TARGET_GROUPS) return LARGE;
  return SQUARE;
}

const matmulCode = ({ bm, bn, tm, tn }: Tile, transA: boolean, transB: boolean) => {
  const rowGroups = tm / 4;
  const colGroups = tn / 4;
  // vec4 index steps between a thread's row groups in aTile and column groups in bTile
  const rowGroupStep = bm / rowGroups / 4;
  const colGroupStep = bn / colGroups / 4;
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  // acc[g * 4 + j][h]: row g*rowGroupStep*4 + tr*4 + j, columns h*colGroupStep*4 + tc*4 .. +3
  const accIndex = (g: number, j: number, h: number) => (g * 4 + j) * colGroups + h;
  const fmas = range(rowGroups)
    .map((g) => {
      const lanes = ['x', 'y', 'z', 'w'];
      const lines = [`let av${g} = aTile[aBase + ${g * rowGroupStep}u];`];
      for (let j = 0; j < 4; j++)
        for (let h = 0; h < colGroups; h++)
          lines.push(`acc[${accIndex(g, j, h)}] = fma(vec4f(av${g}.${lanes[j]}), bv${h}, acc[${accIndex(g, j, h)}]);`);
      return lines.join('\n        ');
    })
    .join('\n        ');
  const stores = range(tm)
    .flatMap((i) =>
      range(colGroups).map(
        (h) =>
          `storeRow(base, row0 + ${Math.floor(i / 4) * rowGroupStep * 4 + (i % 4)}u + tr * 4u, col0 + ${h * colGroupStep * 4}u + tc * 4u, acc[${i * colGroups + h}]);`,
      ),
    )
    .join('\n  ');
  const bReads = range(colGroups)
    .map((h) => `let bv${h} = bTile[bBase + ${h * colGroupStep}u];`)
    .join('\n        ');
  // Strides of the staged slices (padded rows, still multiples of 4 for the vec4 reads).
  const sa = bm + 4;
  const sb = bn + 4;
  // Staging loads: adjacent threads along the operand's contiguous axis.
  const loadA = transA
    ? `let r = e % ${bm}u; let kk = e / ${bm}u;` // A stored (K, M): contiguous along m
    : `let r = e / ${BK}u; let kk = e % ${BK}u;`; // A stored (M, K): contiguous along k
  const readA = transA ? 'a[gk * M + gr]' : 'a[gr * K + gk]';
  const loadB = transB
    ? `let n = e / ${BK}u; let kk = e % ${BK}u;` // B stored (N, K): contiguous along k
    : `let n = e % ${bn}u; let kk = e / ${bn}u;`; // B stored (K, N): contiguous along n
  const readB = transB ? 'b[gn * K + gk]' : 'b[gk * N + gn]';
  return /* wgsl */ `
struct Params { M: u32, N: u32, K: u32, kSplit: u32, accumulate: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// a: ${transA ? '(K, M)' : '(M, K)'}
@group(0) @binding(1) var<storage, read> a: array<f32>;
// b: ${transB ? '(N, K)' : '(K, N)'}
@group(0) @binding(2) var<storage, read> b: array<f32>;
// c: (M, N), or (splits, M, N) partial products when K is split
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
const BM = ${bm}u;
const BN = ${bn}u;
const BK = ${BK}u;
const TN = ${tn}u;
// aTile[k * ${sa} + m] = op(A)[row0 + m, k0 + k]; bTile[k * ${sb} + n] = op(B)[k0 + k, col0 + n]
var<workgroup> aTile: array<vec4f, ${(BK * sa) / 4}>;
var<workgroup> bTile: array<vec4f, ${(BK * sb) / 4}>;
// C[gr, gc .. gc+3] = v (+ C with accumulate), inside the matrix only
fn storeRow(base: u32, gr: u32, gc: u32, v: vec4f) {
  if (gr >= params.M) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (gc + j < params.N) {
      let at = base + gr * params.N + gc + j;
      var x = v[j];
      if (params.accumulate != 0u) { x += c[at]; }
      c[at] = x;
    }
  }
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  let kBegin = wid.z * params.kSplit;
  let kEnd = min(K, kBegin + params.kSplit);
  // this thread's row groups start at rows tr*4 + g*${rowGroupStep * 4}, its column groups at tc*4 + h*${colGroupStep * 4}
  let tr = lid / (BN / TN);
  let tc = lid % (BN / TN);
  // zero-initialised; indexed only by constants (unrolled code) so it stays in registers
  var acc: array<vec4f, ${tm * colGroups}>;
  for (var k0 = kBegin; k0 < kEnd; k0 += BK) {
    for (var e = lid; e < BM * BK; e += 256u) {
      ${loadA}
      let gr = row0 + r;
      let gk = k0 + kk;
      var v = 0.0;
      if (gr < M && gk < kEnd) { v = ${readA}; }
      let at = kk * ${sa}u + r;
      aTile[at / 4u][at % 4u] = v;
    }
    for (var e = lid; e < BN * BK; e += 256u) {
      ${loadB}
      let gn = col0 + n;
      let gk = k0 + kk;
      var v = 0.0;
      if (gn < N && gk < kEnd) { v = ${readB}; }
      let at = kk * ${sb}u + n;
      bTile[at / 4u][at % 4u] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let bBase = (kk * ${sb}u) / 4u + tc;
      let aBase = (kk * ${sa}u) / 4u + tr;
        ${bReads}
        ${fmas}
    }
    workgroupBarrier();
  }
  let base = wid.z * M * N;
  ${stores}
}`;
};

/**
 * Splits of K for a product of `tiles` workgroups (1 = no split). From half of TARGET_GROUPS up the tiles
 * fill the GPU in the same number of waves whether K is split or not (236 tiles of 128 x 128 are one
 * wave of two workgroups an SM on 132 SMs, 472 half-length ones two), so a split would only add the
 * partials' traffic and a column-sum dispatch.
 */
function splitsFor(tiles: number, M: number, N: number, K: number): number {
  if (tiles >= TARGET_GROUPS / 2) return 1;
  const byMemory = Math.floor(MAX_PARTIAL_BYTES / Math.max(1, 4 * M * N));
  return Math.max(1, Math.min(Math.ceil(TARGET_GROUPS / tiles), Math.floor(K / MIN_SPLIT_K), MAX_SPLITS, byMemory));
}

/**
 * A kernel variant chosen by hand instead of by the sizes: tools that time variants
 * (tools/matmul-tune.mjs) pass it; training never does. Mixed precision only.
 */
export interface MatmulOverride {
  plan: TensorCorePlan;
  /** K splits (1: none); by default what the plan's tile count asks for. */
  splits?: number;
  /** Stages left out, for timing only (the product is then wrong). */
  anatomy?: KernelAnatomy;
  /**
   * a and b hold f16 elements, two to each of their 4-byte elements (their shapes still say the
   * product's sizes): what operands written in f16 would save. Tools that measure it pack them.
   */
  halfOperands?: boolean;
}

/** The K splits a product takes on tiles of bm x bn (1 = none). */
export function defaultSplits(tile: { bm: number; bn: number }, M: number, N: number, K: number): number {
  return splitsFor(tilesOf(tile, M, N), M, N, K);
}

/** The plan and K splits the mixed-precision path takes for a product of these sizes: the f32 kernel's tile and splits. */
export function tensorCorePlanFor(M: number, N: number, K: number): { plan: TensorCorePlan; splits: number } {
  const tile = chooseTile(M, N, K);
  return { plan: defaultPlan(tile.bm, tile.bn), splits: defaultSplits(tile, M, N, K) };
}

/** The compiled f32 kernel of a tile and transpose pair. */
function f32Pipeline(rt: GpuRuntime, tile: Tile, transA: boolean, transB: boolean): GPUComputePipeline {
  return rt.pipeline(`matmul:${tile.bm}x${tile.bn}x${tile.tm}x${tile.tn}:${transposes(transA, transB)}`, () => matmulCode(tile, transA, transB));
}

/** The compiled tensor-core kernel of a plan, transpose pair and the sizes' alignments. */
function tensorCorePipeline(rt: GpuRuntime, p: TensorCorePlan, transA: boolean, transB: boolean, M: number, N: number, K: number, anatomy: KernelAnatomy, halfOperands: boolean): GPUComputePipeline {
  const subgroupSize = rt.gpu.subgroupMatrix?.subgroupSize;
  if (!subgroupSize) throw new Error('matmul: mixed precision needs subgroup matrices, which this adapter lacks');
  const variant = { vec4A: (transA ? M : K) % 4 === 0, vec4B: (transB ? K : N) % 4 === 0, directC: N % 4 === 0, halfOperands };
  const flags = [variant.vec4A, variant.vec4B, variant.directC].map((f) => (f ? '1' : '0')).join('');
  const key = `matmulTensorCore:${p.bm}x${p.bn}:${p.sgr}x${p.sgc}:${p.fr}x${p.fc}:${p.bk}:${transposes(transA, transB)}:${flags}${halfOperands ? ':f16' : ''}${anatomy === 'full' ? '' : `:${anatomy}`}`;
  return rt.pipeline(key, () => tensorCoreMatmulCode(p, transA, transB, subgroupSize, variant, anatomy).code);
}

const transposes = (transA: boolean, transB: boolean) => `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`;

/** C = op(A) op(B); into `into` (overwritten, or added to with accumulate) or a new (M, N) tensor. */
export function matmul(rt: GpuRuntime, a: GpuTensor, b: GpuTensor, transA: boolean, transB: boolean, into: GpuTensor | null, accumulate: boolean, precision: Precision = 'f32', override?: MatmulOverride): GpuTensor {
  const [ar, ac] = rowsCols(a);
  const [br, bc] = rowsCols(b);
  const M = transA ? ac : ar;
  const K = transA ? ar : ac;
  const N = transB ? br : bc;
  const Kb = transB ? bc : br;
  if (K !== Kb) throw new Error(`matmul: inner sizes ${K} and ${Kb} differ ([${a.shape.join(', ')}]${transA ? '^T' : ''} x [${b.shape.join(', ')}]${transB ? '^T' : ''})`);
  if (into && into.size !== M * N) throw new Error(`matmul: result [${M}, ${N}] does not fit into [${into.shape.join(', ')}]`);
  const out = into ?? rt.tensor([M, N]);
  const add = accumulate && into !== null;
  if (M === 0 || N === 0) return out;
  if (override && precision !== 'mixed') throw new Error('matmul: a kernel override is for mixed precision only');
  const f32Tile = chooseTile(M, N, K);
  const plan = precision === 'mixed' ? (override?.plan ?? defaultPlan(f32Tile.bm, f32Tile.bn)) : null;
  const tile = plan ?? f32Tile;
  const splits = override?.splits ?? defaultSplits(tile, M, N, K);
  // K per split in whole slices: of the f32 kernel's BK by default (the tensor cores keep its splits), of an override's plan
  const step = override ? override.plan.bk : BK;
  const pipeline = plan
    ? tensorCorePipeline(rt, plan, transA, transB, M, N, K, override?.anatomy ?? 'full', override?.halfOperands ?? false)
    : f32Pipeline(rt, f32Tile, transA, transB);
  const gridY = Math.ceil(M / tile.bm);
  if (gridY > 65535) throw new Error(`matmul: ${M} rows exceed one dispatch (${65535 * tile.bm})`);
  // the last split takes the rest
  const kSplit = splits === 1 ? Math.max(K, 1) : Math.ceil(K / splits / step) * step;
  const layers = splits === 1 ? 1 : Math.ceil(K / kSplit);
  const grid: [number, number, number] = [Math.ceil(N / tile.bn), gridY, layers];
  if (layers === 1) {
    rt.dispatch(pipeline, [a, b, out], [{ u: M }, { u: N }, { u: K }, { u: kSplit }, { u: add ? 1 : 0 }], grid);
    return out;
  }
  const partial = rt.tensor([layers, M * N]);
  rt.dispatch(pipeline, [a, b, partial], [{ u: M }, { u: N }, { u: K }, { u: kSplit }, { u: 0 }], grid);
  columnSums(rt, partial, layers, M * N, out, add);
  rt.release(partial);
  return out;
}
