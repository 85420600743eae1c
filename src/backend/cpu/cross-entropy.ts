/**
 * Mean cross-entropy over the vocabulary on Float32Array, ignoring rows whose target is -1:
 *   loss = mean over counted rows of (logsumexp(logits[m]) - logits[m, target[m]])
 *   dLogits[m] = gradScale (softmax(logits[m]) - onehot(target[m])) / count, and 0 for ignored rows
 * (gradScale is a power of two, the loss scale of mixed precision: it changes no bit but the exponent).
 * logits: (M, V), targets: (M). The rows are independent (crossEntropyRows, shared by the cpu
 * backend's threads); the loss adds them up in row order.
 */

/** The number of counted rows; throws on a target outside the vocabulary. */
export function countTargets(targets: Int32Array, V: number): number {
  let count = 0;
  for (let m = 0; m < targets.length; m++) {
    const t = targets[m];
    if (t === -1) continue;
    if (!(t >= 0 && t < V)) throw new Error(`target ${t} is outside the vocabulary 0..${V - 1} (and not -1)`);
    count++;
  }
  return count;
}

/**
 * The rows [m0, m1): rowLoss[m] = logsumexp - logits[target] (0 for an ignored row), and their rows
 * of dLogits when given. `count` (> 0) is the number of counted rows of the whole batch.
 */
export function crossEntropyRows(
  logits: Float32Array, targets: Int32Array, V: number, count: number, dLogits: Float32Array | null, rowLoss: Float64Array,
  m0: number, m1: number, gradScale = 1,
): void {
  for (let m = m0; m < m1; m++) {
    const t = targets[m];
    const o = m * V;
    if (t === -1) {
      rowLoss[m] = 0;
      if (dLogits) dLogits.fill(0, o, o + V);
      continue;
    }
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (logits[o + v] > max) max = logits[o + v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[o + v] - max);
    rowLoss[m] = max + Math.log(sum) - logits[o + t];
    if (dLogits) {
      const scale = gradScale / (sum * count);
      for (let v = 0; v < V; v++) dLogits[o + v] = Math.exp(logits[o + v] - max) * scale;
      dLogits[o + t] -= gradScale / count;
    }
  }
}

/** The mean of the counted rows' losses, summed in row order. */
export function meanLoss(targets: Int32Array, rowLoss: Float64Array, count: number): number {
  let total = 0;
  for (let m = 0; m < targets.length; m++) if (targets[m] !== -1) total += rowLoss[m];
  return total / count;
}
