/**
 * The selective scan of Mamba on the GPU (the cpu reference is src/backend/cpu/selective-scan.ts):
 *
 *   h_t = exp(delta_t A) * h_{t-1} + delta_t B_t u_t      h: (N) per (sequence, channel), h_{-1} = 0
 *   y_t = C_t . h_t + D u_t                                A = -exp(A_log)
 *
 * Shapes: u, delta, y: (M, E) with M = batch * length rows, row b*length + t; B, C: (M, N);
 * A_log: (E, N); D: (E).
 *
 * Layout: one thread per (sequence b, channel e, state n), so a thread's whole state is one register
 * and the grid has batch * E * N threads (batch 8 x E 1024 x N 16 = 131k: enough to fill a large GPU
 * even at small batch, where one thread per channel would give 8k). A workgroup holds
 * CH = min(16, 256 / N) channels of one sequence (all N states of each), time is walked in chunks of
 * CHUNK steps:
 * - B_t and C_t of the chunk (read by every channel), and u, delta (and dy) of the workgroup's
 *   channels, are staged once per chunk in workgroup memory;
 * - the per-state terms of the sums over n (C_t[n] h_t[n] for y; the du and dDelta terms) and over
 *   the workgroup's channels (the dB and dC terms) go to workgroup memory and are summed by other
 *   threads in a fixed order: no atomics, same bits run after run. Where the device has subgroups of
 *   one size and N fits them, both passes sum by shuffles instead (selective-scan-subgroup.ts); this
 *   file's kernels serve every other case (N = 3, N = 64 on NVIDIA, N = 16 on lavapipe's subgroups of
 *   8), and `--scan-backward step` still picks the step backward kernel where the subgroup one fits.
 *
 * Memory for the backward pass (`saved`): only the state at the start of every chunk but the first,
 * (batch, chunks - 1, E, N) floats, chunks = ceil(length / CHUNK); never a (batch, length, E, N)
 * tensor. It is allocated a chunk a sequence larger, (batch, chunks, E, N), the last unused: one state
 * per CHUNK tokens at any length, so that steps of the same tokens in rows of other lengths (train
 * --length-buckets) fit one buffer. The backward pass walks chunks from the last: it recomputes the chunk's CHUNK states forward
 * from the saved boundary state into workgroup memory (each thread its own column), then walks the
 * chunk back in time carrying dh in a register. With `saved` null it first reruns the forward kernel
 * to rebuild the boundaries.
 *
 * Loop bounds over time come from the uniform parameters, not constants: a constant trip count makes
 * lavapipe's LLVM unroll the loop bodies (exp included), and a pipeline then takes seconds to build.
 *
 * Reductions over more than one workgroup are two-step: dB and dC as per-(channel group, row)
 * partials, dA_log and dD as per-sequence partials, each summed over its groups by columnSums.
 *
 * selective-scan-time-parallel.ts holds a second backward kernel, parallel in time (lanes over steps,
 * a loop over the states), with the same partials; an override selects it (tools/scan-check.mjs
 * --time-parallel times the two against each other).
 */
import type { SelectiveScanGradients, SelectiveScanInputs } from '../../backend.js';
import { sizeOf } from '../../backend.js';
import { groupsFor, type GpuRuntime, type GpuTensor } from '../runtime.js';
import { columnSums } from './common.js';
import { advanceState, BACKWARD_BINDINGS, BACKWARD_STEP_HEAD, backwardStagedFloats, backwardTail, CHUNK, constants, FORWARD_BINDINGS, FORWARD_HEAD, forwardStagedFloats } from './selective-scan-parts.js';
import { backwardSubgroupCode, backwardSubgroupFloats, forwardSubgroupCode, subgroupScanFits } from './selective-scan-subgroup.js';
import { TIME_SUBGROUPS, timeChunk, timeParallelBackwardCode, timeParallelBytes, timeParallelFits } from './selective-scan-time-parallel.js';

