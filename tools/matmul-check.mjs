#!/usr/bin/env node
// Checks and times the webgpu backend's matmuls, f32 and mixed precision, on the products a preset's
// training step makes: one step is run on the f32 backend to record every distinct (M, N, K, transposes),
// then each product is computed with random operands in both precisions and compared, on sampled
// entries, with a float64 dot product of the f32 operands, the error measured against the sum of
// |products| (what rounding the operands to f16 can disturb), and timed. Extra odd-sized products check
// the edges, accumulation and split-K. Needs a GPU with f16 subgroup matrices for the mixed column
// (the H200: lavapipe has none, and the mixed tests of `npm test` skip there); build first (npx tsc).
//
//   node tools/matmul-check.mjs [--preset othello-base] [--batch 256] [--seq 59] [--reps 20] [--json]
//
// Exit 0 when every mixed product is within --tolerance (default 2e-3 of the sum of |products|; f16
// operands carry 2^-11 relative error each) and every f32 one within 1e-4.
import { productArgs, productError, productOperands, stepProducts } from './step-products.mjs';

const { args, batch, seq, reps, tolerance } = productArgs(20);
const dist = new URL('../dist/src/', import.meta.url);
const load = (path) => import(new URL(path, dist).href);
const { openGpu } = await load('backend/webgpu/device.js');
const { WebGpuBackend } = await load('backend/webgpu/webgpu-backend.js');
const { Rng } = await load('util/rng.js');


const { gpu, reason } = await openGpu({ allowSoftware: true });
if (!gpu) throw new Error(`no GPU: ${reason}`);
const f32 = new WebGpuBackend(gpu, 'f32');
const mixed = gpu.subgroupMatrix ? new WebGpuBackend(gpu, 'mixed') : null;
const log = (line) => process.stderr.write(line + '\n');
log(`adapter: ${f32.adapterName}; subgroup matrices: ${gpu.subgroupMatrix ? `yes (subgroup size ${gpu.subgroupMatrix.subgroupSize})` : 'no: mixed is not checked'}`);

// The products of one training step, in order of first use.
const rng = new Rng(7);
const shapes = await stepProducts(f32, args.preset, batch, seq);
const edgeCases = [
  { M: 77, N: 45, K: 33, transA: false, transB: false, accumulate: true, count: 0 },
  { M: 130, N: 200, K: 3000, transA: true, transB: false, accumulate: false, count: 0 },
  { M: 16, N: 19, K: 5000, transA: true, transB: false, accumulate: true, count: 0 },
  { M: 300, N: 70, K: 90, transA: false, transB: true, accumulate: false, count: 0 },
];

async function timeOf(be, a, b, s) {
  const run = () => be.dispose(be.matmul(a, b, { transA: s.transA, transB: s.transB }));
  run();
  await be.download(be.zeros([1]));
  const started = performance.now();
  for (let r = 0; r < reps; r++) run();
  await be.download(be.zeros([1]));
  return (performance.now() - started) / reps;
}

const rows = [];
let failed = false;
for (const s of [...shapes, ...edgeCases]) {
  const { M, N, K, transA, transB } = s;
  const operands = productOperands(s, rng);
  const { A, B, C0 } = operands;
  const result = async (be) => {
    const a = be.upload(A, transA ? [K, M] : [M, K]);
    const b = be.upload(B, transB ? [N, K] : [K, N]);
    const c = be.upload(C0, [M, N]);
    be.matmul(a, b, { transA, transB, into: c, accumulate: s.accumulate });
    const out = await be.download(c);
    const ms = await timeOf(be, a, b, s);
    for (const t of [a, b, c]) be.dispose(t);
    return { out, ms };
  };
  const errorOf = (out) => productError(s, operands, out, rng);
  const tflops = (ms) => (2 * M * N * K) / (ms * 1e-3) / 1e12;
  const plainResult = await result(f32);
  const row = { M, N, K, transA, transB, accumulate: s.accumulate, perStep: s.count, f32Error: errorOf(plainResult.out), f32Tflops: tflops(plainResult.ms) };
  if (mixed) {
    const mixedResult = await result(mixed);
    Object.assign(row, { mixedError: errorOf(mixedResult.out), mixedTflops: tflops(mixedResult.ms) });
  }
  failed ||= row.f32Error > 1e-4 || (mixed !== null && !(row.mixedError <= tolerance));
  rows.push(row);
  const name = `${M}x${N}x${K} ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}${s.accumulate ? ' +=' : ''}`;
  log(`${name.padEnd(24)} x${String(s.count).padEnd(3)} f32 ${row.f32Tflops.toFixed(1).padStart(5)} TFLOP/s err ${row.f32Error.toExponential(1)}` +
    (mixed ? `   mixed ${row.mixedTflops.toFixed(1).padStart(5)} TFLOP/s err ${row.mixedError.toExponential(1)}` : ''));
}
const stepMs = (key) => rows.filter((r) => r.perStep > 0).reduce((t, r) => t + (r.perStep * 2 * r.M * r.N * r.K) / (r[key] * 1e12) * 1e3, 0);
const summary = { adapter: f32.adapterName, preset: args.preset, batch, seq, f32MatmulMs: stepMs('f32Tflops'), mixedMatmulMs: mixed ? stepMs('mixedTflops') : null, ok: !failed };
log(`one step's matmuls: f32 ${summary.f32MatmulMs.toFixed(2)} ms${mixed ? `, mixed ${summary.mixedMatmulMs.toFixed(2)} ms` : ''}; ${failed ? 'FAILED' : 'all within tolerance'}`);
if (args.json) process.stdout.write(JSON.stringify({ ...summary, rows }) + '\n');
process.exit(failed ? 1 : 0);
