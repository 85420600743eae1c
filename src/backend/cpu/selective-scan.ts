/**
 * The selective scan of Mamba on Float32Array, forward, backward and one recurrent step.
 *
 *   h_t = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t        h: (E, N) per sequence, h_{-1} = 0
 *   y_t = C_t . h_t + D * u_t                                      A = -exp(A_log)
 *
 * Shapes (M = batch * length rows, row b*length + t):
 *   u, delta, y: (M, E)    B, C: (M, N)    A_log: (E, N)    D: (E)
 *
 * The backward pass needs every state h_t and decay exp(delta_t A). When the forward pass is given a
 * `saved` array (2 * M * E * N floats: states, then decays) it keeps them there and the backward pass
 * only walks back in time. Without it (the states of a large model would not fit) the backward pass
 * recomputes them: per sequence and per block of CHANNEL_BLOCK channels it runs the recurrence forward
 * into a scratch of (L, block, N), then walks back; memory O(L * block * N) at the price of one more
 * forward recurrence (the exps dominate the scan's time).
 *
 * Forward and backward work on a range of sequences [b0, b1): sequences are independent, so the cpu
 * backend can hand ranges to different threads. The only sums across sequences, dA_log and dD, go to
 * one partial per sequence (`partials`), which selectiveScanReduce adds up in sequence order: the
 * result does not depend on how the sequences were split.
 */
import { expNonPositive } from './fast-exp.js';

export interface ScanArrays {
  u: Float32Array;
  delta: Float32Array;
  /** A = -exp(A_log): (E, N), from negExp. */
  a: Float64Array;
  b: Float32Array;
  c: Float32Array;
  d: Float32Array;
  batch: number;
  length: number;
  /** E: channels. */
  channels: number;
  /** N: state size. */
  stateSize: number;
}

const CHANNEL_BLOCK = 32;

/** A = -exp(A_log) into `out` (E * N). */
export function negExp(aLog: Float32Array, out: Float64Array): void {
  for (let i = 0; i < aLog.length; i++) out[i] = -Math.exp(aLog[i]);
}

/** Floats per sequence in the partials of the backward pass: dA_log (E * N), then dD (E). */
export function scanPartialSize(E: number, N: number): number {
  return E * N + E;
}

let hScratch = new Float64Array(0);
let decayScratch = new Float64Array(0);
let dhScratch = new Float64Array(0);

function grow(buffer: Float64Array, size: number): Float64Array<ArrayBuffer> {
  return buffer.length >= size ? (buffer as Float64Array<ArrayBuffer>) : new Float64Array(size);
}

/** y: (M, E) for the sequences [b0, b1); saved: null, or 2 * M * E * N floats that receive the states and the decays. */
export function selectiveScanForward(s: ScanArrays, y: Float32Array, saved: Float32Array | null, b0: number, b1: number): void {
  if (saved) {
    selectiveScanForwardSaving(s, y, saved, b0, b1);
    return;
  }
  const { u, delta, a: A, b: bm, c: cm, d, length: L, channels: E, stateSize: N } = s;
  hScratch = grow(hScratch, E * N);
  const h = hScratch;
  for (let bi = b0; bi < b1; bi++) {
    h.fill(0, 0, E * N);
    for (let t = 0; t < L; t++) {
      const row = bi * L + t;
      const rowE = row * E;
      const rowN = row * N;
      for (let e = 0; e < E; e++) {
        const dt = delta[rowE + e];
        const x = u[rowE + e];
        const dtx = dt * x;
        const hBase = e * N;
        let acc = 0;
        for (let n = 0; n < N; n++) {
          const hn = expNonPositive(dt * A[hBase + n]) * h[hBase + n] + dtx * bm[rowN + n];
          h[hBase + n] = hn;
          acc += cm[rowN + n] * hn;
        }
        y[rowE + e] = acc + d[e] * x;
      }
    }
  }
}

