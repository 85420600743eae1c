/**
 * WGSL pieces the selective-scan kernels share (selective-scan.ts: sums through workgroup memory;
 * selective-scan-subgroup.ts: the forward pass's sums through subgroup shuffles): the chunk length, the
 * bindings of the forward kernels (and, beside them, of the backward one), the constants, the staging
 * of a chunk's inputs (one layout for the forward kernels, one for the backward), the forward kernels'
 * state step, and the kernels' heads up to where the variants sum their own way.
 */

/** Time steps per chunk: `saved` holds one state per chunk boundary (length / CHUNK of them). */
export const CHUNK = 16;

/** Bindings 1 to 6, the scan's inputs, the same in every kernel. */
const INPUT_BINDINGS = /* wgsl */ `
// u, delta: (M, E)
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read> delta: array<f32>;
// aLog: (E, N)
@group(0) @binding(3) var<storage, read> aLog: array<f32>;
// bm, cm: (M, N)
@group(0) @binding(4) var<storage, read> bm: array<f32>;
@group(0) @binding(5) var<storage, read> cm: array<f32>;
// d: (E)
@group(0) @binding(6) var<storage, read> d: array<f32>;`;

export const FORWARD_BINDINGS = /* wgsl */ `
struct Params { length: u32, channels: u32, chunks: u32, saving: u32, writeY: u32, chunk: u32 }
@group(0) @binding(0) var<uniform> params: Params;${INPUT_BINDINGS}
// y: (M, E)
@group(0) @binding(7) var<storage, read_write> y: array<f32>;
// saved: (batch, chunks - 1, E, N), the state at the start of chunks 1 .. chunks - 1
@group(0) @binding(8) var<storage, read_write> saved: array<f32>;
`;

export const BACKWARD_BINDINGS = /* wgsl */ `
struct Params { length: u32, channels: u32, chunks: u32, rows: u32, chunk: u32, reduce: u32 }
@group(0) @binding(0) var<uniform> params: Params;${INPUT_BINDINGS}
// dy: (M, E)
@group(0) @binding(7) var<storage, read> dy: array<f32>;
// saved: (batch, chunks - 1, E, N) from the forward kernel
@group(0) @binding(8) var<storage, read> saved: array<f32>;
// du, dDelta: (M, E)
@group(0) @binding(9) var<storage, read_write> du: array<f32>;
@group(0) @binding(10) var<storage, read_write> dDelta: array<f32>;
// partialBC: (2, groups, M, N): per channel group, its sums of dB, then those of dC
@group(0) @binding(11) var<storage, read_write> partialBC: array<f32>;
// partialAD: per sequence its dA_log, (batch, E, N), then per sequence its dD, (batch, E)
@group(0) @binding(12) var<storage, read_write> partialAD: array<f32>;
`;

/** WGSL constants shared by the kernels: N, CH, the workgroup size and the padded strides of the sums. */
export const constants = (N: number, ch: number, reduce = 1) => `
const N = ${N}u;
const CH = ${ch}u;
const WG = ${ch * N}u;
const CHUNK = ${CHUNK}u;
const REDUCE = ${reduce}u;
// Sums over n read rows of N + 1 (padding spreads the threads of one read over the memory banks).
const NP = ${N + 1}u;
const CHP = ${ch + 1}u;`;

/**
 * Stages a chunk's inputs in workgroup memory: one coalesced load per value, all issued together, so the
 * step loop never waits on global memory (loading u and delta step by step left the scan latency-bound).
 * `storeBC` are the statements that store element i of the chunk's rows of B and C (`bm` and `cm` at
 * `rowBase * N + i`); `storeInputs` those that store a step's inputs of one of the workgroup's channels,
 * read at `at`.
 */
const stageChunk = (storeBC: string[], storeInputs: string[]) => /* wgsl */ `
    for (var i = lid; i < count * N; i += WG) {
${storeBC.map((line) => `      ${line}`).join('\n')}
    }
    for (var i = lid; i < count * CH; i += WG) {
      let ek = wid.x * CH + i % CH;
      if (ek < E) {
        let at = (rowBase + i / CH) * E + ek;
${storeInputs.map((line) => `        ${line}`).join('\n')}
      }
    }`;

/**
 * The forward kernels' staging: B and C as `sBC` (one vec2f a step and state), u and delta as `sIn` (one
 * vec2f a step and channel). Packed, a step reads a channel's inputs in one load and B and C in another,
 * where two and two separate loads would each take their turn on the same load path as the subgroup
 * shuffles.
 */
