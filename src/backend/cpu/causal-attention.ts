/**
 * Causal multi-head self-attention on Float32Array, as GPT-2's attention computes it from c_attn's output:
 *
 *   qkv: (M, 3d), M = batch x length rows; columns [0, d) are q, [d, 2d) k, [2d, 3d) v, and head h
 *        takes columns [h hd, (h + 1) hd) of each (hd = d / heads)
 *   s_tj = q_t . k_j / sqrt(hd) for j <= t,  p_t = softmax(s_t),  out_t = sum_j p_tj v_j     out: (M, d)
 *
 * The forward pass keeps only lse_t = log sum_j exp(s_tj) per (sequence, head, position), not the
 * (length x length) probabilities: the backward pass recomputes p_tj = exp(s_tj - lse_t), as
 * FlashAttention does, so memory stays linear in the length.
 * Backward, with D_t = dOut_t . out_t:  dv_j = sum_t p_tj dOut_t,  ds_tj = p_tj (dOut_t . v_j - D_t),
 *   dq_t = sum_j ds_tj k_j / sqrt(hd),  dk_j = sum_t ds_tj q_t / sqrt(hd).
 * Work is cut by (sequence, head) units [u0, u1), u = b heads + h: each unit reads and writes only its
 * own rows and columns, and sums in a fixed order, so no result depends on how units are shared out.
 */

export interface AttentionShape {
  batch: number;
  length: number;
  heads: number;
  /** d: the model width; each head is d / heads wide. */
  d: number;
}

/**
 * One query of one head against `count` keys: out[o0 .. o0 + hd) = sum_j softmax(s)_j v_j with
 * s_j = q . k_j * scale, for q at q[q0..], key j at k[k0 + j stride..] and value j at v[v0 + j stride..];
 * s is scratch of at least `count`. Returns the log-sum-exp of s. The sequence path and the decoding
 * step both attend through it, so they sum in the same order.
 */
function attendQuery(
  q: Float32Array, q0: number, k: Float32Array, k0: number, v: Float32Array, v0: number, stride: number, count: number,
  hd: number, scale: number, s: Float64Array, out: Float32Array, o0: number,
): number {
  let max = -Infinity;
  for (let j = 0; j < count; j++) {
    const kj = k0 + j * stride;
    let acc = 0;
    for (let c = 0; c < hd; c++) acc += q[q0 + c] * k[kj + c];
    s[j] = acc * scale;
    if (s[j] > max) max = s[j];
  }
  let sum = 0;
  for (let j = 0; j < count; j++) {
    s[j] = Math.exp(s[j] - max);
    sum += s[j];
  }
  for (let c = 0; c < hd; c++) {
    let acc = 0;
    for (let j = 0; j < count; j++) acc += s[j] * v[v0 + j * stride + c];
    out[o0 + c] = acc / sum;
  }
  return max + Math.log(sum);
}

/** The units [u0, u1) of out (M, d) and lse (batch, heads, length). */
export function causalAttentionForward(qkv: Float32Array, out: Float32Array, lse: Float32Array, shape: AttentionShape, u0: number, u1: number): void {
  const { length: L, heads: H, d } = shape;
  const hd = d / H;
  const scale = 1 / Math.sqrt(hd);
  const row = 3 * d;
  const s = new Float64Array(L);
  for (let u = u0; u < u1; u++) {
    const b = Math.floor(u / H);
    const h = u % H;
    const q0 = h * hd;
    const k0 = d + h * hd;
    const v0 = 2 * d + h * hd;
    const first = b * L * row;
    for (let t = 0; t < L; t++) {
      lse[u * L + t] = attendQuery(qkv, (b * L + t) * row + q0, qkv, first + k0, qkv, first + v0, row, t + 1, hd, scale, s, out, (b * L + t) * d + h * hd);
    }
  }
}

/** The units [u0, u1) of dqkv (M, 3d) (overwritten) from dOut (M, d), out and lse of the forward pass. */
export function causalAttentionBackward(
  qkv: Float32Array, out: Float32Array, lse: Float32Array, dOut: Float32Array, dqkv: Float32Array, shape: AttentionShape, u0: number, u1: number,
): void {
  const { length: L, heads: H, d } = shape;
  const hd = d / H;
  const scale = 1 / Math.sqrt(hd);
  const row = 3 * d;
  const dq = new Float64Array(hd);
  const dkv = new Float64Array(L * 2 * hd); // per position j: dk_j then dv_j
  for (let u = u0; u < u1; u++) {
    const b = Math.floor(u / H);
    const h = u % H;
    const q0 = h * hd;
    const k0 = d + h * hd;
    const v0 = 2 * d + h * hd;
    dkv.fill(0);
    for (let t = 0; t < L; t++) {
      const qt = (b * L + t) * row + q0;
      const ot = (b * L + t) * d + h * hd;
      let D = 0;
      for (let c = 0; c < hd; c++) D += dOut[ot + c] * out[ot + c];
      dq.fill(0);
      for (let j = 0; j <= t; j++) {
        const kj = (b * L + j) * row + k0;
        const vj = (b * L + j) * row + v0;
        let sj = 0;
        let dp = 0;
        for (let c = 0; c < hd; c++) {
          sj += qkv[qt + c] * qkv[kj + c];
          dp += dOut[ot + c] * qkv[vj + c];
        }
        const p = Math.exp(sj * scale - lse[u * L + t]);
        const ds = p * (dp - D) * scale;
        const g = j * 2 * hd;
        for (let c = 0; c < hd; c++) {
          dq[c] += ds * qkv[kj + c];
          dkv[g + c] += ds * qkv[qt + c];
          dkv[g + hd + c] += p * dOut[ot + c];
        }
      }
      for (let c = 0; c < hd; c++) dqkv[qt + c] = dq[c];
    }
    for (let j = 0; j < L; j++) {
      const base = (b * L + j) * row;
      const g = j * 2 * hd;
      for (let c = 0; c < hd; c++) {
        dqkv[base + k0 + c] = dkv[g + c];
        dqkv[base + v0 + c] = dkv[g + hd + c];
      }
    }
  }
}

/**
 * One decoding step with a key/value cache (B sequences, all at `position`): writes k and v of qkv:
 * (B, 3d) into row `position` of kCache and vCache: (B, P, d), then out: (B, d) attends over rows
 * 0..position in the order causalAttentionForward sums them.
 */
export function attentionStep(qkv: Float32Array, kCache: Float32Array, vCache: Float32Array, out: Float32Array, B: number, P: number, d: number, heads: number, position: number): void {
  const hd = d / heads;
  const scale = 1 / Math.sqrt(hd);
  const s = new Float64Array(position + 1);
  for (let b = 0; b < B; b++) {
    const row = b * 3 * d;
    const cache = b * P * d;
    kCache.set(qkv.subarray(row + d, row + 2 * d), cache + position * d);
    vCache.set(qkv.subarray(row + 2 * d, row + 3 * d), cache + position * d);
    for (let h = 0; h < heads; h++) {
      attendQuery(qkv, row + h * hd, kCache, cache + h * hd, vCache, cache + h * hd, d, position + 1, hd, scale, s, out, b * d + h * hd);
    }
  }
}
