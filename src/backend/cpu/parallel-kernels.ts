/**
 * The cpu kernels that the backend splits into chunks, one entry per op: a chunk is a range of output
 * rows, sequences, channels or elements, and the chunks of a task write disjoint parts of the outputs.
 * No sum runs across chunks (the scan's cross-sequence gradients go through per-sequence partials), so
 * a task gives the same bits whichever thread runs which chunk, and whether one thread runs them all.
 *
 * A task is its arrays, integer arguments and float arguments; the same table serves the main thread
 * and the workers (thread-pool.ts), which rebuild the arrays from shared memory.
 */
import { adamwUpdate } from './adamw.js';
import { causalConv1dBackward, causalConv1dForward, causalConv1dStep } from './conv1d.js';
import { gateBackward, gateForward, siluBackward, siluForward, softplusBiasBackward, softplusBiasForward } from './elementwise.js';
import { crossEntropyRows } from './cross-entropy.js';
import { causalAttentionBackward, causalAttentionForward } from './causal-attention.js';
import { biasAddForward, biasGrad, geluBackward, geluForward } from './gelu.js';
import { layerNormBackwardRows, layerNormForward, layerNormParamGrads } from './layer-norm.js';
import { gemmNT, gemmNTStrided, transpose } from './matmul.js';
import { rmsNormBackwardRows, rmsNormForward, rmsNormWeightGrad } from './rms-norm.js';
import { selectiveScanBackward, selectiveScanForward, type ScanArrays } from './selective-scan.js';
import {
  causalConv1dBackwardSimd, causalConv1dForwardSimd, gateBackwardSimd, gateForwardSimd, gemmNT as gemmNTSimd, gemmTN as gemmTNSimd, selectiveScanBackwardSimd, selectiveScanForwardSimd, siluBackwardSimd, siluForwardSimd,
  softplusBiasBackwardSimd, softplusBiasForwardSimd,
} from './simd/simd-kernels.js';

export type SharedArray = Float32Array | Int32Array | Float64Array;

export interface TaskArgs {
  readonly arrays: readonly SharedArray[];
  readonly ints: ArrayLike<number>;
  readonly floats: ArrayLike<number>;
}

/** Op codes: indexes into KERNELS. */
export const Op = {
  gemmNT: 0,
  scanForward: 1,
  scanBackward: 2,
  convForward: 3,
  convBackward: 4,
  siluForward: 5,
  siluBackward: 6,
  softplusForward: 7,
  softplusBackward: 8,
  gateForward: 9,
  gateBackward: 10,
  adamw: 11,
  // The WebAssembly SIMD kernels (simd/): same arguments as their plain TypeScript counterparts above.
  gemmNTSimd: 12,
  scanForwardSimd: 13,
  scanBackwardSimd: 14,
  siluForwardSimd: 15,
  siluBackwardSimd: 16,
  softplusForwardSimd: 17,
  softplusBackwardSimd: 18,
  gateForwardSimd: 19,
  gateBackwardSimd: 20,
  convForwardSimd: 21,
  convBackwardSimd: 22,
  gemmTNSimd: 23,
  // Shared by both kernel sets.
  rmsNormForward: 24,
  rmsNormBackward: 25,
  crossEntropy: 26,
  // The transformer baseline's ops.
  layerNormForward: 27,
  layerNormBackward: 28,
  geluForward: 29,
  geluBackward: 30,
  biasAdd: 31,
  biasGrad: 32,
  attentionForward: 33,
  attentionBackward: 34,
  // The probes' ridge solve.
  gemmNTStrided: 35,
  // gemmNTSimd split by columns of c, for products of few rows (a step's).
  gemmNTSimdColumns: 36,
  // The recurrent step's conv1d.
  convStep: 37,
  // A product's operand copied into gemmNT's layout.
  transpose: 38,
} as const;

type Kernel = (args: TaskArgs, chunk: number) => void;

