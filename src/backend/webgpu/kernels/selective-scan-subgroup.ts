/**
 * The selective scan's kernels with their sums done by subgroup shuffles instead of workgroup memory
 * (the layout, the chunks and the saved boundary states are selective-scan.ts's; this file only holds
 * the WGSL). A channel's N states are N neighbouring lanes of one subgroup, so:
 * - the sums over n (y in the forward pass, du and dDelta in the backward) are an xor butterfly over
 *   those N lanes, with no barrier, instead of N terms written to workgroup memory and summed by a
 *   thread after a barrier;
 * - the sums over the workgroup's channels (dB, dC) are a butterfly over the subgroup's channels and
 *   then one sum over the subgroups, once per FLUSH steps, instead of every few steps.
 * The backward pass then has 3 barriers a chunk where the workgroup-memory kernel has 2 + 2 x
 * CHUNK / REDUCE (10 on the H200). Sums run in a fixed order (both lanes of a butterfly pair add the
 * same two numbers), so the bits are the same run after run; they differ from the cpu's order by
 * rounding only.
 *
 * Needs N a power of two no larger than the subgroup, and whole subgroups in a workgroup
 * (`subgroupScanFits`); lanes are invocations lid % SG of subgroup lid / SG, as on NVIDIA and lavapipe.
 */
import { BACKWARD_BINDINGS, CHUNK, constants, FORWARD_BINDINGS, stageChunk } from './selective-scan-parts.js';

/** True when N states a channel and ch channels a workgroup map onto whole subgroups of `sg` lanes. */
export function subgroupScanFits(N: number, ch: number, sg: number): boolean {
  const pow2 = (x: number) => x > 0 && (x & (x - 1)) === 0;
  return pow2(N) && pow2(sg) && N <= sg && (ch * N) % sg === 0;
}

/** `v += shuffleXor(v, o)` for each offset o: a butterfly sum over the lanes those offsets span. */
const butterfly = (names: string[], offsets: number[]) =>
  offsets.flatMap((o) => names.map((v) => `${v} += subgroupShuffleXor(${v}, ${o}u);`)).join('\n        ');

/** Offsets N/2, ..., 1: the sum over a channel's N lanes. */
const overStates = (N: number) => Array.from({ length: Math.log2(N) }, (_, i) => N >> (i + 1));
/** Offsets N, 2N, ..., sg/2: the sum over the channels of one subgroup. */
const overChannels = (N: number, sg: number) => Array.from({ length: Math.log2(sg / N) }, (_, i) => N << i);

export const forwardSubgroupCode = (N: number, ch: number, sg: number) => /* wgsl */ `
enable subgroups;
${FORWARD_BINDINGS}
${constants(N, ch)}
var<workgroup> sB: array<f32, CHUNK * N>;
var<workgroup> sC: array<f32, CHUNK * N>;
var<workgroup> s_u: array<f32, CHUNK * CH>;
var<workgroup> s_delta: array<f32, CHUNK * CH>;
// C_t . h_t of the chunk's steps and the workgroup's channels: (CHUNK, CH)
var<workgroup> sY: array<f32, CHUNK * CH>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let E = params.channels;
  let L = params.length;
  let c0 = lid / N;
  let n = lid % N;
  let e = wid.x * CH + c0;
  let b = wid.y;
  let live = e < E;
  var A = 0.0;
  if (live) { A = -exp(aLog[e * N + n]); }
  var h = 0.0;
  for (var c = 0u; c < params.chunks; c++) {
    let t0 = c * CHUNK;
    let count = min(params.chunk, L - t0);
    let rowBase = b * L + t0;
    workgroupBarrier();
${stageChunk(['u', 'delta'])}
    workgroupBarrier();
    if (params.saving != 0u && c > 0u && live) { saved[((b * (params.chunks - 1u) + c - 1u) * E + e) * N + n] = h; }
    for (var tt = 0u; tt < count; tt++) {
      var term = 0.0;
      if (live) {
        let dt = s_delta[tt * CH + c0];
        h = exp(dt * A) * h + dt * s_u[tt * CH + c0] * sB[tt * N + n];
        term = sC[tt * N + n] * h;
      }
      // every lane runs the shuffles (dead channels add zeros): they need the whole subgroup
      ${butterfly(['term'], overStates(N))}
      if (n == 0u) { sY[tt * CH + c0] = term; }
    }
    workgroupBarrier();
    if (params.writeY != 0u) {
      for (var o = lid; o < count * CH; o += WG) {
        let ek = wid.x * CH + o % CH;
        if (ek < E) { y[(rowBase + o / CH) * E + ek] = sY[o] + d[ek] * s_u[o]; }
      }
    }
  }
}`;

/** Backward steps between two sums of the dB and dC terms over the subgroups: as many as fit (<= CHUNK). */
export function subgroupFlushSteps(maxWorkgroupBytes: number, N: number, ch: number, sg: number): number {
  const floats = maxWorkgroupBytes / 4;
  const fixed = 2 * CHUNK * N + 5 * CHUNK * ch + CHUNK * ch * N;
  let steps = CHUNK;
  while (steps > 1 && fixed + 2 * steps * ((ch * N) / sg) * N > floats) steps /= 2;
  return steps;
}