/**
 * Backward steps between two reductions of the dB, dC, du and dDelta terms that the device's workgroup
 * memory holds beside the chunk's states (up to CHUNK; lavapipe's 32 KB allows 2). Each reduction costs
 * two barriers, but each step held costs workgroup memory, so fewer workgroups fit an SM: the kernel
 * takes at most DEFAULT_REDUCE_STEPS of them. On the H200 (tools/scan-check.mjs --reduce 1,2,4,8,16)
 * N >= 16 fits at most 4, and at N = 4, which fits 16, the backward pass took 0.89 ms with 4 steps
 * against 1.30 with 8 and 2.15 with 16.
 */
const DEFAULT_REDUCE_STEPS = 4;
/**
 * The same for the subgroup backward kernel. On the H200 (tools/scan-check.mjs --kernels step,subgroup
 * --reduce 1,2,4, one call) it was fastest with 2 at every N = 16 shape: 1.27 ms against 1.47 with 1
 * and 1.89 with 4 at othello-base 256 x 59 (the step kernel 1.49 with its 4), 1.47 against 1.62 at
 * othello-mamba-9m, 2.64 against 3.06 at chess-base 8 x 1023.
 */
const DEFAULT_SUBGROUP_REDUCE_STEPS = 2;

/** Workgroup memory (floats) of the forward kernel that sums through it: the chunk's B, C, u, delta and per-state terms. */
const forwardFloats = (N: number, ch: number) => forwardStagedFloats(N, ch) + CHUNK * ch * (N + 1);
/** Workgroup memory (floats) of the backward kernel with `steps` between reductions: the chunk's inputs and states, and the terms. */
const backwardFloats = (N: number, ch: number, steps: number) => backwardStagedFloats(N, ch) + CHUNK * ch * N + steps * 2 * (ch * (N + 1) + N * (ch + 1));

/** The most steps between reductions (a power of two up to CHUNK) whose workgroup memory, floats(steps), fits. */
function reduceSteps(maxWorkgroupBytes: number, floats: (steps: number) => number): number {
  let steps = CHUNK;
  while (steps > 1 && floats(steps) > maxWorkgroupBytes / 4) steps /= 2;
  return steps;
}
/**
 * The most states a channel the scan's kernels hold in `limitBytes` of workgroup memory: the forward
 * kernel's chunk with its per-state terms, and the backward kernel's at one step between reductions.
 * Every N up to it fits (the count is where the first one does not).
 */
export function mostScanStates(limitBytes: number): number {
  const floats = limitBytes / 4;
  for (let N = 1; N <= THREADS; N++) {
    const ch = channelsFor(N);
    if (forwardFloats(N, ch) > floats || backwardFloats(N, ch, 1) > floats) return N - 1;
  }
  return THREADS;
}

/** Threads per workgroup (at most): CH channels x N states. */
const THREADS = 256;
/** Channels per workgroup (at most): workgroup memory grows with CHUNK x CH (u, delta, dy of the chunk). */
const MAX_CHANNELS = 16;
const channelsFor = (N: number) => Math.min(MAX_CHANNELS, Math.floor(THREADS / N));

/** True where the subgroup backward kernel runs N states a channel at `ch` channels per workgroup (by default, the default). */
export function subgroupBackwardFits(subgroupSize: number | null, N: number, ch = channelsFor(N)): boolean {
  return subgroupSize !== null && N <= THREADS && subgroupScanFits(N, ch, subgroupSize);
}

/** Sequences per dispatch: one workgroup row each, and WebGPU guarantees 65535 workgroups a dimension. */
export const MAX_SCAN_BATCH = 65535;

interface ScanLayout {
  E: number;
  N: number;
  /** Channels per workgroup. */
  ch: number;
  /** Workgroups along the channels: ceil(E / ch). */
  groups: number;
  chunks: number;
  /** The subgroup size when the subgroup forward kernel serves this N, else null. */
  subgroup: number | null;
}

function layoutOf(rt: GpuRuntime, inputs: SelectiveScanInputs): ScanLayout {
  const [E, N] = inputs.aLog.shape;
  if (N > THREADS) throw new Error(`selective scan: state size ${N} exceeds ${THREADS}`);
  if (inputs.batch > MAX_SCAN_BATCH) throw new Error(`selective scan: batch ${inputs.batch} exceeds ${MAX_SCAN_BATCH} workgroups`);
  const ch = channelsFor(N);
  const sg = rt.gpu.subgroupSize;
  const subgroup = sg && subgroupScanFits(N, ch, sg) ? sg : null;
  return { E, N, ch, groups: Math.ceil(E / ch), chunks: Math.ceil(inputs.length / CHUNK), subgroup };
}