function f32(args: TaskArgs, i: number): Float32Array {
  return args.arrays[i] as Float32Array;
}

function f64(args: TaskArgs, i: number): Float64Array {
  return args.arrays[i] as Float64Array;
}

/** [start, end) of chunk `chunk` when `total` items go `per` to a chunk. */
function span(total: number, per: number, chunk: number): [number, number] {
  const start = chunk * per;
  return [start, Math.min(total, start + per)];
}

/** arrays [u, delta, A (f64), B, C, D, ...]; ints [batch, length, E, N, ...]. */
function scanArrays(args: TaskArgs): ScanArrays {
  const i = args.ints;
  return {
    u: f32(args, 0), delta: f32(args, 1), a: f64(args, 2), b: f32(args, 3), c: f32(args, 4), d: f32(args, 5),
    batch: i[0], length: i[1], channels: i[2], stateSize: i[3],
  };
}

type Gemm = typeof gemmNT;
/** Elementwise ops by their number of arrays (inputs, then outputs). */
type Elementwise2 = (x: Float32Array, y: Float32Array, i0: number, i1: number) => void;
type Elementwise3 = (x: Float32Array, y: Float32Array, out: Float32Array, i0: number, i1: number) => void;
type Elementwise5 = (a: Float32Array, b: Float32Array, c: Float32Array, d: Float32Array, e: Float32Array, i0: number, i1: number) => void;
type SoftplusForward = typeof softplusBiasForward;
type SoftplusBackward = typeof softplusBiasBackward;

// Each task family is written once and serves both implementations of its op.

/** gemm: arrays [a (M, K), b (N, K), c (M, N)]; ints [M, N, K, accumulate, rows per chunk] */
const gemmTask = (gemm: Gemm): Kernel => (args, chunk) => {
  const [M, N, K, accumulate, per] = Array.from(args.ints);
  const [r0, r1] = span(M, per, chunk);
  gemm(f32(args, 0).subarray(r0 * K, r1 * K), f32(args, 1), f32(args, 2).subarray(r0 * N, r1 * N), r1 - r0, N, K, accumulate === 1);
};

/** ints [n, elements per chunk]; arrays: the op's inputs then outputs, as its arguments. */
const elementwiseTask2 = (op: Elementwise2): Kernel => (args, chunk) => {
  const [i0, i1] = span(args.ints[0], args.ints[1], chunk);
  op(f32(args, 0), f32(args, 1), i0, i1);
};
const elementwiseTask3 = (op: Elementwise3): Kernel => (args, chunk) => {
  const [i0, i1] = span(args.ints[0], args.ints[1], chunk);
  op(f32(args, 0), f32(args, 1), f32(args, 2), i0, i1);
};
const elementwiseTask5 = (op: Elementwise5): Kernel => (args, chunk) => {
  const [i0, i1] = span(args.ints[0], args.ints[1], chunk);
  op(f32(args, 0), f32(args, 1), f32(args, 2), f32(args, 3), f32(args, 4), i0, i1);
};

/** softplus forward: arrays [x, bias, y]; ints [n, E, elements per chunk (a multiple of E)] */
const softplusForwardTask = (op: SoftplusForward): Kernel => (args, chunk) => {
  const [i0, i1] = span(args.ints[0], args.ints[2], chunk);
  op(f32(args, 0), f32(args, 1), f32(args, 2), args.ints[1], i0, i1);
};

/** softplus backward: arrays [x, bias, dy, dx, dBias]; ints [E, columns per chunk] */
const softplusBackwardTask = (op: SoftplusBackward): Kernel => (args, chunk) => {
  const [e0, e1] = span(args.ints[0], args.ints[1], chunk);
  op(f32(args, 0), f32(args, 1), f32(args, 2), f32(args, 3), f32(args, 4), args.ints[0], e0, e1);
};

