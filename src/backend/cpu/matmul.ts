/**
 * Matrix products on Float32Array for the cpu backend.
 *
 * One kernel does the work: C = A B^T with A (M, K) and B (N, K) row-major, so every dot product runs
 * over two contiguous rows (gemmNT, a WebAssembly SIMD kernel: simd/). The other transpose cases copy
 * their operands into the (rows, K) layout first: O(size) copies next to an O(M N K) product.
 */
export { gemmNT } from './simd/simd-kernels.js';

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

/** out (cols, rows) = transpose of x (rows, cols). */
export function transpose(x: Float32Array, rows: number, cols: number, out: Float32Array): void {
  // Blocked so that both the reads and the writes stay within a few cache lines.
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) {
        const xr = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = x[xr + c];
      }
    }
  }
}

/**
 * The operands of op(a) op(b) in gemmNT's layout: left (M, K) and right (N, K), transposed into scratch
 * where needed (valid until the next call). a is stored (M, K) or, with transA, (K, M); b is stored
 * (K, N) or, with transB, (N, K).
 */
export function gemmOperands(
  a: Float32Array, b: Float32Array, M: number, N: number, K: number, transA: boolean, transB: boolean,
): { left: Float32Array; right: Float32Array } {
  let left = a;
  if (transA) {
    left = scratch('a', M * K);
    transpose(a, K, M, left);
  }
  let right = b;
  if (!transB) {
    right = scratch('b', N * K);
    transpose(b, K, N, right);
  }
  return { left, right };
}
