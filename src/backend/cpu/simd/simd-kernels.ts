/**
 * The cpu backend's WebAssembly SIMD kernels (kernels.wat), one instance per thread: each thread that
 * imports this module (the main thread and every worker) compiles its own copy and owns its memory.
 * Operands are copied in, padded with zeros to the kernel's block sizes, and the results copied out:
 * O(size) copies next to the O(M N K) product, which runs about 7x faster than scalar TypeScript.
 */
import { copyColumns } from '../copy-columns.js';
import type { ScanArrays } from '../selective-scan.js';
import { scanPartialSize } from '../selective-scan.js';
import { SIMD_KERNELS_BASE64 } from './kernels-binary.js';

interface SimdExports {
  memory: WebAssembly.Memory;
  gemmNT(pa: number, pb: number, pc: number, M: number, N: number, K: number): void;
  gemmTN(pa: number, pb: number, pc: number, M: number, N: number, K: number): void;
  scanForward(u: number, dt: number, A: number, B: number, C: number, D: number, y: number, h: number, L: number, E: number, N: number): void;
  scanBackward(
    u: number, dt: number, A: number, B: number, C: number, D: number, dy: number, du: number, ddt: number, dB: number, dC: number,
    pA: number, pD: number, S: number, Dc: number, dh: number, zeros: number, L: number, E: number, eCount: number, N: number,
  ): void;
  siluForward(x: number, y: number, n: number): void;
  siluBackward(x: number, dy: number, dx: number, n: number): void;
  gateForward(y: number, z: number, out: number, n: number): void;
  gateBackward(y: number, z: number, dOut: number, dy: number, dz: number, n: number): void;
  softplusBiasForward(x: number, bias: number, y: number, rows: number, W: number): void;
  softplusBiasBackward(x: number, bias: number, dy: number, dx: number, dBias: number, rows: number, W: number): void;
  convForward(x: number, wT: number, bias: number, y: number, batch: number, L: number, W: number, K: number): void;
  convBackward(x: number, wT: number, dy: number, dx: number, dwT: number, dBias: number, batch: number, L: number, W: number, K: number): void;
}

/**
 * Channels per call of the scan's backward kernel: its recomputed states and decays take
 * 2 * L * SCAN_CHANNEL_BLOCK * N floats (8 MB for chess at L 1024, N 16).
 */
const SCAN_CHANNEL_BLOCK = 64;

const WASM_PAGE_BYTES = 65536;

let kernels: SimdExports | null = null;
let heap = new Float32Array(0);

/** This thread's instance, and a view of its memory holding at least `floats` floats. */
function instance(floats: number): SimdExports {
  kernels ??= new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(SIMD_KERNELS_BASE64, 'base64'))).exports as unknown as SimdExports;
  const bytes = floats * 4;
  const memory = kernels.memory;
  if (memory.buffer.byteLength < bytes) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / WASM_PAGE_BYTES));
  if (heap.buffer !== memory.buffer) heap = new Float32Array(memory.buffer);
  return kernels;
}

function roundUp(n: number, multiple: number): number {
  return Math.ceil(n / multiple) * multiple;
}

/** x (rows, cols) into heap at `offset` as (paddedRows, paddedCols), the padding zeroed. */
function copyPadded(x: Float32Array, rows: number, cols: number, offset: number, paddedRows: number, paddedCols: number): void {
  if (cols === paddedCols) {
    heap.set(x.subarray(0, rows * cols), offset);
  } else {
    for (let r = 0; r < rows; r++) {
      const o = offset + r * paddedCols;
      heap.set(x.subarray(r * cols, (r + 1) * cols), o);
      heap.fill(0, o + cols, o + paddedCols);
    }
  }
  heap.fill(0, offset + rows * paddedCols, offset + paddedRows * paddedCols);
}

/**
 * c (M, N) = a (M, K) . b (N, K)^T, or += when `accumulate`; row-major, c's rows `ldc` floats apart
 * (N unless c is a block of columns of a wider product). Each element of c is the same sum whatever M
 * and N are and wherever it lies (kernels.wat), so row or column ranges computed apart give the bits
 * of the whole product.
 */