const forwardCode = (N: number, ch: number) => /* wgsl */ `
${FORWARD_BINDINGS}${constants(N, ch)}
// C_t[n] h_t[n] of the chunk: (CHUNK, CH, NP)
var<workgroup> sY: array<f32, CHUNK * CH * NP>;
${FORWARD_HEAD}
    for (var tt = 0u; tt < count; tt++) {
      var term = 0.0;
      if (live) {
        ${advanceState('tt')}
        term = bc.y * h;
      }
      sY[(tt * CH + c0) * NP + n] = term;
    }
    workgroupBarrier();
    if (params.writeY != 0u) {
      // y of (step tt, channel k) = the sum of its N terms in order, + D u
      for (var o = lid; o < count * CH; o += WG) {
        let tt = o / CH;
        let k = o % CH;
        let ek = wid.x * CH + k;
        if (ek < E) {
          var s = 0.0;
          for (var m = 0u; m < N; m++) { s += sY[(tt * CH + k) * NP + m]; }
          let at = (rowBase + tt) * E + ek;
          y[at] = s + d[ek] * sIn[o].x;
        }
      }
    }
  }
}`;

const backwardCode = (N: number, ch: number, reduce: number) => /* wgsl */ `
${BACKWARD_BINDINGS}${constants(N, ch, reduce)}
// The terms of REDUCE steps: du and dDelta as (2, REDUCE, CH, NP) (summed over n), then dB and dC as
// (2, REDUCE, N, CHP) (summed over the channels).
const SUM_N = 2u * REDUCE * CH * NP;
var<workgroup> sRed: array<f32, SUM_N + 2u * REDUCE * N * CHP>;
${BACKWARD_STEP_HEAD}
        sRed[(r * CH + c0) * NP + n] = termDu;
        sRed[((REDUCE + r) * CH + c0) * NP + n] = termDelta;
        sRed[SUM_N + (r * N + n) * CHP + c0] = termB;
        sRed[SUM_N + ((REDUCE + r) * N + n) * CHP + c0] = termC;
      }
${backwardTail(
    // the sums over n of du (q = 0) and dDelta (q = 1)
    'var s = 0.0; for (var m = 0u; m < N; m++) { s += sRed[((q * REDUCE + r) * CH + k) * NP + m]; }',
    // dB (q = 0) and dC (q = 1): this group's sums over its channels
    'var s = 0.0; for (var k = 0u; k < CH; k++) { s += sRed[SUM_N + ((q * REDUCE + r) * N + m) * CHP + k]; }')}`;

/** Runs the forward kernel: y (unless null) and, when `saved` is given, the chunk-boundary states. */
function runForward(rt: GpuRuntime, inputs: SelectiveScanInputs, lay: ScanLayout, y: GpuTensor | null, saved: GpuTensor | null): void {
  const { u, delta, aLog, b, c, d, batch, length } = inputs;
  // Bindings that a run does not write still need a buffer.
  const yOut = y ?? rt.tensor([1]);
  const savedOut = saved ?? rt.tensor([1]);
  const pipeline = lay.subgroup
    ? rt.pipeline(`scanForwardSubgroup:${lay.N}`, () => forwardSubgroupCode(lay.N, lay.ch))
    : rt.pipeline(`scanForward:${lay.N}`, () => forwardCode(lay.N, lay.ch));
  rt.dispatch(pipeline, [u, delta, aLog, b, c, d, yOut, savedOut].map((t) => t as GpuTensor),
    [{ u: length }, { u: lay.E }, { u: lay.chunks }, { u: saved ? 1 : 0 }, { u: y ? 1 : 0 }, { u: CHUNK }], [lay.groups, batch]);
  if (!y) rt.release(yOut);
  if (!saved) rt.release(savedOut);
}

