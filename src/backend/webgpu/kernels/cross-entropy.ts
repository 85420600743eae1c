/**
 * Fused softmax + cross-entropy on the GPU (the cpu reference is src/backend/cpu/cross-entropy.ts):
 *
 *   loss      = mean over the rows with target != -1 of (logsumexp(logits[m]) - logits[m, target[m]])
 *   dLogits[m] = gradScale (softmax(logits[m]) - onehot(target[m])) / count, 0 for ignored rows
 *   logits: (M, V), targets: (M) int
 *
 * Three dispatches, no readback (the loss stays a 1-element tensor until the trainer reads it):
 *   1. count the rows with a target (one workgroup, fixed-order tree), as dLogits needs 1 / count;
 *   2. one workgroup of WG threads per row: max, sum of exponentials (shared-memory trees), the row's
 *      loss and its dLogits row (a thread per row where there are at most SMALL_VOCAB columns);
 *   3. one workgroup sums the row losses in a fixed order and divides by the count (0 when none).
 * A target outside 0..V-1 that is not -1 (the cpu backend throws) makes the row's loss NaN.
 */
import { groupsFor, type GpuRuntime, type GpuTensor } from '../runtime.js';

/** Threads per row (game vocabularies are 30 to 70 tokens: one or two columns per thread). */
const WG = 64;
/** Threads of the single-workgroup count and sum. */
const REDUCE = 256;


const COUNT = /* wgsl */ `
struct Params { rows: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// targets: (M)
@group(0) @binding(1) var<storage, read> targets: array<i32>;
// stats: (1), the count
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
var<workgroup> red: array<u32, ${REDUCE}>;
@compute @workgroup_size(${REDUCE})
fn main(@builtin(local_invocation_index) lid: u32) {
  var n = 0u;
  for (var m = lid; m < params.rows; m += ${REDUCE}u) { n += select(1u, 0u, targets[m] == -1); }
  red[lid] = n;
  workgroupBarrier();
  for (var s = ${REDUCE / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { stats[0] = f32(red[0]); }
}`;

/** The bindings of both row kernels. */
const rowsBindings = (withGradient: boolean) => /* wgsl */ `
struct Params { rows: u32, vocab: u32, gradScale: f32 }
@group(0) @binding(0) var<uniform> params: Params;
// logits: (M, V)
@group(0) @binding(1) var<storage, read> logits: array<f32>;
// targets: (M)
@group(0) @binding(2) var<storage, read> targets: array<i32>;
// stats: (1), the count
@group(0) @binding(3) var<storage, read> stats: array<f32>;
// rowLoss: (M), 0 for ignored rows
@group(0) @binding(4) var<storage, read_write> rowLoss: array<f32>;
${withGradient ? '// dLogits: (M, V)\n@group(0) @binding(5) var<storage, read_write> dLogits: array<f32>;' : ''}
// The loss of a row of max mx and sum of exponentials sum: 0 for an ignored row, NaN for a bad target.
fn writeRowLoss(row: u32, t: i32, V: u32, mx: f32, sum: f32) {
  if (t >= 0 && u32(t) < V) { rowLoss[row] = mx + log(sum) - logits[row * V + u32(t)]; }
  else if (t == -1) { rowLoss[row] = 0.0; }
  else {
    // a NaN (through a var: WGSL rejects NaN as a constant expression)
    var nanBits = 0x7fc00000u;
    rowLoss[row] = bitcast<f32>(nanBits);
  }
}`;

const rowsCode = (withGradient: boolean) => /* wgsl */ `
${rowsBindings(withGradient)}
const WG = ${WG}u;
var<workgroup> red: array<f32, WG>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let V = params.vocab;
  ${withGradient ? '// the loss scale times 1 / count (a power of two: the same bits but the exponent)\n  let invCount = params.gradScale * (1.0 / max(stats[0], 1.0));' : '_ = stats[0];'}
  for (var row = wid.x; row < params.rows; row += groups.x) {
    let o = row * V;
    let t = targets[row];
    var mx = -0x1.fffffep+127f;
    for (var c = lid; c < V; c += WG) { mx = max(mx, logits[o + c]); }
    red[lid] = mx;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
      workgroupBarrier();
    }
    mx = red[0];
    workgroupBarrier();
    var sum = 0.0;
    for (var c = lid; c < V; c += WG) { sum += exp(logits[o + c] - mx); }
    red[lid] = sum;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      if (lid < s) { red[lid] += red[lid + s]; }
      workgroupBarrier();
    }
    sum = red[0];
    workgroupBarrier();
    let valid = t >= 0 && u32(t) < V;
    if (lid == 0u) { writeRowLoss(row, t, V, mx, sum); }
    ${withGradient ? `let scale = select(0.0, invCount / sum, valid);
    for (var c = lid; c < V; c += WG) {
      let p = exp(logits[o + c] - mx) * scale;
      dLogits[o + c] = select(p, p - invCount, valid && c == u32(t));
    }` : ''}
  }
}`;

