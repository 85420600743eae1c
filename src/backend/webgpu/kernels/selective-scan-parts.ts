/**
 * WGSL pieces the selective-scan kernels share (selective-scan.ts: sums through workgroup memory;
 * selective-scan-subgroup.ts: the forward pass's sums through subgroup shuffles): the chunk length, the
 * bindings of the forward kernels (and, beside them, of the backward one), the constants, and the
 * staging of a chunk's inputs.
 */

/** Time steps per chunk: `saved` holds one state per chunk boundary (length / CHUNK of them). */
export const CHUNK = 16;

export const FORWARD_BINDINGS = /* wgsl */ `
struct Params { length: u32, channels: u32, chunks: u32, saving: u32, writeY: u32, chunk: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// u, delta: (M, E)
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read> delta: array<f32>;
// aLog: (E, N)
@group(0) @binding(3) var<storage, read> aLog: array<f32>;
// bm, cm: (M, N)
@group(0) @binding(4) var<storage, read> bm: array<f32>;
@group(0) @binding(5) var<storage, read> cm: array<f32>;
// d: (E)
@group(0) @binding(6) var<storage, read> d: array<f32>;
// y: (M, E)
@group(0) @binding(7) var<storage, read_write> y: array<f32>;
// saved: (batch, chunks - 1, E, N), the state at the start of chunks 1 .. chunks - 1
@group(0) @binding(8) var<storage, read_write> saved: array<f32>;
`;

export const BACKWARD_BINDINGS = /* wgsl */ `
struct Params { length: u32, channels: u32, chunks: u32, rows: u32, chunk: u32, reduce: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// u, delta, dy: (M, E)
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read> delta: array<f32>;
// aLog: (E, N)
@group(0) @binding(3) var<storage, read> aLog: array<f32>;
// bm, cm: (M, N)
@group(0) @binding(4) var<storage, read> bm: array<f32>;
@group(0) @binding(5) var<storage, read> cm: array<f32>;
// d: (E)
@group(0) @binding(6) var<storage, read> d: array<f32>;
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

