/**
 * The optimizer's kernels on the GPU (the cpu reference is src/backend/cpu/adamw.ts and the clip of
 * src/backend/cpu/cpu-backend.ts):
 *
 *   adamwUpdate   g = grad * gradScale; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 *                 p -= lr (m / (1 - b1^t) / (sqrt(v) / sqrt(1 - b2^t) + eps) + wd p)      one fused pass
 *   sumOfSquares  sum(t^2) as a 1-element tensor
 *   clipScale     [scale, norm], norm = sqrt(sum of the squares) / S, scale = min(1, clip / norm) / S (1 / S if
 *                 clip = 0) for gradients that carry a loss scale S; scale 0 when the sum is not finite,
 *                 and adamwUpdate then skips the step
 *
 * gradScale may be element 0 of a tensor from clipScale: the kernel reads it there, so a clipped step
 * needs no readback. The bias corrections are computed on the host in float64 (they depend on the
 * step count only). Sums run in a fixed order (tree reductions, fixed workgroup counts): same bits
 * every run.
 */
import type { AdamWHyper } from '../../backend.js';
import { groupsFor, type GpuRuntime, type GpuTensor } from '../runtime.js';

const adamwCode = (scaleFromTensor: boolean) => /* wgsl */ `
struct Params { n: u32, lr: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32, biasCorrection1: f32, biasCorrection2Sqrt: f32, gradScale: f32, decayEnd: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// param, grad, m, v: (n)
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
${scaleFromTensor ? '// scale: [scale, norm] from clipScale\n@group(0) @binding(5) var<storage, read> scale: array<f32>;' : ''}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let gradScale = ${scaleFromTensor ? 'scale[0]' : 'params.gradScale'};
  // 0: clipScale saw a non-finite gradient (a float16 overflow); the step is skipped
  if (gradScale == 0.0) { return; }
  let b1 = params.beta1;
  let b2 = params.beta2;
  for (var i = gid.x; i < params.n; i += groups.x * 256u) {
    let g = grad[i] * gradScale;
    let mi = b1 * m[i] + (1.0 - b1) * g;
    let vi = b2 * v[i] + (1.0 - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    let p = param[i];
    // a packed tensor holds the decayed parameters first
    let weightDecay = select(0.0, params.weightDecay, i < params.decayEnd);
    param[i] = p - params.lr * (mi / params.biasCorrection1 / (sqrt(vi) / params.biasCorrection2Sqrt + params.eps) + weightDecay * p);
  }
}`;

/** One AdamW step, in place on param, m and v (one parameter, or a packed tensor of all of them). */
export function adamwUpdate(rt: GpuRuntime, param: GpuTensor, grad: GpuTensor, m: GpuTensor, v: GpuTensor, hyper: AdamWHyper): void {
  const n = param.size;
  if (grad.size !== n || m.size !== n || v.size !== n) throw new Error(`adamwUpdate: param [${param.shape.join(', ')}], grad [${grad.shape.join(', ')}], m, v of other sizes`);
  const fromTensor = typeof hyper.gradScale !== 'number';
  const params = [
    { u: n }, { f: hyper.lr }, { f: hyper.beta1 }, { f: hyper.beta2 }, { f: hyper.eps }, { f: hyper.weightDecay },
    { f: 1 - Math.pow(hyper.beta1, hyper.step) }, { f: Math.sqrt(1 - Math.pow(hyper.beta2, hyper.step)) },
    { f: typeof hyper.gradScale === 'number' ? hyper.gradScale : 0 }, { u: Math.min(n, hyper.decayEnd ?? n) },
  ];
  const tensors = [param, grad, m, v, ...(fromTensor ? [hyper.gradScale as GpuTensor] : [])];
  rt.dispatch(rt.pipeline(`adamw:${fromTensor}`, () => adamwCode(fromTensor)), tensors, params, groupsFor(n));
}