/**
 * Rows of a few classes (a probe's per-square softmax: 2 to 13) get a thread each: a workgroup per row
 * would leave most of its threads idle and pay its barriers for every row.
 */
const SMALL_VOCAB = 16;

const smallRowsCode = (withGradient: boolean) => /* wgsl */ `
${rowsBindings(withGradient)}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let V = params.vocab;
  ${withGradient ? '// the loss scale times 1 / count (a power of two: the same bits but the exponent)\n  let invCount = params.gradScale * (1.0 / max(stats[0], 1.0));' : '_ = stats[0];'}
  for (var row = gid.x; row < params.rows; row += groups.x * 256u) {
    let o = row * V;
    let t = targets[row];
    var mx = -0x1.fffffep+127f;
    for (var c = 0u; c < V; c++) { mx = max(mx, logits[o + c]); }
    var sum = 0.0;
    for (var c = 0u; c < V; c++) { sum += exp(logits[o + c] - mx); }
    let valid = t >= 0 && u32(t) < V;
    writeRowLoss(row, t, V, mx, sum);
    ${withGradient ? `let scale = select(0.0, invCount / sum, valid);
    for (var c = 0u; c < V; c++) {
      let p = exp(logits[o + c] - mx) * scale;
      dLogits[o + c] = select(p, p - invCount, valid && c == u32(t));
    }` : ''}
  }
}`;

const SUM = /* wgsl */ `
struct Params { rows: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// rowLoss: (M)
@group(0) @binding(1) var<storage, read> rowLoss: array<f32>;
// stats: (1), the count
@group(0) @binding(2) var<storage, read> stats: array<f32>;
// loss: (1)
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
var<workgroup> red: array<f32, ${REDUCE}>;
@compute @workgroup_size(${REDUCE})
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var m = lid; m < params.rows; m += ${REDUCE}u) { s += rowLoss[m]; }
  red[lid] = s;
  workgroupBarrier();
  for (var k = ${REDUCE / 2}u; k > 0u; k >>= 1u) {
    if (lid < k) { red[lid] += red[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) { loss[0] = select(red[0] / stats[0], 0.0, stats[0] == 0.0); }
}`;

/** logits: (M, V), targets: (M) int -> the mean loss (1) and, with withGradient, dLogits: (M, V). */
export function crossEntropy(rt: GpuRuntime, logits: GpuTensor, targets: GpuTensor, withGradient: boolean, gradScale: number): { loss: GpuTensor; dLogits: GpuTensor | null } {
  if (targets.dtype !== 'i32') throw new Error('crossEntropy: targets must be an int tensor');
  const V = logits.shape[logits.shape.length - 1];
  const M = targets.size;
  if (logits.size !== M * V) throw new Error(`crossEntropy: logits [${logits.shape.join(', ')}] against ${M} targets`);
  const stats = rt.tensor([1]);
  const rowLoss = rt.tensor([M]);
  const loss = rt.tensor([1]);
  const dLogits = withGradient ? rt.tensor(logits.shape) : null;
  rt.dispatch(rt.pipeline('crossEntropyCount', COUNT), [targets, stats], [{ u: M }], [1]);
  const tensors = [logits, targets, stats, rowLoss, ...(dLogits ? [dLogits] : [])];
  if (V <= SMALL_VOCAB) {
    rt.dispatch(rt.pipeline(`crossEntropySmallRows:${withGradient}`, () => smallRowsCode(withGradient)), tensors, [{ u: M }, { u: V }, { f: gradScale }], groupsFor(M));
  } else {
    rt.dispatch(rt.pipeline(`crossEntropyRows:${withGradient}`, () => rowsCode(withGradient)), tensors, [{ u: M }, { u: V }, { f: gradScale }], [Math.max(1, Math.min(M, 65535))]);
  }
  rt.dispatch(rt.pipeline('crossEntropySum', SUM), [rowLoss, stats, loss], [{ u: M }], [1]);
  rt.release(stats);
  rt.release(rowLoss);
  return { loss, dLogits };
}
