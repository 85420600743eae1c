#!/usr/bin/env node
// Checks and times the webgpu backend's selective scan (forward and backward) against the cpu backend's
// reference kernels at the shapes of real models, on whatever adapter this machine has: on the H200 it
// covers the subgroup kernels at N = 16 and 32 (lavapipe's subgroups of 8 run them only for N <= 8 in
// `npm test`) and the workgroup-memory kernels at N = 64. Tolerances are those of
// test/backend/webgpu/selective-scan.test.ts. Build first (npx tsc).
//
//   node tools/scan-check.mjs [--reps 20] [--kernels step,subgroup] [--reduce 1,2,4,8,16] [--channels 4,8] [--time-parallel] [--passes 1,2,4] [--json]
//
// --kernels also checks and times each of those backward kernels alone (step: sums through workgroup
// memory; subgroup, the default where d_state fits the subgroups: through shuffles); --reduce each
// kernel (or the default) with each of those steps between its reductions (the kernel picks at most 4
// of what fits the device's workgroup memory, the subgroup one 2; fewer hold less of it); --channels
// with each of those channels per workgroup (16 by default at N <= 16: fewer make smaller workgroups
// that wait on fewer threads at each barrier); --time-parallel with the kernel that is parallel in time
// (selective-scan-time-parallel.ts), --passes with it at each of those passes.
//
// Exit 0 when every output of every shape is within tolerance.
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '20' }, kernels: { type: 'string' }, reduce: { type: 'string' }, channels: { type: 'string' },
    'time-parallel': { type: 'boolean', default: false }, passes: { type: 'string' }, json: { type: 'boolean', default: false },
  },
});
const list = (text) => (text ? text.split(',').map(Number) : []);
// The backward kernel's variants to check and time beside the default: each --kernels at each --reduce,
// each --channels, the time-parallel kernel at its default passes and at each --passes.
const kernels = args.kernels ? args.kernels.split(',') : [];
const variants = [
  ...(kernels.length ? kernels : [undefined]).flatMap((kernel) => [...(kernel ? [{ kernel }] : []), ...list(args.reduce).map((reduce) => ({ kernel, reduce }))]),
  ...list(args.channels).map((channels) => ({ channels })),
  ...(args['time-parallel'] ? [{ kernel: 'time-parallel' }] : []),
  ...list(args.passes).map((passes) => ({ kernel: 'time-parallel', passes })),
];
const dist = new URL('../dist/src/', import.meta.url);
const load = (path) => import(new URL(path, dist).href);
const { openGpu } = await load('backend/webgpu/device.js');
const { WebGpuBackend } = await load('backend/webgpu/webgpu-backend.js');
const { CpuBackend } = await load('backend/cpu/cpu-backend.js');
const { selectiveScanBackward } = await load('backend/webgpu/kernels/selective-scan.js');
const { Rng } = await load('util/rng.js');

const { gpu, reason } = await openGpu({ allowSoftware: true });
if (!gpu) throw new Error(`no GPU: ${reason}`);
const be = new WebGpuBackend(gpu, 'f32');
const cpu = new CpuBackend({ kernels: 'reference' });
const log = (line) => process.stderr.write(line + '\n');
log(`adapter: ${be.adapterName}; subgroup size: ${gpu.subgroupSize ?? 'none'}`);

// The timed shapes are the models' (othello-base and chess-base layers); the checked ones are cut in
// batch so the cpu reference stays quick, with the same E, N and length.
const shapes = [
  { name: 'othello-base', batch: 256, checkBatch: 8, length: 59, E: 512, N: 16 },
  { name: 'othello-mamba-9m', batch: 256, checkBatch: 8, length: 59, E: 576, N: 16 },
  { name: 'chess-base', batch: 8, checkBatch: 1, length: 1023, E: 2048, N: 16 },
  { name: 'd_state 32', batch: 256, checkBatch: 4, length: 59, E: 512, N: 32 },
  { name: 'd_state 64', batch: 256, checkBatch: 4, length: 59, E: 512, N: 64 },
  { name: 'd_state 4', batch: 256, checkBatch: 8, length: 59, E: 512, N: 4 },
];

function data(rng, { batch, length, E, N }) {
  const M = batch * length;
  const uniform = (n) => Float32Array.from({ length: n }, () => rng.nextFloat() * 2 - 1);
  const delta = Float32Array.from({ length: M * E }, () => 0.001 + 0.099 * rng.nextFloat());
  const aLog = Float32Array.from({ length: E * N }, (_, i) => Math.log((i % N) + 1));
  return { u: uniform(M * E), delta, aLog, b: uniform(M * N), c: uniform(M * N), d: uniform(E), dy: uniform(M * E) };
}

function upload(b, x, { batch, length, E, N }) {
  const M = batch * length;
  return {
    inputs: {
      u: b.upload(x.u, [M, E]), delta: b.upload(x.delta, [M, E]), aLog: b.upload(x.aLog, [E, N]),
      b: b.upload(x.b, [M, N]), c: b.upload(x.c, [M, N]), d: b.upload(x.d, [E]), batch, length,
    },
    dy: b.upload(x.dy, [M, E]),
  };
}

