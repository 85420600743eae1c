/**
 * Mean cross-entropy over the vocabulary on Float32Array, ignoring rows whose target is -1:
 *   loss = mean over counted rows of (logsumexp(logits[m]) - logits[m, target[m]])
 *   dLogits[m] = (softmax(logits[m]) - onehot(target[m])) / count, and 0 for ignored rows.
 * logits: (M, V), targets: (M).
 */

/** Returns the loss; fills dLogits when given. */
export function crossEntropy(logits: Float32Array, targets: Int32Array, V: number, dLogits: Float32Array | null): number {
  const M = targets.length;
  let count = 0;
  for (let m = 0; m < M; m++) {
    const t = targets[m];
    if (t === -1) continue;
    if (!(t >= 0 && t < V)) throw new Error(`target ${t} is outside the vocabulary 0..${V - 1} (and not -1)`);
    count++;
  }
  if (dLogits) dLogits.fill(0);
  if (count === 0) return 0;
  let total = 0;
  for (let m = 0; m < M; m++) {
    const t = targets[m];
    if (t === -1) continue;
    const o = m * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (logits[o + v] > max) max = logits[o + v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[o + v] - max);
    const lse = max + Math.log(sum);
    total += lse - logits[o + t];
    if (dLogits) {
      const scale = 1 / (sum * count);
      for (let v = 0; v < V; v++) dLogits[o + v] = Math.exp(logits[o + v] - max) * scale;
      dLogits[o + t] -= 1 / count;
    }
  }
  return total / count;
}
