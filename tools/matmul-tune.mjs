#!/usr/bin/env node
// Times the tensor-core matmul kernel's plans (tile, subgroups per workgroup, fragments per subgroup,
// K per staged slice, K splits) on every product of one training step of a preset, checks each plan's
// result against a float64 reference on sampled entries, and reports per product the default plan and
// the fastest one, and the step's matmul time under each. GPU time comes from timestamps around each
// dispatch (the split-K column sums included), so launch gaps do not count; the result goes to one
// buffer throughout, as a training step's pooled buffers do. Needs f16 subgroup
// matrices (the H200); build first (npx tsc).
//
//   node tools/matmul-tune.mjs [--preset othello-base] [--batch 256] [--seq 59] [--reps 10]
//                              [--plans 128x128:4x2:2x4:32,...] [--splits] [--anatomy] [--half] [--json]
//
// A plan is BMxBN:SGRxSGC:FRxFC:BK (tile, subgroups down x across, fragments per subgroup down x
// across, K per slice). Without --plans a fixed list of candidates runs; with --splits each split-K
// product also runs at half and twice the default splits. A plan whose staged slices exceed the
// device's workgroup memory, or whose result is off by more than --tolerance, is reported and skipped.
// --anatomy also times the kernel of the plan training takes with stages left out (its own dispatches
// only, not the split-K sums): its operand reads all of one cached element, then nothing staged
// into workgroup memory either, which leaves the fragment loads and multiplies. --half times that plan
// with both operands stored in f16 (cast once, untimed) against the f32 operands training stages now:
// what writing them in f16 would buy.
import { productArgs, productError, productOperands, stepProducts } from './step-products.mjs';

const { args, batch, seq, reps, tolerance } = productArgs(10, {
  plans: { type: 'string' },
  splits: { type: 'boolean', default: false },
  anatomy: { type: 'boolean', default: false },
  half: { type: 'boolean', default: false },
});
const dist = new URL('../dist/src/', import.meta.url);
const load = (path) => import(new URL(path, dist).href);
const { openGpu } = await load('backend/webgpu/device.js');
const { WebGpuBackend } = await load('backend/webgpu/webgpu-backend.js');
const { defaultSplits, matmul, tensorCorePlanFor } = await load('backend/webgpu/kernels/matmul.js');
const { checkPlan, tensorCoreWorkgroupBytes } = await load('backend/webgpu/kernels/matmul-tensor-core.js');
const { Rng } = await load('util/rng.js');
const { GpuTensor, groupsFor } = await load('backend/webgpu/runtime.js');

const log = (line) => process.stderr.write(line + '\n');
const { gpu, reason } = await openGpu({ allowSoftware: true });
if (!gpu?.subgroupMatrix) {
  log(`matmul-tune: ${gpu ? `${gpu.adapterInfo.device || gpu.adapterInfo.description} has no f16 subgroup matrices` : reason}: nothing to tune`);
  process.exit(1);
}
const be = new WebGpuBackend(gpu, 'mixed');
const rt = be.rt;
log(`adapter: ${be.adapterName}; subgroup size ${gpu.subgroupMatrix.subgroupSize}`);

const parsePlan = (text) => {
  const m = /^(\d+)x(\d+):(\d+)x(\d+):(\d+)x(\d+):(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`--plans: "${text}" is not BMxBN:SGRxSGC:FRxFC:BK`);
  const [bm, bn, sgr, sgc, fr, fc, bk] = m.slice(1).map(Number);
  return checkPlan({ bm, bn, sgr, sgc, fr, fc, bk });
};
const CANDIDATES = [
  '64x64:2x2:2x2:32', '64x64:1x1:4x4:32', '64x64:2x1:2x4:32', '64x64:2x2:2x2:64',
  '128x64:4x2:2x2:32', '128x64:2x2:4x2:32', '128x64:2x1:4x4:32', '128x64:2x2:4x2:64',
  '64x128:2x2:2x4:32', '64x128:1x2:4x4:32', '64x128:2x4:2x2:32',
  '128x128:4x2:2x4:32', '128x128:2x2:4x4:32', '128x128:4x4:2x2:32', '128x128:2x4:4x2:32', '128x128:2x2:4x4:64',
  '256x128:4x2:4x4:32', '128x256:2x4:4x4:32',
  '128x32:4x1:2x2:32', '64x32:2x1:2x2:32', '64x32:1x1:4x2:64', '256x16:8x1:2x1:32', '128x16:4x1:2x1:32', '64x16:2x1:2x1:64',
];
const plans = (args.plans ? args.plans.split(',') : CANDIDATES).map(parsePlan);
const label = (p) => `${p.bm}x${p.bn}:${p.sgr}x${p.sgc}:${p.fr}x${p.fc}:${p.bk}`;
const limit = gpu.device.limits.maxComputeWorkgroupStorageSize;

