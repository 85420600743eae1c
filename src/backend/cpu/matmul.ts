/**
 * Matrix products for the cpu backend, and the one product kernel of the probes' ridge solve.
 *
 * One kernel does the work: C = A B^T with A (M, K) and B (N, K) row-major, so every dot product runs
 * over two contiguous rows. It computes 4x4 blocks of C at a time with 16 scalar accumulators (V8 keeps
 * them in registers, sums in float64), which measured ~3x faster on this CPU than a plain dot loop and
 * ~1.7x faster than the i-k-j axpy form. The other transpose cases copy their operands into the
 * (rows, K) layout first: O(size) copies next to an O(M N K) product.
 *
 * Each element of C is one dot product summed in order of k whatever block it falls in, so a range of
 * rows of C computed alone (the cpu backend's threads) gives the same bits as the whole product.
 */

/**
 * Reusable scratch for transposed operands (grown on demand, never shrunk), in shared memory so that
 * worker threads can read it.
 */
let scratchA = new Float32Array(new SharedArrayBuffer(0));
let scratchB = new Float32Array(new SharedArrayBuffer(0));

function scratch(which: 'a' | 'b', size: number): Float32Array {
  if (which === 'a') {
    if (scratchA.length < size) scratchA = new Float32Array(new SharedArrayBuffer(size * 4));
    return scratchA.subarray(0, size);
  }
  if (scratchB.length < size) scratchB = new Float32Array(new SharedArrayBuffer(size * 4));
  return scratchB.subarray(0, size);
}

/**
 * out (cols, rows) = transpose of x (rows, cols), or only out's rows [from, to) (x's columns): the cpu
 * backend's threads each take a range.
 */
export function transpose(x: Float32Array, rows: number, cols: number, out: Float32Array, from = 0, to = cols): void {
  // Blocked so that both the reads and the writes stay within a few cache lines.
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = from; c0 < to; c0 += T) {
      const c1 = Math.min(to, c0 + T);
      for (let r = r0; r < r1; r++) {
        const xr = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = x[xr + c];
      }
    }
  }
}

/** The arrays the product kernel works on: float32 for the models, float64 for the probes' ridge solve. */
export type Floats = Float32Array | Float64Array;

/** What gemmNTStrided does with the product: overwrite c, add it to c, or subtract it from c. */
export const SET = 0;
export const ADD = 1;
export const SUBTRACT = -1;

/**
 * c (M, N) = a (M, K) . b (N, K)^T, or += when `accumulate` (contiguous rows: the models' products).
 */
export function gemmNT(a: Float32Array, b: Float32Array, c: Float32Array, M: number, N: number, K: number, accumulate: boolean): void {
  gemmNTStrided(a, 0, K, b, 0, K, c, 0, N, M, N, K, accumulate ? ADD : SET, -1);
}

/**
 * c[i, j] (=, +=, -=) sum_k a[i, k] b[j, k] for i < M, j < N, k < K (mode SET, ADD or SUBTRACT), on
 * row-major views: row i of a at a[ao + i * lda], row j of b at b[bo + j * ldb], row i of c at
 * c[co + i * ldc]. With `lower` >= 0, only the 4 x 4 blocks that reach j <= i + lower (the lower
 * triangle of a symmetric update, for rows that start `lower` rows below the view's first): the blocks
 * on the diagonal also write a few entries above it, which the caller ignores.
 */
export function gemmNTStrided(
  a: Floats, ao: number, lda: number, b: Floats, bo: number, ldb: number, c: Floats, co: number, ldc: number,
  M: number, N: number, K: number, mode: number, lower: number,
): void {
  const M4 = M - (M % 4);
  for (let i = 0; i < M4; i += 4) {
    const a0 = ao + i * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
    const jEnd = lower >= 0 ? Math.min(N, i + 4 + lower) : N;
    const N4 = jEnd - (jEnd % 4);
    for (let j = 0; j < N4; j += 4) {
      const b0 = bo + j * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0;
      let s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0;
      let s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = a[a0 + k], x1 = a[a1 + k], x2 = a[a2 + k], x3 = a[a3 + k];
        const y0 = b[b0 + k], y1 = b[b1 + k], y2 = b[b2 + k], y3 = b[b3 + k];
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
        s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
        s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
      }
      const o0 = co + i * ldc + j, o1 = o0 + ldc, o2 = o1 + ldc, o3 = o2 + ldc;
      if (mode === SET) {
        c[o0] = s00; c[o0 + 1] = s01; c[o0 + 2] = s02; c[o0 + 3] = s03;
        c[o1] = s10; c[o1 + 1] = s11; c[o1 + 2] = s12; c[o1 + 3] = s13;
        c[o2] = s20; c[o2 + 1] = s21; c[o2 + 2] = s22; c[o2 + 3] = s23;
        c[o3] = s30; c[o3 + 1] = s31; c[o3 + 2] = s32; c[o3 + 3] = s33;
      } else {
        c[o0] += mode * s00; c[o0 + 1] += mode * s01; c[o0 + 2] += mode * s02; c[o0 + 3] += mode * s03;
        c[o1] += mode * s10; c[o1 + 1] += mode * s11; c[o1 + 2] += mode * s12; c[o1 + 3] += mode * s13;
        c[o2] += mode * s20; c[o2 + 1] += mode * s21; c[o2 + 2] += mode * s22; c[o2 + 3] += mode * s23;
        c[o3] += mode * s30; c[o3 + 1] += mode * s31; c[o3 + 2] += mode * s32; c[o3 + 3] += mode * s33;
      }
    }
    // Columns left over when the row block's columns are not a multiple of 4.
    for (let j = N4; j < jEnd; j++) for (let r = i; r < i + 4; r++) store(c, co + r * ldc + j, dot(a, ao + r * lda, b, bo + j * ldb, K), mode);
  }
  // Rows left over when M is not a multiple of 4.
  for (let i = M4; i < M; i++) {
    const jEnd = lower >= 0 ? Math.min(N, i + 1 + lower) : N;
    for (let j = 0; j < jEnd; j++) store(c, co + i * ldc + j, dot(a, ao + i * lda, b, bo + j * ldb, K), mode);
  }
}

function store(c: Floats, at: number, value: number, mode: number): void {
  if (mode === SET) c[at] = value;
  else c[at] += mode * value;
}

/** sum_k a[ia + k] * b[ib + k] for k < n, summed in order (as the 4 x 4 blocks sum each element). */
function dot(a: Floats, ia: number, b: Floats, ib: number, n: number): number {
  let s = 0;
  for (let k = 0; k < n; k++) s += a[ia + k] * b[ib + k];
  return s;
}

/** Writes out (cols, rows) = transpose of x (rows, cols): `transpose`, or the same split over threads. */
export type Transposer = (x: Float32Array, rows: number, cols: number, out: Float32Array) => void;

/**
 * The operands of op(a) op(b) in gemmNT's layout: left (M, K) and right (N, K), transposed into scratch
 * where needed (valid until the next call). a is stored (M, K) or, with transA, (K, M); b is stored
 * (K, N) or, with transB, (N, K).
 */
export function gemmOperands(
  a: Float32Array, b: Float32Array, M: number, N: number, K: number, transA: boolean, transB: boolean, transposer: Transposer = transpose,
): { left: Float32Array; right: Float32Array } {
  let left = a;
  if (transA) {
    left = scratch('a', M * K);
    transposer(a, K, M, left);
  }
  let right = b;
  if (!transB) {
    right = scratch('b', N * K);
    transposer(b, K, N, right);
  }
  return { left, right };
}
