/**
 * The probe ops on Float32Array (the cpu reference for ProbeOps in backend.ts): standardising feature
 * columns and the arg max of each row. The ridge solve is ridge-solve.ts.
 */

/** out (M, C) = (x - shift) * scale, column by column. */
export function shiftScaleColumns(x: Float32Array, shift: Float32Array, scale: Float32Array, out: Float32Array, C: number): void {
  for (let o = 0; o < x.length; o += C) {
    for (let c = 0; c < C; c++) out[o + c] = (x[o + c] - shift[c]) * scale[c];
  }
}

/** out (M) = the column of each row's largest value of x (M, C), the first of equal ones. */
export function argmaxRows(x: Float32Array, C: number, out: Int32Array): void {
  for (let r = 0; r < out.length; r++) {
    const o = r * C;
    let best = 0;
    for (let c = 1; c < C; c++) if (x[o + c] > x[o + best]) best = c;
    out[r] = best;
  }
}