/**
 * GPU milliseconds of one product (all its dispatches), the mean of `reps` runs. Untimed runs go first
 * for at least 50 ms, the last of them queued right before the timed ones: a GPU that idled while the
 * host compiled and checked the plan runs its first kernels at a fraction of its clock.
 */
async function gpuMs(run, only = () => true) {
  const warm = performance.now();
  do {
    for (let r = 0; r < reps; r++) run();
    await rt.sync();
  } while (performance.now() - warm < 50);
  for (let r = 0; r < reps; r++) run();
  rt.startProfile();
  for (let r = 0; r < reps; r++) run();
  const totals = await rt.stopProfile();
  let ms = 0;
  for (const [kernel, t] of totals) if (only(kernel)) ms += t.ms;
  return ms / reps;
}

const CAST = `
enable f16;
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f16>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < params.n; i += groups.x * 256u) { y[i] = f16(x[i]); }
}`;
/** An f16 copy of t: a buffer of half the bytes, under t's shape (matmul's halfOperands reads it so). */
function halfCopy(t) {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const store = rt.tensor([Math.ceil(n / 2)]);
  rt.dispatch(rt.pipeline('castF16', CAST), [t, store], [{ u: n }], groupsFor(n));
  return { store, half: new GpuTensor(t.shape, 'f32', store.buffer, store.size, store.offset, true) };
}

