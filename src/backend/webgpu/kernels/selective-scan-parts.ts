/**
 * WGSL pieces the selective-scan kernels share (selective-scan.ts: sums through workgroup memory;
 * selective-scan-subgroup.ts: the forward pass's sums through subgroup shuffles): the chunk length, the
 * bindings of the forward kernels (and, beside them, of the backward one), the constants, the staging
 * of a chunk's inputs, the state's step, and the kernels' heads up to where the variants sum their own
 * way.
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
 * Lanes of the vector that holds one step's `inputs` inputs of a channel: 2 for u and delta, 4 for three
 * (a vec3f takes 16 bytes in an array anyway; the fourth lane is 0).
 */
const inputLanes = (inputs: number) => (inputs === 2 ? 2 : 4);
const inputVector = (inputs: number) => `vec${inputLanes(inputs)}f`;

/**
 * Stages the chunk's rows of B and C (as `sBC`, one vec2f a step and state) and of the workgroup's
 * channels of the (M, E) inputs named (as `sIn`, one vector a step and channel: u in x, delta in y, dy
 * in z where named) in workgroup memory: one coalesced load per value, all issued together, so the step
 * loop never waits on global memory (loading u and delta step by step left the scan latency-bound).
 * Packed, a step reads all of a channel's inputs in one load and B and C in another, where three and two
 * separate loads would each take their turn on the same load path as the subgroup shuffles.
 */
export const stageChunk = (perChannel: string[]) => /* wgsl */ `
    for (var i = lid; i < count * N; i += WG) {
      sBC[i] = vec2f(bm[rowBase * N + i], cm[rowBase * N + i]);
    }
    for (var i = lid; i < count * CH; i += WG) {
      let ek = wid.x * CH + i % CH;
      if (ek < E) {
        let at = (rowBase + i / CH) * E + ek;
        sIn[i] = ${inputVector(perChannel.length)}(${[...perChannel.map((name) => `${name}[at]`), ...Array(inputLanes(perChannel.length) - perChannel.length).fill('0.0')].join(', ')});
      }
    }`;

/** Workgroup memory (floats) of the staged chunk: B and C, and the `inputs` per-channel inputs packed as `stageChunk` packs them. */
export const stagedFloats = (N: number, ch: number, inputs: number) => 2 * CHUNK * N + inputLanes(inputs) * CHUNK * ch;

/** WGSL declarations of what `stageChunk` fills. */
const stagedArrays = (perChannel: string[]) => /* wgsl */ `
// B (x) and C (y) of the chunk's steps: (CHUNK, N)
var<workgroup> sBC: array<vec2f, CHUNK * N>;
// ${perChannel.join(', ')} of the chunk's steps and the workgroup's channels, packed: (CHUNK, CH)
var<workgroup> sIn: array<${inputVector(perChannel.length)}, CHUNK * CH>;`;

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
 * leaves that step's B and C in `bc`, inside a block of its own.
 */
export const advanceState = (tt: string) => /* wgsl */ `let inputs = sIn[${tt} * CH + c0];
        let bc = sBC[${tt} * N + n];
        h = exp(inputs.y * A) * h + inputs.y * inputs.x * bc.x;`;

/**
 * The forward kernel of both variants up to the chunk's step loop, inside the chunk loop, with the chunk
 * staged and its starting state saved: each variant then walks the steps (`advanceState`), sums each
 * step's terms C_t[n] h_t[n] over n its own way and closes both loops.
 */
export const FORWARD_HEAD = /* wgsl */ `${stagedArrays(['u', 'delta'])}

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
${stageChunk(['u', 'delta'])}
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
export const BACKWARD_STEP_HEAD = /* wgsl */ `${stagedArrays(['u', 'delta', 'dy'])}
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
${stageChunk(['u', 'delta', 'dy'])}
    workgroupBarrier();
    var h0 = 0.0;
    if (c > 0u && live) { h0 = saved[((b * (params.chunks - 1u) + c - 1u) * E + e) * N + n]; }
    var h = h0;
    if (live) {
      for (var tt = 0u; tt < count; tt++) {
        ${advanceState('tt')}
        sH[tt * WG + lid] = h;
      }
    }
    // h_t of the step the walk back is at (the chunk's last, then each step's h_{t-1}): one read a step
    var hT = h;
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
          let inputs = sIn[tt * CH + c0];
          let x = inputs.x;
          let dt = inputs.y;
          let g = inputs.z;
          var hPrev = h0;
          if (tt > 0u) { hPrev = sH[(tt - 1u) * WG + lid]; }
          // the decay again: one exp is cheaper than the workgroup memory to keep it
          let a = exp(dt * A);
          let bc = sBC[tt * N + n];
          let bn = bc.x;
          termC = g * hT;
          let dhn = dh + g * bc.y;
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
          hT = hPrev;
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