export function gemmNT(a: Float32Array, b: Float32Array, c: Float32Array, M: number, N: number, K: number, accumulate: boolean, ldc = N): void {
  if (M === 0 || N === 0) return;
  const Mp = roundUp(M, 4);
  const Np = roundUp(N, 2);
  const Kp = roundUp(K, 4);
  const { at, total } = layout({ a: Mp * Kp, b: Np * Kp, c: Mp * Np });
  const k = instance(total);
  copyPadded(a, M, K, at.a, Mp, Kp);
  copyPadded(b, N, K, at.b, Np, Kp);
  k.gemmNT(4 * at.a, 4 * at.b, 4 * at.c, Mp, Np, Kp);
  copyProductOut(c, M, N, at.c, Np, accumulate, ldc);
}

/**
 * The rows [r0, r1) of c (M, N) = a (K, M)^T . b (K, N), or += when `accumulate`; row-major. The
 * operands are read in their stored layout (no transposes). Each element of c is the same sum
 * wherever its row lies (kernels.wat), so row ranges computed apart give the bits of the whole product.
 */
export function gemmTN(
  a: Float32Array, b: Float32Array, c: Float32Array, M: number, N: number, K: number, accumulate: boolean, r0: number, r1: number,
): void {
  const rows = r1 - r0;
  if (rows <= 0 || N === 0) return;
  // Row strides off multiples of 128 bytes: the kernel walks a and b down their K rows, and a stride of
  // 2 or 4 KiB (othello-base's 512 and 1024 columns) sends every row to the same L1 cache set.
  const Mp = offPowerStride(roundUp(rows, 4), 4);
  const Np = offPowerStride(roundUp(N, 8), 8);
  const { at, total } = layout({ a: K * Mp, b: K * Np, c: Mp * Np });
  const k = instance(total);
  // The padding columns of a and b need no zeroing: they only reach the padding of c, never copied out.
  gatherColumns(a, K, M, r0, r1, at.a, Mp);
  gatherColumns(b, K, N, 0, N, at.b, Np);
  k.gemmTN(4 * at.a, 4 * at.b, 4 * at.c, Mp, Np, K);
  copyProductOut(c.subarray(r0 * N, r1 * N), rows, N, at.c, Np, accumulate);
}

/** `floats`, or `floats + step` when it is a multiple of 32 floats (128 bytes). */
function offPowerStride(floats: number, step: number): number {
  return floats % 32 === 0 ? floats + step : floats;
}

/** A product's rows (M, N) from heap at `offset`, stored with row stride Np, into (or added to) c, its rows `ldc` floats apart. */
function copyProductOut(c: Float32Array, M: number, N: number, offset: number, Np: number, accumulate: boolean, ldc = N): void {
  if (!accumulate && N === Np && ldc === N) {
    c.set(heap.subarray(offset, offset + M * N));
    return;
  }
  for (let i = 0; i < M; i++) {
    const from = offset + i * Np;
    const to = i * ldc;
    if (accumulate) for (let j = 0; j < N; j++) c[to + j] += heap[from + j];
    else c.set(heap.subarray(from, from + N), to);
  }
}

/** Float offsets of consecutive regions of the given sizes, and the total. */
function layout<K extends string>(sizes: Record<K, number>): { at: Record<K, number>; total: number } {
  const at = {} as Record<K, number>;
  let total = 0;
  for (const key of Object.keys(sizes) as K[]) {
    at[key] = total;
    total += roundUp(sizes[key], 4);
  }
  return { at, total };
}

/** A = -exp(A_log) (E, N) and D into heap, A padded to Np states. */
function copyScanParameters(s: ScanArrays, atA: number, atD: number, Np: number): void {
  const { a, d, channels: E, stateSize: N } = s;
  for (let e = 0; e < E; e++) {
    for (let n = 0; n < N; n++) heap[atA + e * Np + n] = a[e * N + n];
    heap.fill(0, atA + e * Np + N, atA + (e + 1) * Np);
  }
  heap.set(d.subarray(0, E), atD);
}

/**
 * The selective scan's forward pass over the sequences [b0, b1) (selective-scan.ts has the definitions
 * and the plain TypeScript reference): y (M, E). The states are padded to a multiple of 4 with A = B =
 * C = 0, which keeps them at 0. Each sequence starts from zeros, or with `state` from its own row of
 * those (batch, E, N) states, which then receive the states it ends in: at length 1 that is the
 * recurrent step of play and eval, the same kernel as training's forward pass, so the scan fed token
 * by token gives the bits of its full-sequence pass.
 */