export const backwardSubgroupCode = (N: number, ch: number, sg: number, flush: number) => /* wgsl */ `
enable subgroups;
${BACKWARD_BINDINGS}
${constants(N, ch)}
const SG = ${sg}u;
// subgroups per workgroup
const SGS = ${(ch * N) / sg}u;
const FLUSH = ${flush}u;
var<workgroup> sB: array<f32, CHUNK * N>;
var<workgroup> sC: array<f32, CHUNK * N>;
var<workgroup> s_u: array<f32, CHUNK * CH>;
var<workgroup> s_delta: array<f32, CHUNK * CH>;
var<workgroup> s_dy: array<f32, CHUNK * CH>;
// du and dDelta of the chunk: (CHUNK, CH) each
var<workgroup> sDu: array<f32, CHUNK * CH>;
var<workgroup> sDd: array<f32, CHUNK * CH>;
// dB and dC terms of FLUSH steps, each summed over one subgroup's channels: (2, FLUSH, SGS, N)
var<workgroup> sBC: array<f32, 2u * FLUSH * SGS * N>;
// h_t of the chunk, recomputed: (CHUNK, WG), each thread its own column
var<workgroup> sH: array<f32, CHUNK * WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let E = params.channels;
  let L = params.length;
  let M = params.rows;
  let c0 = lid / N;
  let n = lid % N;
  let e = wid.x * CH + c0;
  let b = wid.y;
  let live = e < E;
  let sgi = lid / SG;
  let lane = lid % SG;
  var A = 0.0;
  var D = 0.0;
  if (live) {
    A = -exp(aLog[e * N + n]);
    D = d[e];
  }
  var dh = 0.0;
  var dALog = 0.0;
  var dD = 0.0;
  for (var ci = 0u; ci < params.chunks; ci++) {
    let c = params.chunks - 1u - ci;
    let t0 = c * CHUNK;
    let count = min(params.chunk, L - t0);
    let rowBase = b * L + t0;
    workgroupBarrier();
${stageChunk(['u', 'delta', 'dy'])}
    workgroupBarrier();
    var h0 = 0.0;
    if (c > 0u && live) { h0 = saved[((b * (params.chunks - 1u) + c - 1u) * E + e) * N + n]; }
    if (live) {
      var h = h0;
      for (var tt = 0u; tt < count; tt++) {
        let dt = s_delta[tt * CH + c0];
        h = exp(dt * A) * h + dt * s_u[tt * CH + c0] * sB[tt * N + n];
        sH[tt * WG + lid] = h;
      }
    }
    let blocks = (count + FLUSH - 1u) / FLUSH;
    for (var bi = 0u; bi < blocks; bi++) {
      let blk = blocks - 1u - bi;
      for (var ri = 0u; ri < FLUSH; ri++) {
        let r = FLUSH - 1u - ri;
        let tt = blk * FLUSH + r;
        var termDu = 0.0;
        var termDelta = 0.0;
        var termB = 0.0;
        var termC = 0.0;
        if (tt < count && live) {
          let g = s_dy[tt * CH + c0];
          let dt = s_delta[tt * CH + c0];
          let x = s_u[tt * CH + c0];
          var hPrev = h0;
          if (tt > 0u) { hPrev = sH[(tt - 1u) * WG + lid]; }
          let a = exp(dt * A);
          let bn = sB[tt * N + n];
          termC = g * sH[tt * WG + lid];
          let dhn = dh + g * sC[tt * N + n];
          // h_t = a h_{t-1} + dt B u with a = exp(dt A): dLoss/d(dt A) = dh_t h_{t-1} a
          let dDecay = dhn * hPrev * a;
          termDelta = dDecay * A + dhn * bn * x;
          dALog += dDecay * dt * A;
          termB = dhn * dt * x;
          termDu = dhn * dt * bn;
          if (n == 0u) {
            termDu += g * D;
            dD += g * x;
          }
          dh = dhn * a;
        }
        // every lane runs the shuffles (dead steps and channels add zeros): they need the whole subgroup
        ${butterfly(['termDu', 'termDelta'], overStates(N))}
        ${butterfly(['termB', 'termC'], overChannels(N, sg))}
        if (n == 0u && tt < count) {
          sDu[tt * CH + c0] = termDu;
          sDd[tt * CH + c0] = termDelta;
        }
        if (lane < N) {
          sBC[(r * SGS + sgi) * N + n] = termB;
          sBC[((FLUSH + r) * SGS + sgi) * N + n] = termC;
        }
      }
      workgroupBarrier();
      // dB (q = 0) or dC (q = 1) of (step r, state m): this group's sum over its subgroups, in order
      for (var o = lid; o < 2u * FLUSH * N; o += WG) {
        let q = o / (FLUSH * N);
        let r = (o / N) % FLUSH;
        let m = o % N;
        let tt = blk * FLUSH + r;
        if (tt < count) {
          var s = 0.0;
          for (var k = 0u; k < SGS; k++) { s += sBC[((q * FLUSH + r) * SGS + k) * N + m]; }
          partialBC[(q * nwg.x + wid.x) * M * N + (rowBase + tt) * N + m] = s;
        }
      }
      workgroupBarrier();
    }
    for (var o = lid; o < count * CH; o += WG) {
      let ek = wid.x * CH + o % CH;
      if (ek < E) {
        let at = (rowBase + o / CH) * E + ek;
        du[at] = sDu[o];
        dDelta[at] = sDd[o];
      }
    }
  }
  if (live) {
    partialAD[(b * E + e) * N + n] = dALog;
    if (n == 0u) { partialAD[nwg.y * E * N + b * E + e] = dD; }
  }
}`;
