/**
 * WGSL pieces the selective-scan kernels share (selective-scan.ts: sums through workgroup memory;
 * selective-scan-subgroup.ts: the forward pass's sums through subgroup shuffles): the chunk length, the
 * bindings of the forward kernels (and, beside them, of the backward one), the constants, and the
 * staging of a chunk's inputs.
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
 * Stages the chunk's rows of (M, N) matrices and of the workgroup's channels of (M, E) ones in
 * workgroup memory: one coalesced load per value, all issued together, so the step loop never waits
 * on global memory (loading u and delta step by step left the scan latency-bound).
 */
export const stageChunk = (perChannel: string[]) => `
    for (var i = lid; i < count * N; i += WG) {
      sB[i] = bm[rowBase * N + i];
      sC[i] = cm[rowBase * N + i];
    }
    for (var i = lid; i < count * CH; i += WG) {
      let ek = wid.x * CH + i % CH;
      if (ek < E) {
        let at = (rowBase + i / CH) * E + ek;
${perChannel.map((name) => `        s_${name}[i] = ${name}[at];`).join('\n')}
      }
    }`;


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
 * The forward kernel of both variants up to each step's term C_t[n] h_t[n], in `term`, inside the chunk
 * loop and the step loop: each variant then sums the terms over n its own way and closes both loops.
 */
export const FORWARD_STEP_HEAD = /* wgsl */ `
var<workgroup> sB: array<f32, CHUNK * N>;
var<workgroup> sC: array<f32, CHUNK * N>;
// u and delta of the chunk and the workgroup's channels: (CHUNK, CH)
var<workgroup> s_u: array<f32, CHUNK * CH>;
var<workgroup> s_delta: array<f32, CHUNK * CH>;

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
    if (params.saving != 0u && c > 0u && live) { saved[((b * (params.chunks - 1u) + c - 1u) * E + e) * N + n] = h; }
    for (var tt = 0u; tt < count; tt++) {
      var term = 0.0;
      if (live) {
        let dt = s_delta[tt * CH + c0];
        h = exp(dt * A) * h + dt * s_u[tt * CH + c0] * sB[tt * N + n];
        term = sC[tt * N + n] * h;
      }`;