export function selectiveScanForwardSimd(s: ScanArrays, y: Float32Array, b0: number, b1: number, state: Float32Array | null = null): void {
  const { u, delta, b: bm, c: cm, length: L, channels: E, stateSize: N } = s;
  const Np = roundUp(N, 4);
  const { at, total } = layout({ u: L * E, dt: L * E, A: E * Np, B: L * Np, C: L * Np, D: E, y: L * E, h: E * Np });
  const k = instance(total);
  copyScanParameters(s, at.A, at.D, Np);
  for (let bi = b0; bi < b1; bi++) {
    const rows = bi * L;
    heap.set(u.subarray(rows * E, (rows + L) * E), at.u);
    heap.set(delta.subarray(rows * E, (rows + L) * E), at.dt);
    copyPadded(bm.subarray(rows * N, (rows + L) * N), L, N, at.B, L, Np);
    copyPadded(cm.subarray(rows * N, (rows + L) * N), L, N, at.C, L, Np);
    const own = state?.subarray(bi * E * N, (bi + 1) * E * N);
    if (own) copyPadded(own, E, N, at.h, E, Np);
    else heap.fill(0, at.h, at.h + E * Np);
    k.scanForward(4 * at.u, 4 * at.dt, 4 * at.A, 4 * at.B, 4 * at.C, 4 * at.D, 4 * at.y, 4 * at.h, L, E, Np);
    y.set(heap.subarray(at.y, at.y + L * E), rows * E);
    if (own) copyProductOut(own, E, N, at.h, Np, false);
  }
}

/**
 * The selective scan's backward pass over the sequences [b0, b1), recomputing the states (as
 * selectiveScanBackward in selective-scan.ts without `saved`): writes their rows of du, dDelta (M, E),
 * dB, dC (M, N), and their per-sequence partials of dA_log and dD.
 */
export function selectiveScanBackwardSimd(
  s: ScanArrays, dy: Float32Array, du: Float32Array, dDelta: Float32Array, dB: Float32Array, dC: Float32Array, partials: Float64Array,
  b0: number, b1: number,
): void {
  const { u, delta, b: bm, c: cm, length: L, channels: E, stateSize: N } = s;
  const Np = roundUp(N, 4);
  const block = Math.min(SCAN_CHANNEL_BLOCK, E);
  const { at, total } = layout({
    u: L * E, dt: L * E, A: E * Np, B: L * Np, C: L * Np, D: E, dy: L * E, du: L * E, ddt: L * E, dB: L * Np, dC: L * Np,
    pA: E * Np, pD: E, S: L * block * Np, Dc: L * block * Np, dh: block * Np, zeros: block * Np,
  });
  const k = instance(total);
  copyScanParameters(s, at.A, at.D, Np);
  heap.fill(0, at.zeros, at.zeros + block * Np);
  const partialSize = scanPartialSize(E, N);
  for (let bi = b0; bi < b1; bi++) {
    const rows = bi * L;
    heap.set(u.subarray(rows * E, (rows + L) * E), at.u);
    heap.set(delta.subarray(rows * E, (rows + L) * E), at.dt);
    heap.set(dy.subarray(rows * E, (rows + L) * E), at.dy);
    copyPadded(bm.subarray(rows * N, (rows + L) * N), L, N, at.B, L, Np);
    copyPadded(cm.subarray(rows * N, (rows + L) * N), L, N, at.C, L, Np);
    heap.fill(0, at.dB, at.dB + L * Np);
    heap.fill(0, at.dC, at.dC + L * Np);
    heap.fill(0, at.pA, at.pA + E * Np);
    heap.fill(0, at.pD, at.pD + E);
    for (let e0 = 0; e0 < E; e0 += block) {
      const eCount = Math.min(block, E - e0);
      heap.fill(0, at.dh, at.dh + block * Np);
      k.scanBackward(
        4 * (at.u + e0), 4 * (at.dt + e0), 4 * (at.A + e0 * Np), 4 * at.B, 4 * at.C, 4 * (at.D + e0),
        4 * (at.dy + e0), 4 * (at.du + e0), 4 * (at.ddt + e0), 4 * at.dB, 4 * at.dC, 4 * (at.pA + e0 * Np), 4 * (at.pD + e0),
        4 * at.S, 4 * at.Dc, 4 * at.dh, 4 * at.zeros, L, E, eCount, Np,
      );
    }
    du.set(heap.subarray(at.du, at.du + L * E), rows * E);
    dDelta.set(heap.subarray(at.ddt, at.ddt + L * E), rows * E);
    for (let t = 0; t < L; t++) {
      for (let n = 0; n < N; n++) {
        dB[(rows + t) * N + n] = heap[at.dB + t * Np + n];
        dC[(rows + t) * N + n] = heap[at.dC + t * Np + n];
      }
    }
    const p = bi * partialSize;
    for (let e = 0; e < E; e++) {
      for (let n = 0; n < N; n++) partials[p + e * N + n] = heap[at.pA + e * Np + n];
      partials[p + E * N + e] = heap[at.pD + e];
    }
  }
}