/** Threads of a sum-of-squares workgroup. */
const WG = 256;
/** Tensors up to this size are summed by one workgroup; larger ones by PARTS first. */
const ONE_PASS = 8192;
/** Elements per workgroup of the first pass (so ~16 per thread). */
const PER_PART = 4096;
/** Most workgroups of the first pass (the second pass sums their partials). */
const MAX_PARTS = 1024;

// x: (n) -> out: (workgroups); out[w] = sum over the grid-stride slice of workgroup w of x^2 (or x)
const sumCode = (square: boolean) => /* wgsl */ `
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
var<workgroup> red: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  var s = 0.0;
  for (var i = wid.x * ${WG}u + lid; i < params.n; i += groups.x * ${WG}u) {
    let e = x[i];
    s += ${square ? 'e * e' : 'e'};
  }
  red[lid] = s;
  workgroupBarrier();
  for (var k = ${WG / 2}u; k > 0u; k >>= 1u) {
    if (lid < k) { red[lid] += red[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[wid.x] = red[0]; }
}`;

/** sum(t^2) as a 1-element tensor. */
export function sumOfSquares(rt: GpuRuntime, t: GpuTensor): GpuTensor {
  const out = rt.tensor([1]);
  const squares = rt.pipeline('sumOfSquares', () => sumCode(true));
  if (t.size <= ONE_PASS) {
    rt.dispatch(squares, [t, out], [{ u: t.size }], [1]);
    return out;
  }
  const parts = Math.min(MAX_PARTS, Math.ceil(t.size / PER_PART));
  const partial = rt.tensor([parts]);
  rt.dispatch(squares, [t, partial], [{ u: t.size }], [parts]);
  rt.dispatch(rt.pipeline('sum', () => sumCode(false)), [partial, out], [{ u: parts }], [1]);
  rt.release(partial);
  return out;
}

// Adds `count` 1-element tensors to the running sum in out[1] (in order), and on the last group
// turns the sum into [scale, norm].
const clipCode = (count: number) => /* wgsl */ `
struct Params { first: u32, last: u32, clip: f32, invLossScale: f32 }
@group(0) @binding(0) var<uniform> params: Params;
// out: [scale, norm]; out[1] holds the running sum between groups
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${Array.from({ length: count }, (_, k) => `@group(0) @binding(${k + 2}) var<storage, read> square${k}: array<f32>;`).join('\n')}
@compute @workgroup_size(1)
fn main() {
  var s = select(out[1], 0.0, params.first != 0u);
  ${Array.from({ length: count }, (_, k) => `s += square${k}[0];`).join(' ')}
  if (params.last != 0u) {
    // the gradients carry the loss scale S (a power of two): dividing it out changes no bit but the exponent
    let norm = sqrt(s) * params.invLossScale;
    out[1] = norm;
    let finite = (bitcast<u32>(s) & 0x7f800000u) != 0x7f800000u;
    out[0] = select(0.0, select(1.0, params.clip / norm, params.clip > 0.0 && norm > params.clip) * params.invLossScale, finite);
  } else {
    out[1] = s;
  }
}`;

/** [scale, norm] from the per-tensor sums of squares (1-element tensors). */
export function clipScale(rt: GpuRuntime, squares: readonly GpuTensor[], clip: number, lossScale: number): GpuTensor {
  const out = rt.tensor([2]);
  // as many squares per dispatch as the stage's storage-buffer limit allows beside `out`
  const perGroup = Math.max(1, Math.min(15, rt.device.limits.maxStorageBuffersPerShaderStage - 1));
  const groups = Math.max(1, Math.ceil(squares.length / perGroup));
  for (let k = 0; k < groups; k++) {
    const group = squares.slice(k * perGroup, (k + 1) * perGroup);
    rt.dispatch(rt.pipeline(`clipScale:${group.length}`, () => clipCode(group.length)), [out, ...group],
      [{ u: k === 0 ? 1 : 0 }, { u: k === groups - 1 ? 1 : 0 }, { f: clip }, { f: 1 / lossScale }], [1]);
  }
  return out;
}
