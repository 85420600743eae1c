/**
 * AdamW on Float32Array, in place (PyTorch's torch.optim.AdamW update):
 *   g = grad * gradScale
 *   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
 *   p = p - lr * ( m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps) + wd * p )
 */
import type { AdamWHyper } from '../backend.js';

/** AdamW's scalars with the clip factor already resolved to a number. */
export type ResolvedAdamWHyper = AdamWHyper & { gradScale: number };

/** The update of the elements [i0, i1): weight decay before h.decayEnd (all when absent), none after. */
export function adamwUpdate(p: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, h: ResolvedAdamWHyper, i0: number, i1: number): void {
  const decayEnd = Math.max(i0, Math.min(i1, h.decayEnd ?? i1));
  updateRange(p, grad, m, v, h, h.weightDecay, i0, decayEnd);
  updateRange(p, grad, m, v, h, 0, decayEnd, i1);
}

function updateRange(p: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, h: ResolvedAdamWHyper, weightDecay: number, i0: number, i1: number): void {
  const { lr, beta1, beta2, eps, step, gradScale } = h;
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
  for (let i = i0; i < i1; i++) {
    const g = grad[i] * gradScale;
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const pi = p[i];
    p[i] = pi - lr * (mi / bc1 / (Math.sqrt(vi) / bc2Sqrt + eps) + weightDecay * pi);
  }
}

/** sum(x^2) in float64. */
export function sumOfSquares(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return s;
}