/** Columns [c0, c1) of x (rows, stride) into heap at `offset` as (rows, width); the padding is left as it is. */
function gatherColumns(x: Float32Array, rows: number, stride: number, c0: number, c1: number, offset: number, width: number): void {
  copyColumns(x, stride, c0, heap, width, offset, rows, c1 - c0);
}

/** The inverse of gatherColumns: heap (rows, width) at `offset` into the columns [c0, c1) of x (rows, stride). */
function scatterColumns(x: Float32Array, rows: number, stride: number, c0: number, c1: number, offset: number, width: number): void {
  copyColumns(heap, width, offset, x, stride, c0, rows, c1 - c0);
}

/**
 * Runs an elementwise kernel on the elements [i0, i1): the inputs copied in, the outputs copied out,
 * each kernel argument the byte offset of one array (inputs, then outputs), then the count.
 */
function elementwise(inputs: Float32Array[], outputs: Float32Array[], i0: number, i1: number, run: (k: SimdExports, offsets: number[], n: number) => void): void {
  const n = i1 - i0;
  const stride = roundUp(n, 4);
  const k = instance(stride * (inputs.length + outputs.length));
  inputs.forEach((x, i) => heap.set(x.subarray(i0, i1), i * stride));
  run(k, [...inputs, ...outputs].map((_, i) => 4 * i * stride), n);
  outputs.forEach((y, i) => y.set(heap.subarray((inputs.length + i) * stride, (inputs.length + i) * stride + n), i0));
}

// The elementwise ops of elementwise.ts on WebAssembly SIMD, with the same arguments (ranges of
// elements, or of columns where the op sums over rows).

export function siluForwardSimd(x: Float32Array, y: Float32Array, i0: number, i1: number): void {
  elementwise([x], [y], i0, i1, (k, [px, py], n) => k.siluForward(px, py, n));
}

export function siluBackwardSimd(x: Float32Array, dy: Float32Array, dx: Float32Array, i0: number, i1: number): void {
  elementwise([x, dy], [dx], i0, i1, (k, [px, pdy, pdx], n) => k.siluBackward(px, pdy, pdx, n));
}

export function gateForwardSimd(y: Float32Array, z: Float32Array, out: Float32Array, i0: number, i1: number): void {
  elementwise([y, z], [out], i0, i1, (k, [py, pz, pout], n) => k.gateForward(py, pz, pout, n));
}

export function gateBackwardSimd(y: Float32Array, z: Float32Array, dOut: Float32Array, dy: Float32Array, dz: Float32Array, i0: number, i1: number): void {
  elementwise([y, z, dOut], [dy, dz], i0, i1, (k, [py, pz, pdOut, pdy, pdz], n) => k.gateBackward(py, pz, pdOut, pdy, pdz, n));
}

