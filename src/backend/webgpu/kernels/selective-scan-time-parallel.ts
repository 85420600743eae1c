/**
 * A backward kernel for the selective scan that is parallel in time (selective-scan.ts has the
 * layout of the inputs and runs it; this file holds the WGSL). The default backward kernel gives each
 * (sequence, channel, state) a thread that walks the sequence back step by step; this one gives each
 * (sequence, channel) a subgroup whose lanes hold consecutive steps, and walks the N states in turn:
 *
 * - the recurrence h_t = a_t h_{t-1} + b_t (a_t = exp(delta_t A), b_t = delta_t B_t u_t) is a chain of
 *   affine maps, so the lanes compose their own steps' maps, scan the compositions across the subgroup
 *   (log2(lanes) rounds of shuffles, as a parallel prefix), and then replay their steps from the state
 *   that reaches them; the gradient dh_t = g_t C_t + a_{t+1} dh_{t+1} is the same kind of chain run from
 *   the other end, scanned with shuffles down;
 * - du and dDelta are sums over the states, so each lane adds them up in registers as the states go by,
 *   with no reduction at all; dA_log sums over time with one subgroupAdd a state; dB and dC, sums over
 *   the channels, go through workgroup memory, W subgroups (channels) at a time;
 * - time is walked in chunks of T steps (lanes x steps per lane; timeChunk) from the last, each starting from
 *   the forward pass's saved state at its first step (T is a multiple of the forward kernel's chunk)
 *   and handing the gradient a_t dh_t at its first step to the chunk before it.
 *
 * A workgroup holds W subgroups and takes P passes of W channels each (W P channels of one sequence):
 * the dB and dC sums of its channels are added in workgroup memory over the passes and written once a
 * chunk, so the partials that columnSums adds up are per group of W P channels. Sums run in a fixed
 * order: the same bits run after run. Needs one subgroup size, a power of two that divides T; lanes are
 * invocations lid % S of subgroup lid / S, as on NVIDIA and lavapipe (selective-scan-subgroup.ts
 * assumes the same). The chunk's B and C sit in workgroup memory for all N states, so chunks shorten as N
 * grows (timeChunk) and the host refuses what still does not fit (timeParallelBytes): in lavapipe's
 * 32 KB, N up to 32 at any pass count and 64 at 1 or 2, on lanes that divide the chunk.
 */
import { BACKWARD_BINDINGS, CHUNK } from './selective-scan-parts.js';

/**
 * Steps per chunk of the time-parallel backward kernel at N states: 64, fewer where the chunk's B and C
 * (T N floats each) would crowd the workgroup memory. Each is a multiple of the forward kernel's CHUNK,
 * so every chunk starts at a saved state.
 */
export function timeChunk(N: number): number {
  return N <= 16 ? 64 : N <= 32 ? 32 : CHUNK;
}
/** Subgroups (channels at once) per workgroup. */
export const TIME_SUBGROUPS = 8;

/** True where the device has one subgroup size that splits the longest chunk (64 steps) evenly. */
export function timeParallelFits(subgroupSize: number | null): subgroupSize is number {
  return subgroupSize !== null && subgroupSize >= 2 && (subgroupSize & (subgroupSize - 1)) === 0 && 64 % subgroupSize === 0;
}

/** Workgroup memory of the kernel at N states and `passes` passes (bytes), as the WGSL below declares it. */
export function timeParallelBytes(N: number, passes: number): number {
  const T = timeChunk(N);
  const W = TIME_SUBGROUPS;
  const channels = W * passes;
  return 4 * (2 * T * N + 3 * T * W + 2 * W * T + 2 * N * (T + 1) + 2 * channels * N + channels);
}

/** One round per power of two below the lane count: `lines(d)` for d = 1, 2, 4, ... */
const rounds = (lanes: number, lines: (d: number) => string) => Array.from({ length: Math.log2(lanes) }, (_, i) => lines(1 << i)).join('\n');