/** y: (M, E) and, for the backward pass, the chunk-boundary states (null when the sequence is one chunk). */
export function selectiveScanForward(rt: GpuRuntime, inputs: SelectiveScanInputs, forBackward: boolean): { y: GpuTensor; saved: GpuTensor | null } {
  const lay = layoutOf(rt, inputs);
  const y = rt.tensor(inputs.u.shape);
  const saved = forBackward && lay.chunks > 1 ? rt.tensor([inputs.batch, lay.chunks, lay.E, lay.N]) : null;
  runForward(rt, inputs, lay, y, saved);
  return { y, saved };
}

/**
 * The backward kernels: step by step with its sums through workgroup memory; the same with its sums
 * through subgroup shuffles (selective-scan-subgroup.ts; the default where N fits the subgroups, the
 * step kernel elsewhere); or parallel in time (selective-scan-time-parallel.ts).
 */
export type ScanBackwardKernel = 'step' | 'subgroup' | 'time-parallel';

/** Kernel choices that tools and benchmarks time against the defaults (tools/scan-check.mjs, bench --scan-backward). */
export interface ScanBackwardOverride {
  /** Backward steps between reductions: any power of two up to what the device's workgroup memory holds. */
  reduce?: number;
  /** Channels per workgroup (a power of two, at most the default): fewer make smaller workgroups. */
  channels?: number;
  /** Another kernel than the default. */
  kernel?: ScanBackwardKernel;
  /** Time-parallel: passes of TIME_SUBGROUPS channels per workgroup (1, 2 or 4; by default the most that fit and leave 1024 workgroups). */
  passes?: number;
}

/** Workgroups that fill the H200 several times over: the time-parallel kernel takes fewer passes below this. */
const TIME_PARALLEL_GROUPS = 1024;

/** What the device offers the backward kernels: its subgroup size (null where it has none fixed) and workgroup memory. */
export interface ScanDeviceFacts {
  subgroupSize: number | null;
  workgroupBytes: number;
}

/** The time-parallel passes that fit the device, the override's alone where it names them. */
function timeParallelPassesThatFit(facts: ScanDeviceFacts, N: number, passes?: number): number[] {
  return (passes === undefined ? [4, 2, 1] : [passes]).filter((p) => timeParallelBytes(N, p) <= facts.workgroupBytes);
}

/**
 * Whether the backward pass sums through subgroups: where the override asks for it, and by default
 * wherever it fits. Inside whole othello-base steps on the H200 (`gamba bench train --profile`, one
 * call, alternated twice) it took 9.12 ms a step against the step kernel's 10.76, and whole steps ran
 * 1.04 to 1.06x as fast (1.03x at chess-base 8 x 1023).
 */
function subgroupBackward(facts: ScanDeviceFacts, N: number, ch: number, kernel: ScanBackwardKernel | undefined): boolean {
  return kernel === 'subgroup' || (kernel === undefined && subgroupBackwardFits(facts.subgroupSize, N, ch));
}

/** The most backward steps between reductions that fit, for the step or the subgroup kernel. */
function mostReduceSteps(facts: ScanDeviceFacts, N: number, ch: number, subgroup: boolean): number {
  const floats = subgroup ? (steps: number) => backwardSubgroupFloats(N, ch, facts.subgroupSize!, steps) : (steps: number) => backwardFloats(N, ch, steps);
  return reduceSteps(facts.workgroupBytes, floats);
}

/**
 * Why the backward kernel that `override` asks for cannot run N states a channel on this device, or
 * null where it can: the kernel checks it before building, and bench --scan-backward refuses with it in
 * one line.
 */
