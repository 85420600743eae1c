/**
 * The cpu backend: every Backend op on Float32Array. Each op has a plain TypeScript kernel, one family
 * per file beside this one: the reference the other backends are tested against. The heavy ops also
 * have WebAssembly SIMD kernels (simd/), which run by default (CpuKernels).
 *
 * Memory: intermediate tensors come from a free list keyed by element count, so a training step that
 * disposes its activations reuses the same arrays on the next step instead of allocating (and zeroing)
 * fresh ones.
 *
 * Threads: the heavy ops (matmul, the selective scan, the convolution, the elementwise ops, AdamW) are
 * split into chunks that the calling thread and worker threads share (thread-pool.ts); tensors then
 * live in SharedArrayBuffers. The split never changes a summation order, so every thread count gives
 * the same bits. Threads come from the constructor, else GAMBA_CPU_THREADS, else one per core (at
 * most MAX_DEFAULT_THREADS); small ops stay on the calling thread, where a handoff would cost more
 * than it saves. Run from the TypeScript sources (no compiled worker script) the backend uses one thread.
 */
import { attentionStepShape, attentionWidth, checkReshape, checkView, ridgeSystemSize, rowsCols, shiftScaleWidth, sizeOf, type AdamWHyper, type Backend, type DType, type MatmulOptions, type SelectiveScanGradients, type SelectiveScanInputs, type SizeLimits, type Tensor } from '../backend.js';
import { constants as bufferConstants } from 'node:buffer';
import { availableParallelism, totalmem } from 'node:os';
import { UserError } from '../../util/errors.js';
import { formatBytes } from '../../util/output.js';
import { sumOfSquares } from './adamw.js';
import { attentionStep } from './causal-attention.js';
import { copyColumns } from './copy-columns.js';
import { argmaxRows, shiftScaleColumns } from './probe-ops.js';
import { solveRidge, type SubtractProduct } from './ridge-solve.js';
import { countTargets, meanLoss } from './cross-entropy.js';
import { embeddingBackward, embeddingForward } from './embedding.js';
import { gemmOperands, SUBTRACT, type Transposer } from './matmul.js';
import { Op, runChunk, type TaskArgs } from './parallel-kernels.js';
import { negExp, scanPartialSize, selectiveScanReduce, selectiveScanStep, type ScanArrays } from './selective-scan.js';
import { ThreadPool } from './thread-pool.js';

/**
 * Largest states-and-decays array (floats) one layer's scan keeps for its backward pass: 32M floats =
 * 128 MB (tiny at batch 32 x 59 needs 7.7M; othello-base at batch 64 x 59 recomputes instead).
 */
const SCAN_SAVE_LIMIT = 32 * 1024 * 1024;

/** Default thread count cap (one per core up to this). */
const MAX_DEFAULT_THREADS = 8;
/**
 * Ops below this much work (multiply-adds, or elements times a rough per-element cost) stay on the
 * calling thread: waking a worker costs tens of microseconds.
 */
const PARALLEL_MIN_WORK = 1 << 17;
/**
 * The largest weight-gradient product (K (M + N) floats of operands) that goes to the SIMD gemmTN
 * kernel. It walks all of a once per 8 columns of b with no blocking over K, which beats transposing
 * while a stays in cache (the quickstart preset, 0.45M floats) and loses 15% past it (othello-base at
 * batch 32, 2.4M floats, one thread).
 */
const GEMM_TN_MAX_FLOATS = 1 << 20;
/** Chunks per thread: more than one, so that a thread the machine delays leaves its share to the others. */
const CHUNKS_PER_THREAD = 6;

/** The process's worker threads, started by the first backend that wants them (undefined: not yet). */
let sharedPool: ThreadPool | null | undefined;

/**
 * Which kernels run the matmul, the selective scan, conv1d, SiLU, softplus and the gate (the other ops
 * are plain TypeScript either way).
 */
export type CpuKernels = 'simd' | 'reference';

/** GAMBA_CPU_KERNELS, or null when it is not set. */
export function kernelsFromEnvironment(): CpuKernels | null {
  const text = process.env.GAMBA_CPU_KERNELS;
  if (text === undefined || text === '') return null;
  if (text !== 'simd' && text !== 'reference') throw new UserError(`GAMBA_CPU_KERNELS: expected 'simd' or 'reference', got '${text}'`);
  return text;
}

/** The thread count of GAMBA_CPU_THREADS, or null when it is not set. */
export function threadsFromEnvironment(): number | null {
  const text = process.env.GAMBA_CPU_THREADS;
  if (text === undefined || text === '') return null;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UserError(`GAMBA_CPU_THREADS: expected an integer from 1 to 64, got '${text}'`);
  return n;
}