const stageForwardChunk = stageChunk(['sBC[i] = vec2f(bm[rowBase * N + i], cm[rowBase * N + i]);'], ['sIn[i] = vec2f(u[at], delta[at]);']);

/** Workgroup memory (floats) of what the forward kernels stage: B, C, u and delta. */
export const forwardStagedFloats = (N: number, ch: number) => 2 * CHUNK * N + 2 * CHUNK * ch;

/**
 * The backward kernels' staging: B, C, u, delta and dy one array each (`sB`, `sC`, `s_u`, `s_delta`,
 * `s_dy`). Staged packed as the forward kernels stage, and with h_t carried in a register through the
 * walk back, the backward subgroup kernel took 1.7 times as long on an H200 (othello-base 256 x 59:
 * 15.28 ms a step against 9.09; chess-base 8 x 1023: 33.10 against 19.98), so the backward kernels keep
 * this layout.
 */
const stageBackwardChunk = stageChunk(
  ['sB[i] = bm[rowBase * N + i];', 'sC[i] = cm[rowBase * N + i];'],
  ['s_u[i] = u[at];', 's_delta[i] = delta[at];', 's_dy[i] = dy[at];'],
);

/** Workgroup memory (floats) of what the backward kernels stage: B, C, u, delta and dy. */
export const backwardStagedFloats = (N: number, ch: number) => 2 * CHUNK * N + 3 * CHUNK * ch;

/** WGSL: the thread's sequence b, channel e (live when e < E, the channel count) and state n. */
export const THREAD_COORDINATES = /* wgsl */ `
  let E = params.channels;
  let L = params.length;
  let c0 = lid / N;
  let n = lid % N;
  let e = wid.x * CH + c0;
  let b = wid.y;
  let live = e < E;`;

/**
 * WGSL: advances the thread's state `h` by step `tt` of the chunk (h = exp(delta A) h + delta B u) and
 * leaves that step's B and C in `bc`, inside a block of its own. It reads the forward kernels' packed
 * staging; the backward head takes the same step from its own arrays.
 */
export const advanceState = (tt: string) => /* wgsl */ `let inputs = sIn[${tt} * CH + c0];
        let bc = sBC[${tt} * N + n];
        h = exp(inputs.y * A) * h + inputs.y * inputs.x * bc.x;`;

/**
 * The forward kernel of both variants up to the chunk's step loop, inside the chunk loop, with the chunk
 * staged and its starting state saved: each variant then walks the steps (`advanceState`), sums each
 * step's terms C_t[n] h_t[n] over n its own way and closes both loops.
 */
export const FORWARD_HEAD = /* wgsl */ `
// B (x) and C (y) of the chunk's steps: (CHUNK, N)
var<workgroup> sBC: array<vec2f, CHUNK * N>;
// u (x) and delta (y) of the chunk's steps and the workgroup's channels: (CHUNK, CH)
var<workgroup> sIn: array<vec2f, CHUNK * CH>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {${THREAD_COORDINATES}
  var A = 0.0;
  if (live) { A = -exp(aLog[e * N + n]); }
  var h = 0.0;
  for (var c = 0u; c < params.chunks; c++) {
    let t0 = c * CHUNK;
    let count = min(params.chunk, L - t0);
    let rowBase = b * L + t0;
    // the previous chunk's readers of the workgroup arrays are done
    workgroupBarrier();
${stageForwardChunk}
    workgroupBarrier();
    if (params.saving != 0u && c > 0u && live) { saved[((b * (params.chunks - 1u) + c - 1u) * E + e) * N + n] = h; }`;

/**
 * The backward kernels of both variants up to one step's four terms (termDu and termDelta, to be summed
 * over n; termB and termC, over the channels), inside the chunk loop (from the last), the loop over
 * blocks of REDUCE steps and the step loop: each variant then sums the terms its own way, closes the
 * step loop, and ends with backwardTail. A step past the chunk's end, or a dead
 * channel, has zero terms. The chunk's states are recomputed from its saved start into sH (each thread
 * its own column), then the chunk is walked back in time with dLoss/dh_t in a register.
 */