/** conv forward: arrays [x, w, bias, y]; ints [batch, length, E, K, channels per chunk] */
const convForwardTask = (op: typeof causalConv1dForward): Kernel => (args, chunk) => {
  const [batch, L, E, K, per] = Array.from(args.ints);
  const [e0, e1] = span(E, per, chunk);
  op(f32(args, 0), f32(args, 1), f32(args, 2), f32(args, 3), batch, L, E, K, e0, e1);
};

/** conv backward: arrays [x, w, dy, dx, dw, dBias]; ints [batch, length, E, K, channels per chunk] */
const convBackwardTask = (op: typeof causalConv1dBackward): Kernel => (args, chunk) => {
  const [batch, L, E, K, per] = Array.from(args.ints);
  const [e0, e1] = span(E, per, chunk);
  op(f32(args, 0), f32(args, 1), f32(args, 2), f32(args, 3), f32(args, 4), f32(args, 5), batch, L, E, K, e0, e1);
};

const KERNELS: readonly Kernel[] = [
  gemmTask(gemmNT),
  // scanForward: arrays [u, delta, A, B, C, D, y, saved?]; ints [batch, length, E, N, sequences per chunk]
  (args, chunk) => {
    const [b0, b1] = span(args.ints[0], args.ints[4], chunk);
    selectiveScanForward(scanArrays(args), f32(args, 6), args.arrays.length > 7 ? f32(args, 7) : null, b0, b1);
  },
  // scanBackward: arrays [u, delta, A, B, C, D, dy, du, dDelta, dB, dC, partials (f64), saved?]; ints as scanForward
  (args, chunk) => {
    const [b0, b1] = span(args.ints[0], args.ints[4], chunk);
    const saved = args.arrays.length > 12 ? f32(args, 12) : null;
    selectiveScanBackward(scanArrays(args), f32(args, 6), f32(args, 7), f32(args, 8), f32(args, 9), f32(args, 10), f64(args, 11), saved, b0, b1);
  },
  convForwardTask(causalConv1dForward),
  convBackwardTask(causalConv1dBackward),
  elementwiseTask2(siluForward),
  elementwiseTask3(siluBackward),
  softplusForwardTask(softplusBiasForward),
  softplusBackwardTask(softplusBiasBackward),
  elementwiseTask3(gateForward),
  elementwiseTask5(gateBackward),
  // adamw: arrays [param, grad, m, v]; ints [n, elements per chunk]; floats [lr, beta1, beta2, eps, weightDecay, step, gradScale, decayEnd]
  (args, chunk) => {
    const [i0, i1] = span(args.ints[0], args.ints[1], chunk);
    const [lr, beta1, beta2, eps, weightDecay, step, gradScale, decayEnd] = Array.from(args.floats);
    adamwUpdate(f32(args, 0), f32(args, 1), f32(args, 2), f32(args, 3), { lr, beta1, beta2, eps, weightDecay, step, gradScale, decayEnd }, i0, i1);
  },
  gemmTask(gemmNTSimd),
  // scanForwardSimd: arrays [u, delta, A, B, C, D, y, state?]; ints as scanForward. Never saving; with a
  // state (B, E, N) the sequences start from it and leave theirs in it (the recurrent step, at length 1)
  (args, chunk) => {
    const [b0, b1] = span(args.ints[0], args.ints[4], chunk);
    selectiveScanForwardSimd(scanArrays(args), f32(args, 6), b0, b1, args.arrays.length > 7 ? f32(args, 7) : null);
  },
  // scanBackwardSimd: as scanBackward, recomputing the states
  (args, chunk) => {
    const [b0, b1] = span(args.ints[0], args.ints[4], chunk);
    selectiveScanBackwardSimd(scanArrays(args), f32(args, 6), f32(args, 7), f32(args, 8), f32(args, 9), f32(args, 10), f64(args, 11), b0, b1);
  },
  elementwiseTask2(siluForwardSimd),
  elementwiseTask3(siluBackwardSimd),
  softplusForwardTask(softplusBiasForwardSimd),
  softplusBackwardTask(softplusBiasBackwardSimd),
  elementwiseTask3(gateForwardSimd),
  elementwiseTask5(gateBackwardSimd),
  convForwardTask(causalConv1dForwardSimd),
  convBackwardTask(causalConv1dBackwardSimd),
  // gemmTNSimd: arrays [a (K, M), b (K, N), c (M, N)]; ints as gemm
  (args, chunk) => {
    const [M, N, K, accumulate, per] = Array.from(args.ints);
    const [r0, r1] = span(M, per, chunk);
    gemmTNSimd(f32(args, 0), f32(args, 1), f32(args, 2), M, N, K, accumulate === 1, r0, r1);
  },
  // rmsNormForward: arrays [x, w, y, rstd]; ints [d, M, rows per chunk]; floats [eps]
  (args, chunk) => {
    const [d, M, per] = Array.from(args.ints);
    const [m0, m1] = span(M, per, chunk);
    rmsNormForward(f32(args, 0), f32(args, 1), args.floats[0], f32(args, 2), f32(args, 3), d, m0, m1);
  },
  // rmsNormBackward: arrays [x, w, rstd, dy, dx, dw]; ints [d, M, rows per chunk, columns per chunk]:
  // chunk k computes its rows of dx and its columns of dw (so there are as many of both)
  (args, chunk) => {
    const [d, M, rowsPer, colsPer] = Array.from(args.ints);
    const [m0, m1] = span(M, rowsPer, chunk);
    const [i0, i1] = span(d, colsPer, chunk);
    rmsNormBackwardRows(f32(args, 0), f32(args, 1), f32(args, 2), f32(args, 3), f32(args, 4), d, m0, m1);
    rmsNormWeightGrad(f32(args, 0), f32(args, 2), f32(args, 3), f32(args, 5), d, M, i0, i1);
  },
  // crossEntropy: arrays [logits, targets (i32), rowLoss (f64), dLogits?]; ints [V, count, M, rows per chunk]; floats [gradScale]
  (args, chunk) => {
    const [V, count, M, per] = Array.from(args.ints);
    const [m0, m1] = span(M, per, chunk);
    const dLogits = args.arrays.length > 3 ? f32(args, 3) : null;
    crossEntropyRows(f32(args, 0), args.arrays[1] as Int32Array, V, count, dLogits, f64(args, 2), m0, m1, args.floats[0]);
  },
  // layerNormForward: arrays [x, w, b, y, mean, rstd]; ints [d, M, rows per chunk]; floats [eps]
  (args, chunk) => {
    const [d, M, per] = Array.from(args.ints);
    const [m0, m1] = span(M, per, chunk);
    layerNormForward(f32(args, 0), f32(args, 1), f32(args, 2), args.floats[0], f32(args, 3), f32(args, 4), f32(args, 5), d, m0, m1);
  },
  // layerNormBackward: arrays [x, w, mean, rstd, dy, dx, dw, db]; ints [d, M, rows per chunk, columns per chunk]:
  // chunk k computes its rows of dx and its columns of dw and db (as rmsNormBackward)
  (args, chunk) => {
    const [d, M, rowsPer, colsPer] = Array.from(args.ints);
    const [m0, m1] = span(M, rowsPer, chunk);
    const [i0, i1] = span(d, colsPer, chunk);
    layerNormBackwardRows(f32(args, 0), f32(args, 1), f32(args, 2), f32(args, 3), f32(args, 4), f32(args, 5), d, m0, m1);
    layerNormParamGrads(f32(args, 0), f32(args, 2), f32(args, 3), f32(args, 4), f32(args, 6), f32(args, 7), d, M, i0, i1);
  },
  elementwiseTask2(geluForward),
  elementwiseTask3(geluBackward),
  // biasAdd: arrays [x, bias, y]; ints [n, C, elements per chunk (a multiple of C)]
  (args, chunk) => {
    const [i0, i1] = span(args.ints[0], args.ints[2], chunk);
    biasAddForward(f32(args, 0), f32(args, 1), f32(args, 2), args.ints[1], i0, i1);
  },
  // biasGrad: arrays [dy, dBias]; ints [M, C, columns per chunk]
  (args, chunk) => {
    const [M, C, per] = Array.from(args.ints);
    const [c0, c1] = span(C, per, chunk);
    biasGrad(f32(args, 0), f32(args, 1), C, M, c0, c1);
  },
  // attentionForward: arrays [qkv, out, lse]; ints [batch, length, heads, d, units per chunk]
  (args, chunk) => {
    const [batch, length, heads, d, per] = Array.from(args.ints);
    const [u0, u1] = span(batch * heads, per, chunk);
    causalAttentionForward(f32(args, 0), f32(args, 1), f32(args, 2), { batch, length, heads, d }, u0, u1);
  },
  // attentionBackward: arrays [qkv, out, lse, dOut, dqkv]; ints as attentionForward
  (args, chunk) => {
    const [batch, length, heads, d, per] = Array.from(args.ints);
    const [u0, u1] = span(batch * heads, per, chunk);
    causalAttentionBackward(f32(args, 0), f32(args, 1), f32(args, 2), f32(args, 3), f32(args, 4), { batch, length, heads, d }, u0, u1);
  },
  // gemmNTStrided: arrays [a, b, c] (f64 or f32); ints [ao, lda, bo, ldb, co, ldc, M, N, K, mode, lower, rows per chunk (a multiple of 4)]:
  // chunk k takes rows [k per, (k + 1) per) of c, its diagonal that many rows further down
  (args, chunk) => {
    const [ao, lda, bo, ldb, co, ldc, M, N, K, mode, lower, per] = Array.from(args.ints);
    const [r0, r1] = span(M, per, chunk);
    const [a, b, c] = args.arrays as Float64Array[];
    gemmNTStrided(a, ao + r0 * lda, lda, b, bo, ldb, c, co + r0 * ldc, ldc, r1 - r0, N, K, mode, lower >= 0 ? lower + r0 : -1);
  },
  // gemmNTSimdColumns: as gemm, but ints [M, N, K, accumulate, columns per chunk]: chunk k takes its columns
  // of c and only those rows of b, where a split by rows copies all of b (a weight) into every chunk
  (args, chunk) => {
    const [M, N, K, accumulate, per] = Array.from(args.ints);
    const [j0, j1] = span(N, per, chunk);
    gemmNTSimd(f32(args, 0), f32(args, 1).subarray(j0 * K, j1 * K), f32(args, 2).subarray(j0), M, j1 - j0, K, accumulate === 1, N);
  },
  // convStep: arrays [window, x, w, bias, y]; ints [batch, E, K, sequences per chunk]
  (args, chunk) => {
    const [batch, E, K, per] = Array.from(args.ints);
    const [b0, b1] = span(batch, per, chunk);
    causalConv1dStep(f32(args, 0), f32(args, 1), f32(args, 2), f32(args, 3), f32(args, 4), E, K, b0, b1);
  },
  // transpose: arrays [x, out]; ints [rows, cols, rows of out (columns of x) per chunk]
  (args, chunk) => {
    const [rows, cols, per] = Array.from(args.ints);
    const [c0, c1] = span(cols, per, chunk);
    transpose(f32(args, 0), rows, cols, f32(args, 1), c0, c1);
  },
];

/** Runs chunk `chunk` of a task. */
export function runChunk(op: number, args: TaskArgs, chunk: number): void {
  const kernel = KERNELS[op];
  if (!kernel) throw new Error(`unknown cpu task op ${op}`);
  kernel(args, chunk);
}