export function backwardOverrideProblem(facts: ScanDeviceFacts, N: number, override: ScanBackwardOverride): string | null {
  if (N > THREADS) return `state size ${N} exceeds ${THREADS}`;
  if (override.kernel === 'time-parallel') {
    const lanes = facts.subgroupSize;
    if (!timeParallelFits(lanes)) return `the time-parallel kernel needs one subgroup size, a power of two up to 64 (this device: ${lanes ?? 'none'})`;
    if (timeChunk(N) % lanes! !== 0) return `the time-parallel kernel walks ${N} states in chunks of ${timeChunk(N)} steps, which ${lanes} lanes do not divide`;
    if (override.passes !== undefined && ![1, 2, 4].includes(override.passes)) return `${override.passes} passes is not 1, 2 or 4`;
    if (timeParallelPassesThatFit(facts, N, override.passes).length === 0) {
      const passes = override.passes ?? 1;
      return `the time-parallel kernel at ${N} states and ${passes} passes needs ${timeParallelBytes(N, passes)} bytes of workgroup memory, more than this device's ${facts.workgroupBytes}`;
    }
    return null;
  }
  const most = channelsFor(N);
  const ch = override.channels ?? most;
  if (override.channels !== undefined && !(Number.isInteger(Math.log2(ch)) && ch <= most)) return `${ch} channels per workgroup is not a power of two up to ${most}`;
  if (override.kernel === 'subgroup' && !subgroupBackwardFits(facts.subgroupSize, N, ch)) {
    return `the subgroup backward kernel needs d_state a power of two up to the subgroup size whose ${ch} channels a workgroup fill whole subgroups (d_state ${N}; this device's subgroups: ${facts.subgroupSize ?? 'no fixed size'})`;
  }
  const steps = mostReduceSteps(facts, N, ch, subgroupBackward(facts, N, ch, override.kernel));
  if (override.reduce !== undefined && !(Number.isInteger(Math.log2(override.reduce)) && override.reduce <= steps)) {
    return `reduce ${override.reduce} is not a power of two up to ${steps}`;
  }
  return null;
}

/** The device facts the backward kernels are chosen by. */
export function scanDeviceFacts(rt: GpuRuntime): ScanDeviceFacts {
  return { subgroupSize: rt.gpu.subgroupSize, workgroupBytes: rt.device.limits.maxComputeWorkgroupStorageSize };
}

/** The backward kernel by default or as an override asks, and its channel groups (the dB and dC partials are per group). */
function backwardPipeline(rt: GpuRuntime, lay: ScanLayout, batch: number, override: ScanBackwardOverride): { pipeline: GPUComputePipeline; groups: number; reduce: number } {
  const { E, N } = lay;
  const facts = scanDeviceFacts(rt);
  const problem = backwardOverrideProblem(facts, N, override);
  if (problem) throw new Error(`selective scan: ${problem}`);
  const sg = facts.subgroupSize;
  if (override.kernel === 'time-parallel') {
    const fitting = timeParallelPassesThatFit(facts, N, override.passes);
    // the most passes that fit and still leave enough workgroups, else the fewest that fit
    const groupsAt = (p: number) => Math.ceil(E / (TIME_SUBGROUPS * p));
    const passes = fitting.find((p) => groupsAt(p) * batch >= TIME_PARALLEL_GROUPS) ?? fitting[fitting.length - 1];
    return { pipeline: rt.pipeline(`scanBackwardTimeParallel:${N}:${sg}:${passes}`, () => timeParallelBackwardCode(N, sg!, passes)), groups: groupsAt(passes), reduce: 0 };
  }
  const ch = override.channels ?? lay.ch;
  const subgroup = subgroupBackward(facts, N, ch, override.kernel);
  const most = mostReduceSteps(facts, N, ch, subgroup);
  const reduce = override.reduce ?? Math.min(most, subgroup ? DEFAULT_SUBGROUP_REDUCE_STEPS : DEFAULT_REDUCE_STEPS);
  const pipeline = subgroup
    ? rt.pipeline(`scanBackwardSubgroup:${N}:${reduce}:${ch}`, () => backwardSubgroupCode(N, ch, sg!, reduce))
    : rt.pipeline(`scanBackward:${N}:${reduce}:${ch}`, () => backwardCode(N, ch, reduce));
  return { pipeline, groups: Math.ceil(E / ch), reduce };
}

/**
 * Gradients of the scan's inputs; writes dALog: (E, N) and dD: (E). `saved` null: the boundaries are
 * recomputed. An override's `reduce` replaces the default steps between reductions: fewer hold less
 * workgroup memory, so more workgroups fit an SM, at two barriers a reduction; its `channels` the
 * channels per workgroup (the sums of dB and dC then add other groups, so their last bits move); its
 * `kernel` the time-parallel kernel.
 */