export const timeParallelBackwardCode = (N: number, lanes: number, passes: number) => /* wgsl */ `
enable subgroups;
${BACKWARD_BINDINGS}
const N = ${N}u;
// lanes per subgroup, steps per lane, steps per chunk
const S = ${lanes}u;
const I = ${timeChunk(N) / lanes}u;
const T = ${timeChunk(N)}u;
// subgroups per workgroup, passes over W channels, channels per workgroup
const W = ${TIME_SUBGROUPS}u;
const P = ${passes}u;
const CH = W * P;
const WG = W * S;
// the forward kernel saves the state at every multiple of this many steps
const SAVED_EVERY = ${CHUNK}u;
var<workgroup> sB: array<f32, T * N>;
var<workgroup> sC: array<f32, T * N>;
// u, delta, dy of the chunk and the pass's channels, (T, W); u and delta then take du and dDelta out
var<workgroup> s_u: array<f32, T * W>;
var<workgroup> s_delta: array<f32, T * W>;
var<workgroup> s_dy: array<f32, T * W>;
// the dB (q = 0) and dC (q = 1) terms of one state: (2, W, T)
var<workgroup> sRed: array<f32, 2u * W * T>;
// the chunk's dB and dC summed over the workgroup's channels so far: (2, N, T + 1), rows padded so that
// both the adds (along t) and the final copy (along n) spread over the memory banks
const TP = T + 1u;
var<workgroup> sAcc: array<f32, 2u * N * TP>;
// per (channel of the workgroup, state): a_t dh_t at the first step of the chunk to the right, and dA_log
var<workgroup> sCarry: array<f32, CH * N>;
var<workgroup> sDA: array<f32, CH * N>;
var<workgroup> sDD: array<f32, CH>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let E = params.channels;
  let L = params.length;
  let M = params.rows;
  let sg = lid / S;
  let lane = lid % S;
  let b = wid.y;
  let chunks = (L + T - 1u) / T;
  for (var i = lid; i < CH * N; i += WG) {
    sCarry[i] = 0.0;
    sDA[i] = 0.0;
  }
  for (var i = lid; i < CH; i += WG) { sDD[i] = 0.0; }
  for (var ci = 0u; ci < chunks; ci++) {
    let c = chunks - 1u - ci;
    let t0 = c * T;
    let count = min(T, L - t0);
    let rowBase = b * L + t0;
    workgroupBarrier();
    for (var i = lid; i < count * N; i += WG) {
      sB[i] = bm[rowBase * N + i];
      sC[i] = cm[rowBase * N + i];
    }
    for (var i = lid; i < 2u * N * TP; i += WG) { sAcc[i] = 0.0; }
    for (var p = 0u; p < P; p++) {
      let cw = wid.x * CH + p * W;
      let e = cw + sg;
      let live = e < E;
      let slot = p * W + sg;
      workgroupBarrier();
      for (var i = lid; i < count * W; i += WG) {
        let ek = cw + i % W;
        var xu = 0.0;
        var xd = 0.0;
        var xg = 0.0;
        if (ek < E) {
          let at = (rowBase + i / W) * E + ek;
          xu = u[at];
          xd = delta[at];
          xg = dy[at];
        }
        s_u[i] = xu;
        s_delta[i] = xd;
        s_dy[i] = xg;
      }
      workgroupBarrier();
      // this lane's steps tt = lane * I + k of the chunk (zeros past its end)
      var x: array<f32, I>;
      var dt: array<f32, I>;
      var g: array<f32, I>;
      // du and dDelta of the lane's steps, summed over the states as they go by
      var sumDu: array<f32, I>;
      var sumDelta: array<f32, I>;
      // (set in full each pass: a declaration's zeros are not to be relied on inside a loop)
      for (var k = 0u; k < I; k++) {
        let tt = lane * I + k;
        var xk = 0.0;
        var dtk = 0.0;
        var gk = 0.0;
        if (tt < count) {
          xk = s_u[tt * W + sg];
          dtk = s_delta[tt * W + sg];
          gk = s_dy[tt * W + sg];
        }
        x[k] = xk;
        dt[k] = dtk;
        g[k] = gk;
        sumDu[k] = 0.0;
        sumDelta[k] = 0.0;
      }
      for (var n = 0u; n < N; n++) {
        var A = 0.0;
        var h0 = 0.0;
        if (live) {
          A = -exp(aLog[e * N + n]);
          if (c > 0u) { h0 = saved[((b * (params.chunks - 1u) + c * (T / SAVED_EVERY) - 1u) * E + e) * N + n]; }
        }
        // each step's decay, and its input b_t (held in h until the states replace it); a = 1, b = 0
        // past the end, so those steps pass the state through
        var a: array<f32, I>;
        var h: array<f32, I>;
        var hPrev: array<f32, I>;
        // the lane's steps composed: h_after = fa h_before + fb
        var fa = 1.0;
        var fb = 0.0;
        for (var k = 0u; k < I; k++) {
          let tt = lane * I + k;
          var ak = 1.0;
          var bk = 0.0;
          if (tt < count) {
            ak = exp(dt[k] * A);
            bk = dt[k] * sB[tt * N + n] * x[k];
          }
          a[k] = ak;
          h[k] = bk;
          fa = ak * fa;
          fb = ak * fb + bk;
        }
        // composed with the lanes below (inclusive), then shifted up a lane (exclusive)
${rounds(lanes, (d) => `        {
          let pa = subgroupShuffleUp(fa, ${d}u);
          let pb = subgroupShuffleUp(fb, ${d}u);
          if (lane >= ${d}u) {
            fb = fa * pb + fb;
            fa = fa * pa;
          }
        }`)}
        var ea = subgroupShuffleUp(fa, 1u);
        var eb = subgroupShuffleUp(fb, 1u);
        if (lane == 0u) {
          ea = 1.0;
          eb = 0.0;
        }
        var hp = ea * h0 + eb;
        for (var k = 0u; k < I; k++) {
          hPrev[k] = hp;
          hp = a[k] * hp + h[k];
          h[k] = hp;
        }
        // backward: r = a_{t+1} dh_{t+1} arrives from the right, dh_t = g_t C_t + r, and a_t dh_t goes left;
        // the lane's steps composed: r_out = ra r_in + rb
        let R = sCarry[slot * N + n];
        var ra = 1.0;
        var rb = 0.0;
        for (var j = 0u; j < I; j++) {
          let k = I - 1u - j;
          let tt = lane * I + k;
          var xg = 0.0;
          if (tt < count) { xg = g[k] * sC[tt * N + n]; }
          rb = a[k] * (xg + rb);
          ra = a[k] * ra;
        }
        // composed with the lanes above (inclusive), then shifted down a lane (exclusive)
${rounds(lanes, (d) => `        {
          let na = subgroupShuffleDown(ra, ${d}u);
          let nb = subgroupShuffleDown(rb, ${d}u);
          if (lane + ${d}u < S) {
            rb = ra * nb + rb;
            ra = ra * na;
          }
        }`)}
        var xa = subgroupShuffleDown(ra, 1u);
        var xb = subgroupShuffleDown(rb, 1u);
        if (lane == S - 1u) {
          xa = 1.0;
          xb = 0.0;
        }
        // lane 0's inclusive map takes R to the gradient handed to the chunk on the left
        let handed = ra * R + rb;
        var r = xa * R + xb;
        var dALog = 0.0;
        for (var j = 0u; j < I; j++) {
          let k = I - 1u - j;
          let tt = lane * I + k;
          var termB = 0.0;
          var termC = 0.0;
          if (tt < count) {
            let bn = sB[tt * N + n];
            let dh = g[k] * sC[tt * N + n] + r;
            // h_t = a h_{t-1} + dt B u with a = exp(dt A): dLoss/d(dt A) = dh_t h_{t-1} a
            let dDecay = dh * hPrev[k] * a[k];
            sumDelta[k] += dDecay * A + dh * bn * x[k];
            dALog += dDecay * dt[k] * A;
            sumDu[k] += dh * dt[k] * bn;
            termB = dh * dt[k] * x[k];
            termC = g[k] * h[k];
            r = a[k] * dh;
          }
          sRed[sg * T + tt] = termB;
          sRed[(W + sg) * T + tt] = termC;
        }
        let dALogSum = subgroupAdd(dALog);
        if (lane == 0u) {
          sCarry[slot * N + n] = handed;
          sDA[slot * N + n] += dALogSum;
        }
        workgroupBarrier();
        // dB and dC of (step, state n): this pass's W channels added to the chunk's sums
        for (var o = lid; o < 2u * count; o += WG) {
          let q = o / count;
          let tt = o % count;
          var s = 0.0;
          for (var w = 0u; w < W; w++) { s += sRed[(q * W + w) * T + tt]; }
          sAcc[(q * N + n) * TP + tt] += s;
        }
        workgroupBarrier();
      }
      // du (with D u's share) and dDelta, out through workgroup memory for coalesced stores
      var D = 0.0;
      if (live) { D = d[e]; }
      var dD = 0.0;
      for (var k = 0u; k < I; k++) {
        let tt = lane * I + k;
        if (tt < count) {
          s_u[tt * W + sg] = sumDu[k] + g[k] * D;
          s_delta[tt * W + sg] = sumDelta[k];
          dD += g[k] * x[k];
        }
      }
      let dDSum = subgroupAdd(dD);
      if (lane == 0u) { sDD[slot] += dDSum; }
      workgroupBarrier();
      for (var i = lid; i < count * W; i += WG) {
        let ek = cw + i % W;
        if (ek < E) {
          let at = (rowBase + i / W) * E + ek;
          du[at] = s_u[i];
          dDelta[at] = s_delta[i];
        }
      }
    }
    workgroupBarrier();
    // the chunk's dB and dC over the workgroup's channels: one partial per group
    for (var i = lid; i < 2u * count * N; i += WG) {
      let q = i / (count * N);
      let j = i % (count * N);
      partialBC[(q * nwg.x + wid.x) * M * N + rowBase * N + j] = sAcc[(q * N + j % N) * TP + j / N];
    }
  }
  workgroupBarrier();
  for (var i = lid; i < CH * N; i += WG) {
    let e = wid.x * CH + i / N;
    if (e < E) { partialAD[(b * E + e) * N + i % N] = sDA[i]; }
  }
  for (var i = lid; i < CH; i += WG) {
    let e = wid.x * CH + i;
    if (e < E) { partialAD[nwg.y * E * N + b * E + e] = sDD[i]; }
  }
}`;