const rng = new Rng(11);
const products = await stepProducts(new WebGpuBackend(gpu, 'f32'), args.preset, batch, seq);
const rows = [];
for (const s of products) {
  const { M, N, K, transA, transB } = s;
  const name = `${M}x${N}x${K} ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}${s.accumulate ? ' +=' : ''}`;
  const operands = productOperands(s, rng);
  const a = be.upload(operands.A, transA ? [K, M] : [M, K]);
  const b = be.upload(operands.B, transB ? [N, K] : [K, N]);
  const c = be.upload(operands.C0, [M, N]);
  const flops = 2 * M * N * K;
  /** The float64 check of a product written into (or, accumulating, added to) a copy of C. */
  const errorOf = async (product) => {
    const check = be.upload(operands.C0, [M, N]);
    product(check);
    const error = productError(s, operands, new Float32Array(await be.download(check)), rng);
    be.dispose(check);
    return error;
  };
  // Every variant: the default, each plan that fits, and with --splits each at other split counts.
  const variants = [{ what: 'default', override: undefined }];
  for (const plan of plans) {
    if (tensorCoreWorkgroupBytes(plan, transA, transB) > limit) continue;
    if (plan.bm > 2 * Math.max(M, 16) || plan.bn > 2 * Math.max(N, 16)) continue;
    variants.push({ what: label(plan), override: { plan } });
    if (args.splits) {
      const base = defaultSplits(plan, M, N, K);
      for (const splits of new Set([Math.max(1, base >> 1), base * 2].filter((x) => x !== base && K / x >= 64))) {
        variants.push({ what: `${label(plan)}/${splits}`, override: { plan, splits } });
      }
    }
  }
  // Checked once; timed in two rounds, the second in reverse order, keeping the faster time of each,
  // so that no variant's place in the order (right after the host's checks, say) decides its time.
  const timed = new Map();
  for (const round of [0, 1]) {
    for (const { what, override } of round === 0 ? variants : [...variants].reverse()) {
      const product = (into) => matmul(rt, a, b, transA, transB, into, s.accumulate, 'mixed', override);
      if (round === 0) {
        const error = await errorOf(product);
        if (!(error <= tolerance)) {
          log(`  ${name}: ${what} is off by ${error.toExponential(1)}: skipped`);
          continue;
        }
        timed.set(what, { plan: what, ms: Infinity, error });
      }
      const entry = timed.get(what);
      if (!entry) continue;
      entry.ms = Math.min(entry.ms, await gpuMs(() => product(c)));
    }
  }
  const results = [...timed.values()].map((r) => ({ ...r, tflops: flops / (r.ms * 1e-3) / 1e12 }));
  // the plan and splits training takes, which --anatomy and --half take apart
  const { plan, splits } = tensorCorePlanFor(M, N, K);
  let anatomy;
  if (args.anatomy) {
    anatomy = { plan: label(plan), splits };
    for (const part of ['full', 'cached-loads', 'no-staging']) {
      const run = () => matmul(rt, a, b, transA, transB, c, false, 'mixed', { plan, splits, anatomy: part });
      anatomy[part] = await gpuMs(run, (kernel) => kernel.startsWith('matmulTensorCore'));
    }
    log(`  ${label(plan)}/${splits} kernel alone: ${anatomy.full.toFixed(3)} ms; reading one cached element ${anatomy['cached-loads'].toFixed(3)}; nothing staged ${anatomy['no-staging'].toFixed(3)}`);
  }
  let half;
  if (args.half) {
    const ha = halfCopy(a);
    const hb = halfCopy(b);
    const error = await errorOf((into) => matmul(rt, ha.half, hb.half, transA, transB, into, s.accumulate, 'mixed', { plan, splits, halfOperands: true }));
    half = { plan: label(plan), splits, error };
    for (const [what, x, y, halfOperands] of [['f32', a, b, false], ['f16', ha.half, hb.half, true], ['f32', a, b, false], ['f16', ha.half, hb.half, true]]) {
      const ms = await gpuMs(() => matmul(rt, x, y, transA, transB, c, s.accumulate, 'mixed', { plan, splits, halfOperands }));
      half[what] = Math.min(half[what] ?? Infinity, ms);
    }
    for (const t of [ha.store, hb.store]) be.dispose(t);
    log(`  ${label(plan)}/${splits}: f32 operands ${half.f32.toFixed(3)} ms, f16 operands ${half.f16.toFixed(3)} ms (error ${error.toExponential(1)})`);
  }
  for (const t of [a, b, c]) be.dispose(t);
  results.sort((x, y) => x.ms - y.ms);
  const standard = results.find((r) => r.plan === 'default');
  const best = results[0];
  rows.push({ M, N, K, transA, transB, accumulate: s.accumulate, perStep: s.count, defaultMs: standard.ms, best: best.plan, bestMs: best.ms, top: results.slice(0, 5), anatomy, half });
  log(`${name.padEnd(24)} x${String(s.count).padEnd(3)} default ${standard.ms.toFixed(3)} ms (${standard.tflops.toFixed(1)} TFLOP/s)  best ${best.plan} ${best.ms.toFixed(3)} ms (${best.tflops.toFixed(1)})`);
}
const stepMs = (key) => rows.reduce((t, r) => t + r.perStep * r[key], 0);
const summary = { adapter: be.adapterName, preset: args.preset, batch, seq, defaultStepMs: stepMs('defaultMs'), bestStepMs: stepMs('bestMs') };
if (args.half) Object.assign(summary, { f32OperandStepMs: rows.reduce((t, r) => t + r.perStep * r.half.f32, 0), f16OperandStepMs: rows.reduce((t, r) => t + r.perStep * r.half.f16, 0) });
log(`one step's matmuls: default plans ${summary.defaultStepMs.toFixed(2)} ms, fastest plans ${summary.bestStepMs.toFixed(2)} ms` +
  (args.half ? `; the default plans with f32 operands ${summary.f32OperandStepMs.toFixed(2)} ms, with f16 operands ${summary.f16OperandStepMs.toFixed(2)} ms` : ''));
if (args.json) process.stdout.write(JSON.stringify({ ...summary, rows }) + '\n');