/** x: (M, E), bias: (E); y = softplus(x + bias) for the elements [i0, i1) (whole rows). */
export function softplusBiasForwardSimd(x: Float32Array, bias: Float32Array, y: Float32Array, E: number, i0: number, i1: number): void {
  const rows = (i1 - i0) / E;
  const W = roundUp(E, 4);
  const { at, total } = layout({ x: rows * W, bias: W, y: rows * W });
  const k = instance(total);
  gatherColumns(x.subarray(i0, i1), rows, E, 0, E, at.x, W);
  heap.set(bias.subarray(0, E), at.bias);
  k.softplusBiasForward(4 * at.x, 4 * at.bias, 4 * at.y, rows, W);
  scatterColumns(y.subarray(i0, i1), rows, E, 0, E, at.y, W);
}

/** dx = dy * sigmoid(x + bias) (dy above the threshold); dBias = column sums of dx; for the columns [e0, e1). */
export function softplusBiasBackwardSimd(
  x: Float32Array, bias: Float32Array, dy: Float32Array, dx: Float32Array, dBias: Float32Array, E: number, e0: number, e1: number,
): void {
  const rows = x.length / E;
  const W = roundUp(e1 - e0, 4);
  const { at, total } = layout({ x: rows * W, bias: W, dy: rows * W, dx: rows * W, dBias: W });
  const k = instance(total);
  gatherColumns(x, rows, E, e0, e1, at.x, W);
  gatherColumns(dy, rows, E, e0, e1, at.dy, W);
  heap.set(bias.subarray(e0, e1), at.bias);
  k.softplusBiasBackward(4 * at.x, 4 * at.bias, 4 * at.dy, 4 * at.dx, 4 * at.dBias, rows, W);
  scatterColumns(dx, rows, E, e0, e1, at.dx, W);
  dBias.set(heap.subarray(at.dBias, at.dBias + (e1 - e0)), e0);
}

/** The taps of the channels [e0, e1) of w (E, K) into heap at `offset`, transposed to (K, width). */
function copyTapsTransposed(w: Float32Array, K: number, e0: number, e1: number, offset: number, width: number): void {
  for (let e = e0; e < e1; e++) {
    for (let k = 0; k < K; k++) heap[offset + k * width + (e - e0)] = w[e * K + k];
  }
}

/** The causal depthwise conv1d of conv1d.ts on WebAssembly SIMD, same arguments: the channels [e0, e1). */
export function causalConv1dForwardSimd(
  x: Float32Array, w: Float32Array, bias: Float32Array, y: Float32Array, batch: number, L: number, E: number, K: number, e0: number, e1: number,
): void {
  const rows = batch * L;
  const W = roundUp(e1 - e0, 4);
  const { at, total } = layout({ x: rows * W, wT: K * W, bias: W, y: rows * W });
  const k = instance(total);
  gatherColumns(x, rows, E, e0, e1, at.x, W);
  copyTapsTransposed(w, K, e0, e1, at.wT, W);
  heap.set(bias.subarray(e0, e1), at.bias);
  k.convForward(4 * at.x, 4 * at.wT, 4 * at.bias, 4 * at.y, batch, L, W, K);
  scatterColumns(y, rows, E, e0, e1, at.y, W);
}

/** Writes the channels [e0, e1) of dx: (M, E), dw: (E, K), dBias: (E) (overwritten). */
export function causalConv1dBackwardSimd(
  x: Float32Array, w: Float32Array, dy: Float32Array, dx: Float32Array, dw: Float32Array, dBias: Float32Array,
  batch: number, L: number, E: number, K: number, e0: number, e1: number,
): void {
  const rows = batch * L;
  const W = roundUp(e1 - e0, 4);
  const { at, total } = layout({ x: rows * W, wT: K * W, dy: rows * W, dx: rows * W, dwT: K * W, dBias: W });
  const k = instance(total);
  gatherColumns(x, rows, E, e0, e1, at.x, W);
  gatherColumns(dy, rows, E, e0, e1, at.dy, W);
  copyTapsTransposed(w, K, e0, e1, at.wT, W);
  k.convBackward(4 * at.x, 4 * at.wT, 4 * at.dy, 4 * at.dx, 4 * at.dwT, 4 * at.dBias, batch, L, W, K);
  scatterColumns(dx, rows, E, e0, e1, at.dx, W);
  for (let e = e0; e < e1; e++) {
    for (let t = 0; t < K; t++) dw[e * K + t] = heap[at.dwT + t * W + (e - e0)];
    dBias[e] = heap[at.dBias + (e - e0)];
  }
}