function selectiveScanForwardSaving(s: ScanArrays, y: Float32Array, saved: Float32Array, b0: number, b1: number): void {
  const { u, delta, a: A, b: bm, c: cm, d, batch, length: L, channels: E, stateSize: N } = s;
  const decayOffset = batch * L * E * N;
  for (let bi = b0; bi < b1; bi++) {
    for (let t = 0; t < L; t++) {
      const row = bi * L + t;
      const rowE = row * E;
      const rowN = row * N;
      // states of this row and of the previous one: (E, N) each
      const o = rowE * N;
      const prev = t > 0 ? o - E * N : -1;
      for (let e = 0; e < E; e++) {
        const dt = delta[rowE + e];
        const x = u[rowE + e];
        const dtx = dt * x;
        const hBase = e * N;
        let acc = 0;
        for (let n = 0; n < N; n++) {
          const a = expNonPositive(dt * A[hBase + n]);
          const hn = (prev >= 0 ? a * saved[prev + hBase + n] : 0) + dtx * bm[rowN + n];
          saved[o + hBase + n] = hn;
          saved[decayOffset + o + hBase + n] = a;
          acc += cm[rowN + n] * hn;
        }
        y[rowE + e] = acc + d[e] * x;
      }
    }
  }
}

/** Backward from the states and decays kept by the forward pass (see selectiveScanBackward). */
function selectiveScanBackwardSaved(
  s: ScanArrays, saved: Float32Array, dy: Float32Array,
  du: Float32Array, dDelta: Float32Array, dB: Float32Array, dC: Float32Array, partials: Float64Array, b0: number, b1: number,
): void {
  const { u, delta, a: A, b: bm, c: cm, d, batch, length: L, channels: E, stateSize: N } = s;
  const decayOffset = batch * L * E * N;
  const partialSize = scanPartialSize(E, N);
  dhScratch = grow(dhScratch, E * N);
  const dh = dhScratch;
  for (let bi = b0; bi < b1; bi++) {
    // dA_log of this sequence at [p, p + E*N), dD at [p + E*N, p + E*N + E)
    const p = bi * partialSize;
    const pD = p + E * N;
    dh.fill(0, 0, E * N);
    for (let t = L - 1; t >= 0; t--) {
      const row = bi * L + t;
      const rowN = row * N;
      const o = row * E * N;
      const prev = o - E * N;
      for (let e = 0; e < E; e++) {
        const ie = row * E + e;
        const g = dy[ie];
        const dt = delta[ie];
        const x = u[ie];
        const dtx = dt * x;
        const eN = e * N;
        let dDt = 0;
        let dX = g * d[e];
        partials[pD + e] += g * x;
        for (let n = 0; n < N; n++) {
          const hn = saved[o + eN + n];
          dC[rowN + n] += g * hn;
          const dhn = dh[eN + n] + g * cm[rowN + n];
          const hPrev = t > 0 ? saved[prev + eN + n] : 0;
          const a = saved[decayOffset + o + eN + n];
          const dDecay = dhn * hPrev * a;
          const an = A[eN + n];
          dDt += dDecay * an + dhn * bm[rowN + n] * x;
          partials[p + eN + n] += dDecay * dt * an;
          dB[rowN + n] += dhn * dtx;
          dX += dhn * dt * bm[rowN + n];
          dh[eN + n] = dhn * a;
        }
        dDelta[ie] = dDt;
        du[ie] = dX;
      }
    }
  }
}

/**
 * Gradients of the scan for the sequences [b0, b1): writes their rows of du, dDelta: (M, E) and
 * dB, dC: (M, N), and their partials (batch * scanPartialSize floats) of dA_log and dD, all overwritten.
 * `saved` is the forward pass's array, or null to recompute the states.
 */