export interface CpuBackendOptions {
  /** Threads for the heavy ops (1 = the calling thread only). */
  threads?: number;
  /**
   * 'simd' (the default): the heavy ops run on WebAssembly SIMD kernels (simd/), several times faster.
   * 'reference': every op in plain TypeScript, the code the SIMD kernels are tested against. Else
   * GAMBA_CPU_KERNELS.
   */
  kernels?: CpuKernels;
}

export class CpuTensor implements Tensor {
  constructor(
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly data: Float32Array | Int32Array,
  ) {}
}

function f32(t: Tensor): Float32Array {
  const data = (t as CpuTensor).data;
  if (!(data instanceof Float32Array)) throw new Error(`expected a float tensor, got ${t.dtype} [${t.shape.join(', ')}]`);
  return data;
}

function i32(t: Tensor): Int32Array {
  const data = (t as CpuTensor).data;
  if (!(data instanceof Int32Array)) throw new Error(`expected an int tensor, got ${t.dtype} [${t.shape.join(', ')}]`);
  return data;
}

/** Whether two arrays of one length hold the same values (NaN never does: A is then computed again). */
function sameValues(a: Float32Array, b: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function same(a: Tensor, b: Tensor, what: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((s, i) => s !== b.shape[i])) {
    throw new Error(`${what}: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
  }
}

export class CpuBackend implements Backend {
  readonly name = 'cpu';
  readonly precision = 'f32';
  /** Threads the heavy ops run on (1 when no worker threads could be started). */
  readonly threads: number;
  readonly kernels: CpuKernels;
  private readonly pool: ThreadPool | null;
  private readonly free = new Map<number, Float32Array[]>();
  /** The arrays of views (`view`), which share another tensor's memory and never reach `free`. */
  private readonly views = new WeakSet<Float32Array>();
  /**
   * A = -exp(A_log) of the scan, by A_log's array, with the values it was computed from: a recurrent
   * step of a 12-layer model takes 147,000 exps where comparing A_log with its copy costs a tenth of that,
   * and the comparison keeps A right when A_log changes in place (an optimizer step) or its array is
   * reused for another tensor.
   */
  private readonly scanAs = new WeakMap<Float32Array, { from: Float32Array; a: Float64Array }>();
  /** The scan's backward pass's per-sequence partials (shared memory). */
  private partialScratch: Float64Array = new Float64Array(0);
  private rowLossScratch: Float64Array = new Float64Array(0);
  /** The ridge solve's float64 arrays (solveRidge). */
  private readonly solveScratch: Float64Array[] = [];

  constructor(options: CpuBackendOptions = {}) {
    const wanted = options.threads ?? threadsFromEnvironment() ?? Math.min(availableParallelism(), MAX_DEFAULT_THREADS);
    if (!Number.isInteger(wanted) || wanted < 1) throw new Error(`CpuBackend: threads must be a positive integer, got ${wanted}`);
    if (wanted > 1 && sharedPool === undefined) sharedPool = ThreadPool.create(wanted - 1);
    this.pool = wanted > 1 ? sharedPool ?? null : null;
    this.threads = this.pool ? Math.min(wanted, this.pool.size + 1) : 1;
    this.kernels = options.kernels ?? kernelsFromEnvironment() ?? 'simd';
  }

  /**
   * Host memory, and V8's longest typed array: buffer.constants.MAX_LENGTH, the longest Uint8Array, is
   * 2^32 on Node 20, where every typed array stops at that many elements (a longer one throws
   * "Invalid typed array length").
   */
  sizeLimits(): SizeLimits {
    const memory = totalmem();
    const elements = bufferConstants.MAX_LENGTH;
    return {
      memory: { bytes: memory, what: `this machine's ${formatBytes(memory)} of memory` },
      tensor: { elements, bytes: Infinity, what: `the ${elements} elements a typed array can hold` },
    };
  }

  /** Chunks of this process's tasks that worker threads ran so far (0 without workers). */
  chunksByWorkers(): number {
    return this.pool?.chunksByWorkers ?? 0;
  }

  /** Float memory for n values: shared when worker threads may read it. */
  private floats(n: number): Float32Array {
    return this.pool ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n);
  }

  /** Float64 memory for n values: shared when worker threads may read it. */
  private float64s(n: number): Float64Array {
    return this.pool ? new Float64Array(new SharedArrayBuffer(n * 8)) : new Float64Array(n);
  }

  private float64Scratch(current: Float64Array, n: number): Float64Array {
    return current.length >= n ? current : this.float64s(n);
  }

  /**
   * Runs every chunk of a task: on the worker threads as well when there are any and the task is
   * worth it, else here, in chunk order (same bits either way).
   */
  private exec(op: number, args: TaskArgs, chunks: number, work: number): void {
    if (this.pool && chunks > 1 && work >= PARALLEL_MIN_WORK && this.pool.run(op, args, chunks, this.threads - 1)) return;
    for (let chunk = 0; chunk < chunks; chunk++) runChunk(op, args, chunk);
  }

  /** The op code of the kernels this backend runs: the plain TypeScript one, or its SIMD counterpart. */
  private op(reference: number, simd: number): number {
    return this.kernels === 'simd' ? simd : reference;
  }

  /** Items per chunk for `total` items split across the threads, a multiple of `align`. */
  private perChunk(total: number, align = 1, chunksPerThread = CHUNKS_PER_THREAD): number {
    const per = Math.ceil(total / (chunksPerThread * this.threads));
    return Math.max(align, Math.ceil(per / align) * align);
  }

  /** A float tensor with unspecified contents (from the free list when possible). */
  private alloc(shape: readonly number[]): CpuTensor {
    const n = sizeOf(shape);
    const list = this.free.get(n);
    const data = list && list.length > 0 ? list.pop()! : this.floats(n);
    return new CpuTensor([...shape], 'f32', data);
  }

  upload(data: Float32Array, shape: readonly number[]): Tensor {
    if (data.length !== sizeOf(shape)) throw new Error(`upload: ${data.length} values for shape [${shape.join(', ')}]`);
    const copy = this.floats(data.length);
    copy.set(data);
    return new CpuTensor([...shape], 'f32', copy);
  }

  uploadInts(data: Int32Array, shape: readonly number[]): Tensor {
    if (data.length !== sizeOf(shape)) throw new Error(`uploadInts: ${data.length} values for shape [${shape.join(', ')}]`);
    // Shared when worker threads may read it (the cross-entropy's targets).
    const ints = this.pool ? new Int32Array(new SharedArrayBuffer(data.length * 4)) : new Int32Array(data.length);
    ints.set(data);
    return new CpuTensor([...shape], 'i32', ints);
  }

  zeros(shape: readonly number[]): Tensor {
    const t = this.alloc(shape);
    t.data.fill(0);
    return t;
  }

  async download(tensor: Tensor): Promise<Float32Array> {
    return Float32Array.from((tensor as CpuTensor).data);
  }

  reshape(tensor: Tensor, shape: readonly number[]): Tensor {
    checkReshape(tensor, shape);
    return new CpuTensor([...shape], tensor.dtype, (tensor as CpuTensor).data);
  }

  view(tensor: Tensor, offset: number, shape: readonly number[]): Tensor {
    checkView(tensor, offset, shape);
    const data = f32(tensor).subarray(offset, offset + sizeOf(shape));
    this.views.add(data);
    return new CpuTensor([...shape], 'f32', data);
  }

  dispose(tensor: Tensor): void {
    const data = (tensor as CpuTensor).data;
    if (!(data instanceof Float32Array)) return;
    if (this.views.has(data)) throw new Error(`dispose: [${tensor.shape.join(', ')}] is a view of another tensor; dispose that one`);
    let list = this.free.get(data.length);
    if (!list) this.free.set(data.length, (list = []));
    list.push(data);
  }

  embeddingForward(ids: Tensor, weight: Tensor): Tensor {
    const [V, d] = rowsCols(weight);
    const out = this.alloc([sizeOf(ids.shape), d]);
    embeddingForward(i32(ids), f32(weight), f32(out), V, d);
    return out;
  }

  embeddingBackward(ids: Tensor, dOut: Tensor, dWeight: Tensor, accumulate: boolean): void {
    const [V, d] = rowsCols(dWeight);
    embeddingBackward(i32(ids), f32(dOut), f32(dWeight), V, d, accumulate);
  }

  rmsNormForward(x: Tensor, weight: Tensor, eps: number): { y: Tensor; rstd: Tensor } {
    const [M, d] = rowsCols(x);
    const y = this.alloc(x.shape);
    const rstd = this.alloc([M]);
    const per = this.perChunk(M);
    this.exec(Op.rmsNormForward, { arrays: [f32(x), f32(weight), f32(y), f32(rstd)], ints: [d, M, per], floats: [eps] }, Math.ceil(M / per), 4 * M * d);
    return { y, rstd };
  }

  rmsNormBackward(x: Tensor, weight: Tensor, rstd: Tensor, dy: Tensor, dWeight: Tensor, addTo?: Tensor): Tensor {
    const [M, d] = rowsCols(x);
    const dx = this.alloc(x.shape);
    // As many chunks of dWeight's columns as of dx's rows: one task does both (at least one, so that
    // dWeight is written, as zeros, when there are no rows).
    const chunks = Math.max(1, Math.min(Math.ceil(M / this.perChunk(M)), d));
    const rowsPer = Math.ceil(M / chunks);
    const colsPer = Math.ceil(d / chunks);
    const arrays = [f32(x), f32(weight), f32(rstd), f32(dy), f32(dx), f32(dWeight)];
    this.exec(Op.rmsNormBackward, { arrays, ints: [d, M, rowsPer, colsPer], floats: [] }, chunks, 8 * M * d);
    return this.addInto(addTo, dx);
  }

  /** `addTo` += dx, then dx disposed and `addTo` returned; without `addTo`, dx. */
  private addInto(addTo: Tensor | undefined, dx: Tensor): Tensor {
    if (!addTo) return dx;
    this.addInPlace(addTo, dx);
    this.dispose(dx);
    return addTo;
  }

  matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
    const transA = options.transA ?? false;
    const transB = options.transB ?? false;
    const [ar, ac] = rowsCols(a);
    const [br, bc] = rowsCols(b);
    const M = transA ? ac : ar;
    const K = transA ? ar : ac;
    const N = transB ? br : bc;
    const Kb = transB ? bc : br;
    if (K !== Kb) throw new Error(`matmul: inner sizes ${K} and ${Kb} differ ([${a.shape.join(', ')}]${transA ? '^T' : ''} x [${b.shape.join(', ')}]${transB ? '^T' : ''})`);
    let out: Tensor;
    if (options.into) {
      if (sizeOf(options.into.shape) !== M * N) throw new Error(`matmul: result [${M}, ${N}] does not fit into [${options.into.shape.join(', ')}]`);
      out = options.into;
    } else {
      out = this.alloc([M, N]);
    }
    const accumulate = (options.accumulate ?? false) && options.into !== undefined;
    if (this.kernels === 'simd' && transA && !transB && K * (M + N) <= GEMM_TN_MAX_FLOATS) {
      // The weight gradients' dy^T x: the SIMD kernel reads both operands as stored. Every chunk copies
      // all of b (an activation, K = tokens rows), so one chunk a thread.
      const per = this.perChunk(M, 4, 1);
      const task = { arrays: [f32(a), f32(b), f32(out)], ints: [M, N, K, accumulate ? 1 : 0, per], floats: [] };
      this.exec(Op.gemmTNSimd, task, Math.ceil(M / per), M * N * K);
      return out;
    }
    const { left, right } = gemmOperands(f32(a), f32(b), M, N, K, transA, transB, this.transposer);
    const arrays = [left, right, f32(out)];
    if (this.kernels === 'simd' && N > M) {
      // Few rows and many columns (a step's products against a weight): each chunk copies all of a and
      // its rows of b, so split the columns, which copies less of the two than a split of the rows.
      const per = this.perChunk(N, 8);
      this.exec(Op.gemmNTSimdColumns, { arrays, ints: [M, N, K, accumulate ? 1 : 0, per], floats: [] }, Math.ceil(N / per), M * N * K);
      return out;
    }
    const per = this.perChunk(M, 4);
    this.exec(this.op(Op.gemmNT, Op.gemmNTSimd), { arrays, ints: [M, N, K, accumulate ? 1 : 0, per], floats: [] }, Math.ceil(M / per), M * N * K);
    return out;
  }

  /** gemmOperands' copies into the product's layout, split over the threads by rows of the copy. */
  private readonly transposer: Transposer = (x, rows, cols, out) => {
    const per = this.perChunk(cols, 32);
    this.exec(Op.transpose, { arrays: [x, out], ints: [rows, cols, per], floats: [] }, Math.ceil(cols / per), rows * cols);
  };

  splitColumns(x: Tensor, widths: readonly number[]): Tensor[] {
    const [M, C] = rowsCols(x);
    const total = widths.reduce((s, w) => s + w, 0);
    if (total !== C) throw new Error(`splitColumns: widths sum to ${total}, the tensor has ${C} columns`);
    const src = f32(x);
    const parts: Tensor[] = [];
    let offset = 0;
    for (const w of widths) {
      const part = this.alloc([M, w]);
      const dst = f32(part);
      copyColumns(src, C, offset, dst, w, 0, M, w);
      parts.push(part);
      offset += w;
    }
    return parts;
  }

  concatColumns(parts: readonly Tensor[]): Tensor {
    const M = rowsCols(parts[0])[0];
    const C = parts.reduce((s, p) => s + rowsCols(p)[1], 0);
    const out = this.alloc([M, C]);
    const dst = f32(out);
    let offset = 0;
    for (const part of parts) {
      const [rows, w] = rowsCols(part);
      if (rows !== M) throw new Error(`concatColumns: ${rows} rows against ${M}`);
      const src = f32(part);
      copyColumns(src, w, 0, dst, C, offset, M, w);
      offset += w;
    }
    return out;
  }

  add(a: Tensor, b: Tensor): Tensor {
    same(a, b, 'add');
    const out = this.alloc(a.shape);
    const x = f32(a), y = f32(b), z = f32(out);
    for (let i = 0; i < z.length; i++) z[i] = x[i] + y[i];
    return out;
  }

  addInPlace(target: Tensor, source: Tensor): void {
    same(target, source, 'addInPlace');
    const x = f32(target), y = f32(source);
    for (let i = 0; i < x.length; i++) x[i] += y[i];
  }

  causalConv1dForward(x: Tensor, weight: Tensor, bias: Tensor, batch: number, length: number): Tensor {
    const E = x.shape[x.shape.length - 1];
    const K = sizeOf(weight.shape) / E;
    const y = this.alloc(x.shape);
    const per = this.perChunk(E);
    this.exec(this.op(Op.convForward, Op.convForwardSimd), { arrays: [f32(x), f32(weight), f32(bias), f32(y)], ints: [batch, length, E, K, per], floats: [] }, Math.ceil(E / per), sizeOf(x.shape) * K);
    return y;
  }

  causalConv1dBackward(x: Tensor, weight: Tensor, dy: Tensor, batch: number, length: number, dWeight: Tensor, dBias: Tensor): Tensor {
    const E = x.shape[x.shape.length - 1];
    const K = sizeOf(weight.shape) / E;
    const dx = this.alloc(x.shape);
    const per = this.perChunk(E);
    const args = { arrays: [f32(x), f32(weight), f32(dy), f32(dx), f32(dWeight), f32(dBias)], ints: [batch, length, E, K, per], floats: [] };
    this.exec(this.op(Op.convBackward, Op.convBackwardSimd), args, Math.ceil(E / per), 2 * sizeOf(x.shape) * K);
    return dx;
  }

  causalConv1dSiluForward(x: Tensor, weight: Tensor, bias: Tensor, batch: number, length: number): { conv: Tensor; u: Tensor } {
    const conv = this.causalConv1dForward(x, weight, bias, batch, length);
    return { conv, u: this.siluForward(conv) };
  }

  causalConv1dSiluBackward(x: Tensor, weight: Tensor, conv: Tensor, du: Tensor, batch: number, length: number, dWeight: Tensor, dBias: Tensor): Tensor {
    const dConv = this.siluBackward(conv, du);
    const dx = this.causalConv1dBackward(x, weight, dConv, batch, length, dWeight, dBias);
    this.dispose(dConv);
    return dx;
  }

  causalConv1dStep(window: Tensor, x: Tensor, weight: Tensor, bias: Tensor): Tensor {
    const [B, E] = rowsCols(x);
    const K = sizeOf(weight.shape) / E;
    const y = this.alloc(x.shape);
    const per = this.perChunk(B, 1, 1);
    this.exec(Op.convStep, { arrays: [f32(window), f32(x), f32(weight), f32(bias), f32(y)], ints: [B, E, K, per], floats: [] }, Math.ceil(B / per), B * E * K);
    return y;
  }

  siluForward(x: Tensor): Tensor {
    const y = this.alloc(x.shape);
    this.elementwise(this.op(Op.siluForward, Op.siluForwardSimd), [f32(x), f32(y)]);
    return y;
  }

  siluBackward(x: Tensor, dy: Tensor): Tensor {
    const dx = this.alloc(x.shape);
    this.elementwise(this.op(Op.siluBackward, Op.siluBackwardSimd), [f32(x), f32(dy), f32(dx)]);
    return dx;
  }

  softplusBiasForward(x: Tensor, bias: Tensor): Tensor {
    const y = this.alloc(x.shape);
    const n = sizeOf(x.shape);
    const E = sizeOf(bias.shape);
    const per = this.perChunk(n, E);
    this.exec(this.op(Op.softplusForward, Op.softplusForwardSimd), { arrays: [f32(x), f32(bias), f32(y)], ints: [n, E, per], floats: [] }, Math.ceil(n / per), 16 * n);
    return y;
  }

  softplusBiasBackward(x: Tensor, bias: Tensor, dy: Tensor, dBias: Tensor): Tensor {
    const dx = this.alloc(x.shape);
    const E = sizeOf(bias.shape);
    const per = this.perChunk(E);
    this.exec(this.op(Op.softplusBackward, Op.softplusBackwardSimd), { arrays: [f32(x), f32(bias), f32(dy), f32(dx), f32(dBias)], ints: [E, per], floats: [] }, Math.ceil(E / per), 8 * sizeOf(x.shape));
    return dx;
  }

  gateForward(y: Tensor, z: Tensor): Tensor {
    same(y, z, 'gateForward');
    const out = this.alloc(y.shape);
    this.elementwise(this.op(Op.gateForward, Op.gateForwardSimd), [f32(y), f32(z), f32(out)]);
    return out;
  }

  gateBackward(y: Tensor, z: Tensor, dOut: Tensor): { dy: Tensor; dz: Tensor } {
    const dy = this.alloc(y.shape);
    const dz = this.alloc(z.shape);
    this.elementwise(this.op(Op.gateBackward, Op.gateBackwardSimd), [f32(y), f32(z), f32(dOut), f32(dy), f32(dz)]);
    return { dy, dz };
  }

  // ---- the transformer baseline's ops (TransformerOps) ----------------------------------------------

  layerNormForward(x: Tensor, weight: Tensor, bias: Tensor, eps: number): { y: Tensor; mean: Tensor; rstd: Tensor } {
    const [M, d] = rowsCols(x);
    const y = this.alloc(x.shape);
    const mean = this.alloc([M]);
    const rstd = this.alloc([M]);
    const per = this.perChunk(M);
    const arrays = [f32(x), f32(weight), f32(bias), f32(y), f32(mean), f32(rstd)];
    this.exec(Op.layerNormForward, { arrays, ints: [d, M, per], floats: [eps] }, Math.ceil(M / per), 6 * M * d);
    return { y, mean, rstd };
  }

  layerNormBackward(x: Tensor, weight: Tensor, mean: Tensor, rstd: Tensor, dy: Tensor, dWeight: Tensor, dBias: Tensor, addTo?: Tensor): Tensor {
    const [M, d] = rowsCols(x);
    const dx = this.alloc(x.shape);
    // As in rmsNormBackward: each chunk does its rows of dx and its columns of dWeight and dBias.
    const chunks = Math.max(1, Math.min(Math.ceil(M / this.perChunk(M)), d));
    const arrays = [f32(x), f32(weight), f32(mean), f32(rstd), f32(dy), f32(dx), f32(dWeight), f32(dBias)];
    this.exec(Op.layerNormBackward, { arrays, ints: [d, M, Math.ceil(M / chunks), Math.ceil(d / chunks)], floats: [] }, chunks, 10 * M * d);
    return this.addInto(addTo, dx);
  }

  geluForward(x: Tensor): Tensor {
    const y = this.alloc(x.shape);
    this.elementwise(Op.geluForward, [f32(x), f32(y)]);
    return y;
  }

  geluBackward(x: Tensor, dy: Tensor): Tensor {
    same(x, dy, 'geluBackward');
    const dx = this.alloc(x.shape);
    this.elementwise(Op.geluBackward, [f32(x), f32(dy), f32(dx)]);
    return dx;
  }

  biasAdd(x: Tensor, bias: Tensor): Tensor {
    const [M, C] = rowsCols(x);
    if (sizeOf(bias.shape) !== C) throw new Error(`biasAdd: bias [${bias.shape.join(', ')}] does not fit rows of ${C}`);
    const y = this.alloc(x.shape);
    const per = this.perChunk(M) * C;
    this.exec(Op.biasAdd, { arrays: [f32(x), f32(bias), f32(y)], ints: [M * C, C, per], floats: [] }, Math.ceil((M * C) / per) || 1, M * C);
    return y;
  }

  biasGrad(dy: Tensor, dBias: Tensor): void {
    const [M, C] = rowsCols(dy);
    const per = this.perChunk(C);
    this.exec(Op.biasGrad, { arrays: [f32(dy), f32(dBias)], ints: [M, C, per], floats: [] }, Math.ceil(C / per) || 1, M * C);
  }

  causalAttentionForward(qkv: Tensor, batch: number, length: number, heads: number): { out: Tensor; lse: Tensor } {
    const d = attentionWidth(qkv, batch, length, heads);
    const out = this.alloc([batch * length, d]);
    const lse = this.alloc([batch, heads, length]);
    const units = batch * heads;
    const per = this.perChunk(units);
    const ints = [batch, length, heads, d, per];
    this.exec(Op.attentionForward, { arrays: [f32(qkv), f32(out), f32(lse)], ints, floats: [] }, Math.ceil(units / per), units * length * length * d);
    return { out, lse };
  }

  causalAttentionBackward(qkv: Tensor, out: Tensor, lse: Tensor, dOut: Tensor, batch: number, length: number, heads: number): Tensor {
    const d = attentionWidth(qkv, batch, length, heads);
    const dqkv = this.alloc(qkv.shape);
    const units = batch * heads;
    const per = this.perChunk(units);
    const arrays = [f32(qkv), f32(out), f32(lse), f32(dOut), f32(dqkv)];
    this.exec(Op.attentionBackward, { arrays, ints: [batch, length, heads, d, per], floats: [] }, Math.ceil(units / per), 2 * units * length * length * d);
    return dqkv;
  }

  attentionStep(qkv: Tensor, kCache: Tensor, vCache: Tensor, position: number, heads: number): Tensor {
    const { B, d, P } = attentionStepShape(qkv, kCache, vCache, position, heads);
    const out = this.alloc([B, d]);
    attentionStep(f32(qkv), f32(kCache), f32(vCache), f32(out), B, P, d, heads, position);
    return out;
  }

  /** An elementwise task over arrays of equal length (inputs, then outputs). */
  private elementwise(op: number, arrays: Float32Array[]): void {
    const n = arrays[0].length;
    const per = this.perChunk(n);
    this.exec(op, { arrays, ints: [n, per], floats: [] }, Math.ceil(n / per), 8 * n);
  }

  /** A = -exp(A_log), computed again only where A_log's values differ from the last call's on its array. */
  private scanA(aLog: Tensor): Float64Array {
    const values = f32(aLog);
    let known = this.scanAs.get(values);
    if (known && sameValues(known.from, values)) return known.a;
    if (known) known.from.set(values);
    else this.scanAs.set(values, (known = { from: values.slice(), a: this.float64s(values.length) }));
    negExp(values, known.a);
    return known.a;
  }

  /** The scan's arrays in task order [u, delta, A, B, C, D] and ints [batch, length, E, N, sequences per chunk]. */
  private scanTask(s: SelectiveScanInputs, chunksPerThread = CHUNKS_PER_THREAD): { arrays: (Float32Array | Float64Array)[]; ints: number[]; chunks: number; work: number } {
    const [E, N] = rowsCols(s.aLog);
    const per = this.perChunk(s.batch, 1, chunksPerThread);
    return {
      arrays: [f32(s.u), f32(s.delta), this.scanA(s.aLog), f32(s.b), f32(s.c), f32(s.d)],
      ints: [s.batch, s.length, E, N, per],
      chunks: Math.ceil(s.batch / per),
      work: 4 * sizeOf(s.u.shape) * N,
    };
  }

  selectiveScanForward(inputs: SelectiveScanInputs, forBackward: boolean): { y: Tensor; saved: Tensor | null } {
    const task = this.scanTask(inputs);
    const y = this.alloc(inputs.u.shape);
    if (this.kernels === 'simd') {
      // The SIMD backward pass recomputes the states: cheaper than storing and reloading them.
      this.exec(Op.scanForwardSimd, { arrays: [...task.arrays, f32(y)], ints: task.ints, floats: [] }, task.chunks, task.work);
      return { y, saved: null };
    }
    // Keep states and decays (2 * M * E * N floats) for the backward pass when they fit the budget.
    const savedSize = 2 * sizeOf(inputs.u.shape) * task.ints[3];
    const saved = forBackward && savedSize <= SCAN_SAVE_LIMIT ? this.alloc([savedSize]) : null;
    const arrays = [...task.arrays, f32(y)];
    if (saved) arrays.push(f32(saved));
    this.exec(Op.scanForward, { arrays, ints: task.ints, floats: [] }, task.chunks, task.work);
    return { y, saved };
  }

  selectiveScanBackward(inputs: SelectiveScanInputs, saved: Tensor | null, dy: Tensor, dALog: Tensor, dD: Tensor): SelectiveScanGradients {
    const task = this.scanTask(inputs);
    const [batch, , E, N] = task.ints;
    const du = this.alloc(inputs.u.shape);
    const dDelta = this.alloc(inputs.delta.shape);
    const dB = this.alloc(inputs.b.shape);
    const dC = this.alloc(inputs.c.shape);
    const partialFloats = batch * scanPartialSize(E, N);
    this.partialScratch = this.float64Scratch(this.partialScratch, partialFloats);
    const partials = this.partialScratch.subarray(0, partialFloats);
    const arrays = [...task.arrays, f32(dy), f32(du), f32(dDelta), f32(dB), f32(dC), partials];
    if (saved) arrays.push(f32(saved));
    const op = this.kernels === 'simd' && !saved ? Op.scanBackwardSimd : Op.scanBackward;
    this.exec(op, { arrays, ints: task.ints, floats: [] }, task.chunks, (saved ? 2 : 3) * task.work);
    selectiveScanReduce(partials, batch, E, N, f32(dALog), f32(dD));
    return { du, dDelta, dB, dC };
  }

  selectiveScanStep(h: Tensor, u: Tensor, delta: Tensor, aLog: Tensor, b: Tensor, c: Tensor, d: Tensor): Tensor {
    const [E, N] = rowsCols(aLog);
    const B = rowsCols(u)[0];
    const y = this.alloc(u.shape);
    if (this.kernels === 'simd') {
      // the forward pass's SIMD kernel at length 1, from the carried states: the sequences split over the
      // threads, one chunk each (every chunk copies all of A and D into its kernel's memory)
      const task = this.scanTask({ u, delta, aLog, b, c, d, batch: B, length: 1 }, 1);
      this.exec(Op.scanForwardSimd, { arrays: [...task.arrays, f32(y), f32(h)], ints: task.ints, floats: [] }, task.chunks, task.work);
      return y;
    }
    selectiveScanStep(f32(h), f32(u), f32(delta), this.scanA(aLog), f32(b), f32(c), f32(d), B, E, N, f32(y));
    return y;
  }

  crossEntropy(logits: Tensor, targets: Tensor, withGradient: boolean, gradScale = 1): { loss: Tensor; dLogits: Tensor | null } {
    const V = logits.shape[logits.shape.length - 1];
    const dLogits = withGradient ? this.alloc(logits.shape) : null;
    const ids = i32(targets);
    const M = ids.length;
    const count = countTargets(ids, V);
    const loss = this.alloc([1]);
    if (count === 0) {
      f32(loss)[0] = 0;
      if (dLogits) f32(dLogits).fill(0);
      return { loss, dLogits };
    }
    this.rowLossScratch = this.float64Scratch(this.rowLossScratch, M);
    const rowLoss = this.rowLossScratch.subarray(0, M);
    const per = this.perChunk(M);
    const arrays = dLogits ? [f32(logits), ids, rowLoss, f32(dLogits)] : [f32(logits), ids, rowLoss];
    this.exec(Op.crossEntropy, { arrays, ints: [V, count, M, per], floats: [gradScale] }, Math.ceil(M / per), 8 * M * V);
    f32(loss)[0] = meanLoss(ids, rowLoss, count);
    return { loss, dLogits };
  }

  adamwUpdate(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, hyper: AdamWHyper): void {
    same(param, grad, 'adamwUpdate');
    const gradScale = typeof hyper.gradScale === 'number' ? hyper.gradScale : f32(hyper.gradScale)[0];
    if (gradScale === 0) return;
    const n = sizeOf(param.shape);
    const per = this.perChunk(n);
    const floats = [hyper.lr, hyper.beta1, hyper.beta2, hyper.eps, hyper.weightDecay, hyper.step, gradScale, hyper.decayEnd ?? n];
    this.exec(Op.adamw, { arrays: [f32(param), f32(grad), f32(m), f32(v)], ints: [n, per], floats }, Math.ceil(n / per), 8 * n);
  }

  sumOfSquares(t: Tensor): Tensor {
    const out = this.alloc([1]);
    f32(out)[0] = sumOfSquares(f32(t));
    return out;
  }
  clipScale(squares: readonly Tensor[], clip: number, lossScale = 1): Tensor {
    let sum = 0;
    for (const s of squares) sum += f32(s)[0];
    const norm = Math.sqrt(sum) / lossScale;
    const out = this.alloc([2]);
    f32(out)[0] = !Number.isFinite(norm) ? 0 : (clip > 0 && norm > clip ? clip / norm : 1) / lossScale;
    f32(out)[1] = norm;
    return out;
  }

  // ---- the probes' ops (ProbeOps) -------------------------------------------------------------------

  shiftScaleColumns(x: Tensor, shift: Tensor, scale: Tensor): Tensor {
    const C = shiftScaleWidth(x, shift, scale);
    const out = this.alloc(x.shape);
    shiftScaleColumns(f32(x), f32(shift), f32(scale), f32(out), C);
    return out;
  }

  argmaxRows(x: Tensor): Tensor {
    const [M, C] = rowsCols(x);
    const out = new CpuTensor([M], 'i32', new Int32Array(M));
    argmaxRows(f32(x), C, i32(out));
    return out;
  }

  async solveRidge(gram: Tensor, lambda: number, rhs: Tensor): Promise<Tensor> {
    const n = ridgeSystemSize(gram, rhs);
    const K = rowsCols(rhs)[0];
    // The factor's trailing updates and the substitutions' products run on the threads, row chunks of 4.
    const subtract: SubtractProduct = (a, ao, lda, b, bo, ldb, c, co, ldc, M, N, K, lower) => {
      const per = this.perChunk(M, 4);
      const ints = [ao, lda, bo, ldb, co, ldc, M, N, K, SUBTRACT, lower, per];
      this.exec(Op.gemmNTStrided, { arrays: [a, b, c], ints, floats: [] }, Math.ceil(M / per), M * N * K);
    };
    // The factor, its transpose and the solution, in memory kept from solve to solve (a penalty search
    // solves several systems of the same size: fresh shared buffers of n^2 doubles each pile up faster
    // than the collector hands them back).
    let used = 0;
    const alloc = (size: number): Float64Array => {
      const kept = this.solveScratch[used];
      if (!kept || kept.length < size) this.solveScratch[used] = this.pool ? new Float64Array(new SharedArrayBuffer(size * 8)) : new Float64Array(size);
      return this.solveScratch[used++].subarray(0, size);
    };
    const x = solveRidge(f32(gram), n, lambda, f32(rhs), K, { subtract, alloc });
    return this.upload(Float32Array.from(x), [K, n]);
  }
}