/** y, du, dDelta, dB, dC, dALog, dD as tensors (the webgpu backward with a kernel variant, if given). */
function forwardBackward(b, { inputs, dy }, { E, N }, variant) {
  const { y, saved } = b.selectiveScanForward(inputs, true);
  const dALog = b.zeros([E, N]);
  const dD = b.zeros([E]);
  const g = variant === undefined ? b.selectiveScanBackward(inputs, saved, dy, dALog, dD) : selectiveScanBackward(b.rt, inputs, saved, dy, dALog, dD, variant);
  if (saved) b.dispose(saved);
  return [y, g.du, g.dDelta, g.dB, g.dC, dALog, dD];
}

function ratio(actual, expected, atol, rtol) {
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const r = Math.abs(actual[i] - expected[i]) / (atol + rtol * Math.abs(expected[i]));
    if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : Math.max(worst, r);
  }
  return worst;
}

const NAMES = ['y', 'du', 'dDelta', 'dB', 'dC', 'dALog', 'dD'];
const results = [];
let ok = true;
/** Checks and times one shape; returns its result (ok is updated as it goes). */
async function checkShape(shape) {
  const check = { ...shape, batch: shape.checkBatch };
  const x = data(new Rng(shape.N * 1000 + shape.length), check);
  const want = await Promise.all(forwardBackward(cpu, upload(cpu, x, check), check).map((t) => cpu.download(t)));
  const got = await Promise.all(forwardBackward(be, upload(be, x, check), check).map((t) => be.download(t)));
  const M = check.batch * check.length;
  const atol = [1e-6, 1e-6, 1e-5, 1e-6 * Math.sqrt(check.E), 1e-6 * Math.sqrt(check.E), 1e-6 * Math.sqrt(M), 1e-6 * Math.sqrt(M)];
  const rtol = [1e-5, 1e-5, 1e-4, 1e-5, 1e-5, 1e-5, 1e-5];
  const ratios = Object.fromEntries(NAMES.map((name, i) => [name, ratio(got[i], want[i], atol[i], rtol[i])]));
  const worst = Math.max(...Object.values(ratios));
  ok &&= worst <= 1;

  // Timing at the model's batch: forward + backward, reps times, one readback at the end.
  const full = upload(be, data(new Rng(1), shape), shape);
  await be.download(forwardBackward(be, full, shape)[0]);
  const t0 = performance.now();
  let last = [];
  for (let r = 0; r < Number(args.reps); r++) {
    for (const t of last) be.dispose(t);
    last = forwardBackward(be, full, shape);
  }
  await be.download(last[6]);
  const ms = (performance.now() - t0) / Number(args.reps);
  const kernels = be.rt.pipelineKeys().filter((k) => k.startsWith('scan'));
  log(`${shape.name} (batch ${shape.batch} x ${shape.length}, E ${shape.E}, N ${shape.N}): worst ${worst.toFixed(3)} of tolerance, ${ms.toFixed(3)} ms forward + backward`);
  // The backward kernel alone, default and each variant, from one forward pass's saved states.
  const byVariant = [];
  for (const variant of [{}, ...variants]) {
    const what = [variant.kernel ?? 'default', variant.reduce && `${variant.reduce} steps between reductions`,
      variant.channels && `${variant.channels} channels a workgroup`, variant.passes && `${variant.passes} passes`].filter(Boolean).join(', ');
    // A variant that does not fit this shape (workgroup memory, one binding) is reported and skipped, not fatal.
    let worstHere;
    let backwardMs;
    try {
      const got = await Promise.all(forwardBackward(be, upload(be, x, check), check, variant).map((t) => be.download(t)));
      worstHere = Math.max(...NAMES.map((_, i) => ratio(got[i], want[i], atol[i], rtol[i])));
      const { y, saved } = be.selectiveScanForward(full.inputs, true);
      const dALog = be.zeros([shape.E, shape.N]);
      const dD = be.zeros([shape.E]);
      const run = () => Object.values(selectiveScanBackward(be.rt, full.inputs, saved, full.dy, dALog, dD, variant));
      // as many untimed runs first, so the GPU's clocks are up when the timed ones start
      for (let r = 0; r < Number(args.reps); r++) for (const t of run()) be.dispose(t);
      await be.download(dD);
      const started = performance.now();
      for (let r = 0; r < Number(args.reps); r++) for (const t of run()) be.dispose(t);
      await be.download(dD);
      backwardMs = (performance.now() - started) / Number(args.reps);
      for (const t of [y, saved, dALog, dD]) if (t) be.dispose(t);
    } catch (error) {
      log(`  backward, ${what}: skipped (${error.message})`);
      byVariant.push({ ...variant, skipped: error.message });
      continue;
    }
    ok &&= worstHere <= 1;
    byVariant.push({ ...variant, worstRatio: worstHere, backwardMs });
    log(`  backward, ${what}: ${backwardMs.toFixed(3)} ms, worst ${worstHere.toFixed(3)} of tolerance`);
  }
  return { ...shape, worstRatio: worst, ratios, msPerForwardBackward: ms, kernels, byVariant };
}

for (const shape of shapes) {
  // a shape this device cannot hold (a binding past its limit) is reported and skipped, not fatal
  try {
    results.push(await checkShape(shape));
  } catch (error) {
    log(`${shape.name}: skipped (${error.message})`);
    results.push({ ...shape, skipped: error.message });
  }
}
log(`kernels compiled: ${be.rt.pipelineKeys().filter((k) => k.startsWith('scan')).join(', ')}`);
if (args.json) process.stdout.write(JSON.stringify({ adapter: be.adapterName, subgroupSize: gpu.subgroupSize, ok, results }) + '\n');
process.exit(ok ? 0 : 1);