export function selectiveScanBackward(
  s: ScanArrays, dy: Float32Array,
  du: Float32Array, dDelta: Float32Array, dB: Float32Array, dC: Float32Array, partials: Float64Array,
  saved: Float32Array | null, b0: number, b1: number,
): void {
  const { u, delta, a: A, b: bm, c: cm, d, length: L, channels: E, stateSize: N } = s;
  const partialSize = scanPartialSize(E, N);
  dB.fill(0, b0 * L * N, b1 * L * N);
  dC.fill(0, b0 * L * N, b1 * L * N);
  partials.fill(0, b0 * partialSize, b1 * partialSize);
  if (saved) {
    selectiveScanBackwardSaved(s, saved, dy, du, dDelta, dB, dC, partials, b0, b1);
    return;
  }
  const block = Math.min(CHANNEL_BLOCK, E);
  // states[t][e'][n] (after step t) and decay[t][e'][n] = exp(delta_t A) for the channels of one block
  hScratch = grow(hScratch, L * block * N);
  decayScratch = grow(decayScratch, L * block * N);
  dhScratch = grow(dhScratch, block * N);
  const states = hScratch;
  const decay = decayScratch;
  const dh = dhScratch;
  for (let bi = b0; bi < b1; bi++) {
    const p = bi * partialSize;
    const pD = p + E * N;
    for (let e0 = 0; e0 < E; e0 += block) {
      const eCount = Math.min(block, E - e0);
      const stride = eCount * N;
      // Recompute the states of this block forward in time.
      for (let t = 0; t < L; t++) {
        const row = bi * L + t;
        const rowN = row * N;
        const base = t * stride;
        for (let j = 0; j < eCount; j++) {
          const e = e0 + j;
          const dt = delta[row * E + e];
          const dtx = dt * u[row * E + e];
          const o = base + j * N;
          const prev = o - stride;
          for (let n = 0; n < N; n++) {
            const a = expNonPositive(dt * A[e * N + n]);
            decay[o + n] = a;
            states[o + n] = (t > 0 ? a * states[prev + n] : 0) + dtx * bm[rowN + n];
          }
        }
      }
      // Walk back in time; dh holds dLoss/dh_t, carried through the decay.
      dh.fill(0, 0, stride);
      for (let t = L - 1; t >= 0; t--) {
        const row = bi * L + t;
        const rowN = row * N;
        const base = t * stride;
        for (let j = 0; j < eCount; j++) {
          const e = e0 + j;
          const ie = row * E + e;
          const g = dy[ie];
          const dt = delta[ie];
          const x = u[ie];
          const dtx = dt * x;
          const o = base + j * N;
          const prev = o - stride;
          const aRow = e * N;
          const dhBase = j * N;
          let dDt = 0;
          let dX = g * d[e];
          partials[pD + e] += g * x;
          for (let n = 0; n < N; n++) {
            const hn = states[o + n];
            dC[rowN + n] += g * hn;
            const dhn = dh[dhBase + n] + g * cm[rowN + n];
            const hPrev = t > 0 ? states[prev + n] : 0;
            const a = decay[o + n];
            // h_t = a * h_{t-1} + dt * B * u, a = exp(dt * A)
            const dDecay = dhn * hPrev * a; // dLoss/d(dt * A)
            dDt += dDecay * A[aRow + n] + dhn * bm[rowN + n] * x;
            partials[p + aRow + n] += dDecay * dt * A[aRow + n]; // dA/dA_log = A
            dB[rowN + n] += dhn * dtx;
            dX += dhn * dt * bm[rowN + n];
            dh[dhBase + n] = dhn * a;
          }
          dDelta[ie] = dDt;
          du[ie] = dX;
        }
      }
    }
  }
}

/** dA_log: (E, N) and dD: (E) = the per-sequence partials summed in sequence order (overwritten). */
export function selectiveScanReduce(partials: Float64Array, batch: number, E: number, N: number, dALog: Float32Array, dD: Float32Array): void {
  const size = scanPartialSize(E, N);
  for (let i = 0; i < size; i++) {
    let sum = 0;
    for (let bi = 0; bi < batch; bi++) sum += partials[bi * size + i];
    if (i < E * N) dALog[i] = sum;
    else dD[i - E * N] = sum;
  }
}

/** One recurrent step: h: (B, E, N) updated in place; u, delta, y: (B, E); b, c: (B, N); A from negExp. */
export function selectiveScanStep(
  h: Float32Array, u: Float32Array, delta: Float32Array, A: Float64Array, bm: Float32Array, cm: Float32Array, d: Float32Array,
  batch: number, E: number, N: number, y: Float32Array,
): void {
  for (let bi = 0; bi < batch; bi++) {
    for (let e = 0; e < E; e++) {
      const ie = bi * E + e;
      const dt = delta[ie];
      const x = u[ie];
      const hBase = ie * N;
      let acc = 0;
      for (let n = 0; n < N; n++) {
        const hn = expNonPositive(dt * A[e * N + n]) * h[hBase + n] + dt * x * bm[bi * N + n];
        h[hBase + n] = hn;
        acc += cm[bi * N + n] * hn;
      }
      y[ie] = acc + d[e] * x;
    }
  }
}
