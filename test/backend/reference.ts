/**
 * Float64 reference math for the backend ops, written straight from the definitions (no blocking, no
 * scratch reuse, no fast exp). Tests check the cpu backend's forward against these and its backward
 * against central differences of these.
 */

export type F64 = Float64Array;

export function matmulRef(a: F64, b: F64, M: number, N: number, K: number, transA: boolean, transB: boolean): F64 {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (transA ? a[k * M + i] : a[i * K + k]) * (transB ? b[j * K + k] : b[k * N + j]);
      c[i * N + j] = s;
    }
  }
  return c;
}

export function rmsNormRef(x: F64, w: F64, eps: number, d: number): F64 {
  const y = new Float64Array(x.length);
  for (let m = 0; m < x.length / d; m++) {
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[m * d + i] ** 2;
    const r = 1 / Math.sqrt(ss / d + eps);
    for (let i = 0; i < d; i++) y[m * d + i] = x[m * d + i] * r * w[i];
  }
  return y;
}

export function conv1dRef(x: F64, w: F64, bias: F64, batch: number, L: number, E: number, K: number): F64 {
  const y = new Float64Array(x.length);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < L; t++) {
      for (let e = 0; e < E; e++) {
        let s = bias[e];
        for (let k = 0; k < K; k++) {
          const src = t - (K - 1) + k;
          if (src >= 0) s += w[e * K + k] * x[(b * L + src) * E + e];
        }
        y[(b * L + t) * E + e] = s;
      }
    }
  }
  return y;
}

export const sigmoidRef = (v: number): number => 1 / (1 + Math.exp(-v));
export const siluRef = (v: number): number => v * sigmoidRef(v);
export const softplusRef = (v: number): number => (v > 20 ? v : Math.log(1 + Math.exp(v)));

export function map(x: F64, f: (v: number, i: number) => number): F64 {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = f(x[i], i);
  return y;
}

/** Selective scan by the recurrence, h per (sequence, channel) as an array of N numbers. */
export function scanRef(u: F64, delta: F64, aLog: F64, bm: F64, cm: F64, d: F64, batch: number, L: number, E: number, N: number): F64 {
  const y = new Float64Array(batch * L * E);
  for (let b = 0; b < batch; b++) {
    for (let e = 0; e < E; e++) {
      const h = new Array<number>(N).fill(0);
      for (let t = 0; t < L; t++) {
        const row = b * L + t;
        const dt = delta[row * E + e];
        const x = u[row * E + e];
        let s = 0;
        for (let n = 0; n < N; n++) {
          const A = -Math.exp(aLog[e * N + n]);
          h[n] = Math.exp(dt * A) * h[n] + dt * bm[row * N + n] * x;
          s += cm[row * N + n] * h[n];
        }
        y[row * E + e] = s + d[e] * x;
      }
    }
  }
  return y;
}

export function crossEntropyRef(logits: F64, targets: Int32Array, V: number): number {
  let total = 0;
  let count = 0;
  for (let m = 0; m < targets.length; m++) {
    if (targets[m] === -1) continue;
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[m * V + v]);
    total += Math.log(sum) - logits[m * V + targets[m]];
    count++;
  }
  return count === 0 ? 0 : total / count;
}

/** Deterministic pseudo-random values in [lo, hi) (a small LCG: tests need no library rng). */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  let s = seed >>> 0 || 1;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (hi - lo) * (s / 4294967296);
  }
  return out;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Central-difference gradient of f at x (x is perturbed in place and restored), for the given indices
 * (all when omitted).
 */
export function numericGradient(f: () => number, x: F64, indices?: number[], h = 1e-5): Map<number, number> {
  const out = new Map<number, number>();
  for (const i of indices ?? [...Array(x.length).keys()]) {
    const keep = x[i];
    x[i] = keep + h;
    const plus = f();
    x[i] = keep - h;
    const minus = f();
    x[i] = keep;
    out.set(i, (plus - minus) / (2 * h));
  }
  return out;
}

/** PyTorch's LayerNorm (biased variance) with weight and bias, row by row over rows of width d. */
export function layerNormRef(x: F64, w: F64, b: F64, eps: number, d: number): F64 {
  const y = new Float64Array(x.length);
  for (let m = 0; m < x.length / d; m++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[m * d + i] / d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x[m * d + i] - mean) ** 2 / d;
    for (let i = 0; i < d; i++) y[m * d + i] = ((x[m * d + i] - mean) / Math.sqrt(v + eps)) * w[i] + b[i];
  }
  return y;
}

/** GELU, tanh form (GPT-2's gelu_new). */
export const geluRef = (v: number): number => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

/** Causal multi-head attention from qkv: (B L, 3d) (q, k, v column blocks, heads side by side) -> (B L, d). */
export function attentionRef(qkv: F64, batch: number, L: number, heads: number, d: number): F64 {
  const hd = d / heads;
  const out = new Float64Array(batch * L * d);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let t = 0; t < L; t++) {
        const q = (c: number) => qkv[(b * L + t) * 3 * d + h * hd + c];
        const k = (j: number, c: number) => qkv[(b * L + j) * 3 * d + d + h * hd + c];
        const v = (j: number, c: number) => qkv[(b * L + j) * 3 * d + 2 * d + h * hd + c];
        const s: number[] = [];
        for (let j = 0; j <= t; j++) {
          let acc = 0;
          for (let c = 0; c < hd; c++) acc += q(c) * k(j, c);
          s.push(acc / Math.sqrt(hd));
        }
        const max = Math.max(...s);
        const e = s.map((x) => Math.exp(x - max));
        const sum = e.reduce((a, x) => a + x, 0);
        for (let c = 0; c < hd; c++) {
          let acc = 0;
          for (let j = 0; j <= t; j++) acc += (e[j] / sum) * v(j, c);
          out[(b * L + t) * d + h * hd + c] = acc;
        }
      }
    }
  }
  return out;
}
