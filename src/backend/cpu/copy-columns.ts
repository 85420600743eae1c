/**
 * `width` columns of `rows` rows from src (row stride srcStride, from column srcAt) to dst (row stride
 * dstStride, from column dstAt). Wide rows go by set (a memcpy); narrow ones by a plain loop, cheaper
 * than making a subarray per row.
 */
export function copyColumns(
  src: Float32Array, srcStride: number, srcAt: number, dst: Float32Array, dstStride: number, dstAt: number, rows: number, width: number,
): void {
  for (let m = 0; m < rows; m++) {
    const from = m * srcStride + srcAt;
    const to = m * dstStride + dstAt;
    if (width >= 32) dst.set(src.subarray(from, from + width), to);
    else for (let c = 0; c < width; c++) dst[to + c] = src[from + c];
  }
}