export function selectiveScanBackward(
  rt: GpuRuntime, inputs: SelectiveScanInputs, saved: GpuTensor | null, dy: GpuTensor, dALog: GpuTensor, dD: GpuTensor, override: ScanBackwardOverride = {},
): SelectiveScanGradients {
  const lay = layoutOf(rt, inputs);
  const { E, N } = lay;
  const { pipeline, groups, reduce } = backwardPipeline(rt, lay, inputs.batch, override);
  const { batch } = inputs;
  const M = sizeOf(inputs.u.shape) / E;
  let boundaries = saved;
  if (!boundaries && lay.chunks > 1) {
    boundaries = rt.tensor([batch, lay.chunks - 1, E, N]);
    runForward(rt, inputs, lay, null, boundaries);
  }
  const savedIn = boundaries ?? rt.tensor([1]);
  const du = rt.tensor(inputs.u.shape);
  const dDelta = rt.tensor(inputs.delta.shape);
  const dB = rt.tensor(inputs.b.shape);
  const dC = rt.tensor(inputs.c.shape);
  const partialBytes = 4 * 2 * groups * M * N;
  if (partialBytes > rt.device.limits.maxStorageBufferBindingSize) {
    throw new Error(`selective scan: the dB and dC partials of ${groups} channel groups (${partialBytes} bytes) exceed one storage binding`);
  }
  const partialBC = rt.tensor([2, groups, M, N]);
  const partialAD = rt.tensor([batch * (E * N + E)]);
  const { u, delta, aLog, b, c, d } = inputs;
  rt.dispatch(pipeline, [...[u, delta, aLog, b, c, d].map((t) => t as GpuTensor), dy, savedIn, du, dDelta, partialBC, partialAD],
    [{ u: inputs.length }, { u: E }, { u: lay.chunks }, { u: M }, { u: CHUNK }, { u: reduce }], [groups, batch]);
  columnSums(rt, partialBC, groups, M * N, dB);
  columnSums(rt, partialBC, groups, M * N, dC, false, groups * M * N);
  columnSums(rt, partialAD, batch, E * N, dALog);
  columnSums(rt, partialAD, batch, E, dD, false, batch * E * N);
  for (const t of [partialBC, partialAD]) rt.release(t);
  if (boundaries !== saved || !boundaries) rt.release(savedIn);
  return { du, dDelta, dB, dC };
}

const STEP = /* wgsl */ `
struct Params { batch: u32, channels: u32, stateSize: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// h: (B, E, N), updated in place
@group(0) @binding(1) var<storage, read_write> h: array<f32>;
// u, delta, y: (B, E)
@group(0) @binding(2) var<storage, read> u: array<f32>;
@group(0) @binding(3) var<storage, read> delta: array<f32>;
// aLog: (E, N)
@group(0) @binding(4) var<storage, read> aLog: array<f32>;
// bm, cm: (B, N)
@group(0) @binding(5) var<storage, read> bm: array<f32>;
@group(0) @binding(6) var<storage, read> cm: array<f32>;
@group(0) @binding(7) var<storage, read> d: array<f32>;
@group(0) @binding(8) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let E = params.channels;
  let N = params.stateSize;
  for (var i = gid.x; i < params.batch * E; i += groups.x * 256u) {
    let b = i / E;
    let e = i % E;
    let dt = delta[i];
    let x = u[i];
    var acc = 0.0;
    for (var n = 0u; n < N; n++) {
      let A = -exp(aLog[e * N + n]);
      let hn = exp(dt * A) * h[i * N + n] + dt * x * bm[b * N + n];
      h[i * N + n] = hn;
      acc += cm[b * N + n] * hn;
    }
    y[i] = acc + d[e] * x;
  }
}`;

/** One token: h: (B, E, N) updated in place; u, delta: (B, E); b, c: (B, N) -> y: (B, E). */
export function selectiveScanStep(rt: GpuRuntime, h: GpuTensor, u: GpuTensor, delta: GpuTensor, aLog: GpuTensor, b: GpuTensor, c: GpuTensor, d: GpuTensor): GpuTensor {
  const [E, N] = aLog.shape;
  const B = u.size / E;
  const y = rt.tensor(u.shape);
  rt.dispatch(rt.pipeline('scanStep', STEP), [h, u, delta, aLog, b, c, d, y], [{ u: B }, { u: E }, { u: N }], groupsFor(B * E));
  return y;
}