export const BACKWARD_STEP_HEAD = /* wgsl */ `
var<workgroup> sB: array<f32, CHUNK * N>;
var<workgroup> sC: array<f32, CHUNK * N>;
// u, delta and dy of the chunk and the workgroup's channels: (CHUNK, CH)
var<workgroup> s_u: array<f32, CHUNK * CH>;
var<workgroup> s_delta: array<f32, CHUNK * CH>;
var<workgroup> s_dy: array<f32, CHUNK * CH>;
// h_t of the chunk, recomputed: (CHUNK, WG), each thread its own column
var<workgroup> sH: array<f32, CHUNK * WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {${THREAD_COORDINATES}
  let M = params.rows;
  var A = 0.0;
  var D = 0.0;
  if (live) {
    A = -exp(aLog[e * N + n]);
    D = d[e];
  }
  // dLoss/dh_t carried back in time; the per-(b, e, n) sums of dA_log and (lane n = 0) of dD
  var dh = 0.0;
  var dALog = 0.0;
  var dD = 0.0;
  for (var ci = 0u; ci < params.chunks; ci++) {
    let c = params.chunks - 1u - ci;
    let t0 = c * CHUNK;
    let count = min(params.chunk, L - t0);
    let rowBase = b * L + t0;
    workgroupBarrier();
${stageBackwardChunk}
    workgroupBarrier();
    var h0 = 0.0;
    if (c > 0u && live) { h0 = saved[((b * (params.chunks - 1u) + c - 1u) * E + e) * N + n]; }
    var h = h0;
    if (live) {
      for (var tt = 0u; tt < count; tt++) {
        let dt = s_delta[tt * CH + c0];
        h = exp(dt * A) * h + dt * s_u[tt * CH + c0] * sB[tt * N + n];
        sH[tt * WG + lid] = h;
      }
    }
    let blocks = (count + params.reduce - 1u) / params.reduce;
    for (var bi = 0u; bi < blocks; bi++) {
      let blk = blocks - 1u - bi;
      for (var ri = 0u; ri < params.reduce; ri++) {
        let r = params.reduce - 1u - ri;
        let tt = blk * REDUCE + r;
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
          // the decay again: one exp is cheaper than the workgroup memory to keep it
          let a = exp(dt * A);
          let bn = sB[tt * N + n];
          termC = g * sH[tt * WG + lid];
          let dhn = dh + g * sC[tt * N + n];
          // h_t = a h_{t-1} + dt B u with a = exp(dt A): dLoss/d(dt A) = dh_t h_{t-1} a
          let dDecay = dhn * hPrev * a;
          termDelta = dDecay * A + dhn * bn * x;
          // dA/dA_log = A
          dALog += dDecay * dt * A;
          termB = dhn * dt * x;
          termDu = dhn * dt * bn;
          if (n == 0u) {
            termDu += g * D;
            dD += g * x;
          }
          dh = dhn * a;
        }
`;

/**
 * Closes the step loop's block of REDUCE steps: after a barrier, writes du and dDelta of each (step,
 * channel) and this workgroup's dB and dC partials of each (step, state), their sums given as WGSL that
 * sets `s` (for du and dDelta from q: 0 du, 1 dDelta, step r and channel k; for dB and dC from q, r and
 * state m); then closes the chunk loop and the kernel with each thread's dA_log and (lane n = 0) dD
 * partials.
 */
export const backwardTail = (sumOverStates: string, sumOverChannels: string) => /* wgsl */ `
      workgroupBarrier();
      for (var o = lid; o < 2u * REDUCE * (CH + N); o += WG) {
        if (o < 2u * REDUCE * CH) {
          let q = o / (REDUCE * CH);
          let r = (o / CH) % REDUCE;
          let k = o % CH;
          let tt = blk * REDUCE + r;
          let ek = wid.x * CH + k;
          if (tt < count && ek < E) {
            ${sumOverStates}
            let at = (rowBase + tt) * E + ek;
            if (q == 0u) { du[at] = s; } else { dDelta[at] = s; }
          }
        } else {
          let o2 = o - 2u * REDUCE * CH;
          let q = o2 / (REDUCE * N);
          let r = (o2 / N) % REDUCE;
          let m = o2 % N;
          let tt = blk * REDUCE + r;
          if (tt < count) {
            ${sumOverChannels}
            partialBC[(q * nwg.x + wid.x) * M * N + (rowBase + tt) * N + m] = s;
          }
        }
      }
      workgroupBarrier();
    }
  }
  if (live) {
    partialAD[(b * E + e) * N + n] = dALog;
    if (n == 0u) { partialAD[nwg.y * E * N + b * E + e] = dD; }
  }
}`;
