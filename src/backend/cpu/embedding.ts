/** Token embedding lookup and its scatter-add backward on Float32Array. ids: (M), weight: (V, d). */

function checkId(id: number, V: number): void {
  if (!(id >= 0 && id < V)) throw new Error(`token id ${id} is outside the vocabulary 0..${V - 1}`);
}

/** out: (M, d), row m = weight[ids[m]]. */
export function embeddingForward(ids: Int32Array, weight: Float32Array, out: Float32Array, V: number, d: number): void {
  for (let m = 0; m < ids.length; m++) {
    const id = ids[m];
    checkId(id, V);
    out.set(weight.subarray(id * d, id * d + d), m * d);
  }
}

/** dWeight[ids[m]] += dOut[m] (dWeight zeroed first unless accumulating). */
export function embeddingBackward(ids: Int32Array, dOut: Float32Array, dWeight: Float32Array, V: number, d: number, accumulate: boolean): void {
  if (!accumulate) dWeight.fill(0);
  for (let m = 0; m < ids.length; m++) {
    const id = ids[m];
    checkId(id, V);
    const w = id * d;
    const o = m * d;
    for (let i = 0; i < d; i++) dWeight[w + i] += dOut[o + i];
  }
}
