#!/usr/bin/env node
// What makes subgroup-matrix (tensor core) matmuls crash the process? This harness runs f16 x f16 -> f32
// matmul kernels through Dawn's chromium-experimental-subgroup-matrix, one child process per
// (configuration, shape), each doing --runs runs of --reps matmuls, and tabulates per configuration
// which shapes survived, which crashed (signal, exit code, the last lines of stderr) and which gave
// wrong numbers. A crash takes down only its child.
//
//   node tools/subgroup-matrix-repro.mjs [--plan screen|control|FILE.json] [--shapes MxNxK,...]
//       [--runs R] [--confirm R2] [--budget SECONDS] [--out results.jsonl] [--json]
//
// --plan screen (default): a baseline (the naive kernel: one subgroup per workgroup, one 16x16 tile,
// operands loaded straight from storage) and one change at a time from it: the GPU instance left
// unreferenced after the adapter is asked for (and collected), the f32 kernel without
// subgroup matrices (the control), subgroups per workgroup, fragments per subgroup, workgroup-memory
// staging, loop length (K split over dispatches), dispatch size (workgroups per dispatch), Dawn toggles
// (robustness off, validation skipped), how completion is awaited (onSubmittedWorkDone, mapAsync of a
// readback, or once at the end), one submit or one per matmul, and how operands are uploaded.
// --confirm R2 reruns every configuration that survived the screen with R2 runs a shape.
// --plan control: the f32 kernel only (what a machine without subgroup matrices, e.g. lavapipe, runs).
// A plan file is a JSON array of configurations (fields as in BASELINE; missing ones from it).
// --out gets one JSON line per child as it finishes; --budget stops starting children after that long.
//
// What it found on an H200 (Dawn through the npm webgpu package, 2026-12): the crashes were not the
// tensor cores. A script that keeps no live reference to the GPU instance after asking it for an
// adapter (`const gpu = create(...)` never read again, in an async module) crashes on every shape:
// segfaults, "The futex facility returned an unexpected error code", std::system_error "Invalid
// argument", or a hang, because the collector frees the instance under the device. With the instance
// held, every model shape above survived 20 runs of 20 matmuls in a row, in the naive kernel (12 to 19
// TFLOP/s) and in a 4-subgroup kernel with 2 x 2 fragments a subgroup (34 TFLOP/s on 2048^3, 6 to 9
// on the long-K shapes), and the numbers matched a float64 reference.
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(import.meta.url);
/** The matmul shapes of othello-base and chess-base training steps, the ones that crashed and the ones that did not. */
const MODEL_SHAPES = ['1024x1024x1024', '2048x2048x256', '15360x1024x256', '1024x1024x2048', '2048x2048x2048', '15360x256x512', '1024x256x15360', '8192x2048x512', '2048x512x8192'];

const BASELINE = {
  name: 'baseline',
  /** direct: fragments loaded from storage; staged: tiles staged through workgroup memory; f32: no subgroup matrices. */
  kernel: 'direct',
  /** Subgroups per workgroup (1, 2 or 4), each computing its own tm x tn fragments of 16 x 16. */
  subgroups: 1,
  tm: 1,
  tn: 1,
  /** Most K per dispatch (0: the whole K in one); more dispatches accumulate into C. */
  kSplit: 0,
  /** Most workgroups per dispatch (0: up to the 65,535 limit). */
  maxWorkgroups: 0,
  /** Dawn toggles to enable and disable, beside allow_unsafe_apis and vulkan_enable_f16_on_nvidia. */
  enable: [],
  disable: [],
  /** done: onSubmittedWorkDone after each submit; map: mapAsync of a 4-byte copy of C; end: once after the run. */
  wait: 'done',
  /** one: a run's matmuls in one command buffer; each: one submit per matmul. */
  submits: 'one',
  /** write: queue.writeBuffer; chunks: writeBuffer in 512 KB pieces; map: mappedAtCreation. */
  init: 'write',
  /** Matmuls per run. */
  reps: 20,
  /** kept: the GPU instance is held for the whole run; dropped: nothing refers to it after requestAdapter. */
  instance: 'kept',
  /** Run the garbage collector after setting up and after every run (as a large allocation would). */
  gc: false,
};

const SCREEN = [
  {},
  { name: 'instance dropped', instance: 'dropped' },
  { name: 'instance dropped, collected', instance: 'dropped', gc: true },
  { name: 'collected', gc: true },
  { name: 'f32 control', kernel: 'f32' },
  { name: '2 subgroups', subgroups: 2 },
  { name: '4 subgroups', subgroups: 4 },
  { name: '2x2 fragments', tm: 2, tn: 2 },
  { name: 'staged 1 subgroup', kernel: 'staged' },
  { name: 'staged 4 subgroups 2x2', kernel: 'staged', subgroups: 4, tm: 2, tn: 2 },
  { name: 'K 256 per dispatch', kSplit: 256 },
  { name: '1024 workgroups per dispatch', maxWorkgroups: 1024 },
  { name: 'robustness off', enable: ['disable_robustness'] },
  { name: 'validation skipped', enable: ['skip_validation'] },
  { name: 'wait mapAsync', wait: 'map' },
  { name: 'wait at the end', wait: 'end' },
  { name: 'submit each', submits: 'each' },
  { name: 'init mappedAtCreation', init: 'map' },
  { name: 'init in chunks', init: 'chunks' },
];

function parseArgs(argv) {
  const args = { plan: 'screen', shapes: MODEL_SHAPES.join(','), runs: 3, confirm: 0, budget: Infinity, out: null, json: false, child: null };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (key === 'json') args.json = true;
    else if (key in args) args[key] = argv[++i];
    else throw new Error(`unknown flag ${argv[i]}`);
  }
  args.runs = Number(args.runs);
  args.confirm = Number(args.confirm);
  args.budget = Number(args.budget);
  return args;
}

function planOf(plan) {
  if (plan === 'screen') return SCREEN.map((c) => ({ ...BASELINE, ...c }));
  if (plan === 'control') return [{ ...BASELINE, name: 'f32 control', kernel: 'f32' }];
  return JSON.parse(readFileSync(plan, 'utf8')).map((c) => ({ ...BASELINE, ...c }));
}

// ---- parent: one child per (configuration, shape) -------------------------------------------------

function runChild(config, shape, runs) {
  const started = Date.now();
  const child = spawnSync(process.execPath, ['--expose-gc', SCRIPT, '--child', JSON.stringify({ ...config, shape, runs })], { encoding: 'utf8', timeout: 90_000, maxBuffer: 1 << 24 });
  const seconds = (Date.now() - started) / 1000;
  const line = (child.stdout ?? '').split('\n').find((l) => l.startsWith('RESULT '));
  const result = line ? JSON.parse(line.slice(7)) : null;
  const tail = (child.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
  let outcome;
  if (child.error?.code === 'ETIMEDOUT') outcome = 'timeout';
  else if (child.signal) outcome = result ? `crash at exit (${child.signal})` : `crash (${child.signal})`;
  else if (child.status === 0) outcome = 'ok';
  else if (result?.outcome) outcome = result.outcome;
  else outcome = `exit ${child.status}`;
  return { shape, outcome, seconds, runsDone: result?.runsDone ?? null, ms: result?.ms ?? null, tflops: result?.tflops ?? null, maxError: result?.maxError ?? null, detail: result?.detail ?? (outcome === 'ok' ? '' : tail) };
}

/**
 * Runs every configuration on every shape while the time budget lasts (a child is not started once it
 * is spent), appending each child's result to `record` as it comes, so a cut-short run keeps what it did.
 */
function screen(configs, shapes, runs, log, record, deadline) {
  const out = [];
  for (const config of configs) {
    const results = [];
    for (const shape of shapes) {
      if (Date.now() > deadline) break;
      const r = runChild(config, shape, runs);
      record({ config: config.name, runs, ...r });
      log(`${config.name.padEnd(30)} ${shape.padEnd(16)} ${r.outcome.padEnd(24)} ${r.tflops === null ? '' : `${r.tflops.toFixed(1)} TFLOP/s`} ${r.detail ?? ''}`);
      results.push(r);
    }
    if (results.length > 0) out.push({ config, runs, survived: results.filter((r) => r.outcome === 'ok').length, shapes: results.length, results });
  }
  return out;
}

function parentMain(args) {
  const shapes = args.shapes.split(',');
  const log = (line) => process.stderr.write(line + '\n');
  if (args.out) writeFileSync(args.out, '');
  const record = (line) => args.out && appendFileSync(args.out, JSON.stringify(line) + '\n');
  const deadline = Date.now() + args.budget * 1000;
  const report = { shapes, screen: screen(planOf(args.plan), shapes, args.runs, log, record, deadline), confirm: [] };
  if (args.confirm > 0) {
    const survivors = report.screen.filter((s) => s.survived === shapes.length).map((s) => s.config);
    log(`confirming ${survivors.length} configurations with ${args.confirm} runs a shape`);
    report.confirm = screen(survivors, shapes, args.confirm, log, record, deadline);
  }
  const lines = [];
  for (const [title, rows] of [['screen', report.screen], ['confirm', report.confirm]]) {
    if (rows.length === 0) continue;
    lines.push(`${title}: configuration, shapes that survived all runs, first failure`);
    for (const s of rows) {
      const failure = s.results.find((r) => r.outcome !== 'ok');
      lines.push(`  ${s.config.name.padEnd(30)} ${`${s.survived}/${s.shapes}`.padEnd(6)} x${s.runs} runs  ${failure ? `${failure.shape}: ${failure.outcome} ${failure.detail ?? ''}` : ''}`);
    }
  }
  process.stdout.write(args.json ? JSON.stringify(report) + '\n' : lines.join('\n') + '\n');
}

// ---- child: one configuration, one shape --------------------------------------------------------

function kernelSource(c, sgSize) {
  const SGC = c.subgroups >= 2 ? 2 : 1;
  const SGR = c.subgroups / SGC;
  const BM = c.kernel === 'f32' ? 16 : SGR * c.tm * 16;
  const BN = c.kernel === 'f32' ? 16 : SGC * c.tn * 16;
  const header = `
enable f16;
${c.kernel === 'f32' ? '' : 'enable subgroups;\nenable chromium_experimental_subgroup_matrix;\n// Offsets derived from the subgroup index are uniform within each subgroup, which is what the builtins\n// need; the analysis can only prove workgroup uniformity, so its check is turned off (as ORT and\n// llama.cpp do).\ndiagnostic(off, chromium.subgroup_matrix_uniformity);'}
@group(0) @binding(0) var<storage, read> A: array<f16>;
@group(0) @binding(1) var<storage, read> B: array<f16>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
struct Dims { M: u32, N: u32, K: u32, k0: u32, k1: u32, wgOffset: u32, accumulate: u32, pad: u32 }
@group(0) @binding(3) var<uniform> d: Dims;
`;
  if (c.kernel === 'f32') {
    return {
      BM, BN, threads: 256, code: header + `
var<workgroup> sa: array<f32, 256>;
var<workgroup> sb: array<f32, 256>;
@compute @workgroup_size(256) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let tile = wg.x + d.wgOffset;
  let row0 = (tile / (d.N / 16u)) * 16u;
  let col0 = (tile % (d.N / 16u)) * 16u;
  let r = li / 16u;
  let cc = li % 16u;
  var acc = 0.0;
  if (d.accumulate != 0u) { acc = C[(row0 + r) * d.N + col0 + cc]; }
  for (var k = d.k0; k < d.k1; k += 16u) {
    sa[li] = f32(A[(row0 + r) * d.K + k + cc]);
    sb[li] = f32(B[(k + r) * d.N + col0 + cc]);
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) { acc += sa[r * 16u + kk] * sb[kk * 16u + cc]; }
    workgroupBarrier();
  }
  C[(row0 + r) * d.N + col0 + cc] = acc;
}` };
  }
  const L = 'subgroup_matrix_left<f16, 16, 16>';
  const R = 'subgroup_matrix_right<f16, 16, 16>';
  const S = 'subgroup_matrix_result<f32, 16, 16>';
  const threads = sgSize * c.subgroups;
  const prologue = `
  let tile = wg.x + d.wgOffset;
  let row0 = (tile / (d.N / ${BN}u)) * ${BM}u;
  let col0 = (tile % (d.N / ${BN}u)) * ${BN}u;
  let s = li / sgSize;
  let fr = row0 + (s / ${SGC}u) * ${c.tm * 16}u;
  let fc = col0 + (s % ${SGC}u) * ${c.tn * 16}u;
  var acc: array<array<${S}, ${c.tn}>, ${c.tm}>;
  if (d.accumulate != 0u) {
    for (var i = 0u; i < ${c.tm}u; i++) { for (var j = 0u; j < ${c.tn}u; j++) {
      acc[i][j] = subgroupMatrixLoad<${S}>(&C, (fr + i * 16u) * d.N + fc + j * 16u, false, d.N); } }
  }`;
  const epilogue = `
  for (var i = 0u; i < ${c.tm}u; i++) { for (var j = 0u; j < ${c.tn}u; j++) {
    subgroupMatrixStore(&C, (fr + i * 16u) * d.N + fc + j * 16u, acc[i][j], false, d.N); } }`;
  const mma = `
      for (var i = 0u; i < ${c.tm}u; i++) { for (var j = 0u; j < ${c.tn}u; j++) { acc[i][j] = subgroupMatrixMultiplyAccumulate(am[i], bm[j], acc[i][j]); } }`;
  const signature = `@compute @workgroup_size(${threads}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32, @builtin(subgroup_size) sgSize: u32) {`;
  if (c.kernel === 'direct') {
    return {
      BM, BN, threads, code: header + signature + prologue + `
  for (var k = d.k0; k < d.k1; k += 16u) {
    var am: array<${L}, ${c.tm}>;
    var bm: array<${R}, ${c.tn}>;
    for (var i = 0u; i < ${c.tm}u; i++) { am[i] = subgroupMatrixLoad<${L}>(&A, (fr + i * 16u) * d.K + k, false, d.K); }
    for (var j = 0u; j < ${c.tn}u; j++) { bm[j] = subgroupMatrixLoad<${R}>(&B, k * d.N + fc + j * 16u, false, d.N); }` + mma + `
  }` + epilogue + '\n}',
    };
  }
  // staged: a BM x 32 tile of A and a 32 x BN tile of B in workgroup memory per step of K.
  return {
    BM, BN, threads, code: header + `
var<workgroup> sa: array<f16, ${BM * 32}>;
var<workgroup> sb: array<f16, ${32 * BN}>;
` + signature + prologue + `
  let ar = fr - row0;
  let bc = fc - col0;
  for (var k = d.k0; k < d.k1; k += 32u) {
    for (var e = li; e < ${BM * 32}u; e += ${threads}u) { sa[e] = A[(row0 + e / 32u) * d.K + k + e % 32u]; }
    for (var e = li; e < ${32 * BN}u; e += ${threads}u) { sb[e] = B[(k + e / ${BN}u) * d.N + col0 + e % ${BN}u]; }
    workgroupBarrier();
    for (var kk = 0u; kk < 32u; kk += 16u) {
      var am: array<${L}, ${c.tm}>;
      var bm: array<${R}, ${c.tn}>;
      for (var i = 0u; i < ${c.tm}u; i++) { am[i] = subgroupMatrixLoad<${L}>(&sa, (ar + i * 16u) * 32u + kk, false, 32u); }
      for (var j = 0u; j < ${c.tn}u; j++) { bm[j] = subgroupMatrixLoad<${R}>(&sb, kk * ${BN}u + bc + j * 16u, false, ${BN}u); }` + mma + `
    }
    workgroupBarrier();
  }` + epilogue + '\n}',
  };
}

const f2h = (x) => {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const e = ((u >>> 23) & 0xff) - 127 + 15;
  if (e <= 0) return sign;
  if (e >= 31) return sign | 0x7c00;
  return sign | (e << 10) | ((u >>> 13) & 0x3ff);
};
const h2f = (h) => {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
};

const keepAlive = {};

async function childMain(c) {
  const result = (fields) => process.stdout.write('RESULT ' + JSON.stringify(fields) + '\n');
  const [M, N, K] = c.shape.split('x').map(Number);
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const flags = [`enable-dawn-features=${['allow_unsafe_apis', 'vulkan_enable_f16_on_nvidia', ...c.enable].join(',')}`];
  if (c.disable.length > 0) flags.push(`disable-dawn-features=${c.disable.join(',')}`);
  // The instance must outlive the device. 'dropped' holds no reference to it once the adapter is
  // asked for, as a script whose `const gpu = create(...)` is never read again does: V8 need not keep
  // a dead variable of a suspended async function alive, and the collector then frees the instance
  // under the device.
  let adapter;
  if (c.instance === 'dropped') {
    adapter = await create(flags).requestAdapter({ powerPreference: 'high-performance' });
  } else {
    keepAlive.gpu = create(flags);
    adapter = await keepAlive.gpu.requestAdapter({ powerPreference: 'high-performance' });
  }
  const collect = () => { if (c.gc) globalThis.gc(); };
  if (!adapter) return result({ outcome: 'no adapter' }), 7;
  const needs = c.kernel === 'f32' ? ['shader-f16'] : ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'];
  const missing = needs.filter((f) => !adapter.features.has(f));
  if (missing.length > 0) return result({ outcome: 'unsupported', detail: `adapter lacks ${missing.join(', ')}` }), 8;
  const sgSize = adapter.info.subgroupMinSize ?? 32;
  if (c.kernel !== 'f32' && adapter.info.subgroupMaxSize !== sgSize) return result({ outcome: 'unsupported', detail: `subgroup size varies ${sgSize}..${adapter.info.subgroupMaxSize}` }), 8;
  const device = await adapter.requestDevice({
    requiredFeatures: needs,
    requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize },
  });
  let lost = null;
  device.lost.then((info) => { lost = `${info.reason}: ${info.message}`; });
  const errors = [];
  device.onuncapturederror = (e) => errors.push(e.error.message);

  const { BM, BN, code } = kernelSource(c, sgSize);
  if (M % BM || N % BN || K % (c.kernel === 'staged' ? 32 : 16) || (c.kSplit && c.kSplit % 32)) return result({ outcome: 'bad shape', detail: `${c.shape} is not a multiple of the ${BM}x${BN} tile` }), 9;
  collect();
  const module = device.createShaderModule({ code });
  const messages = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
  if (messages.length > 0) return result({ outcome: 'compile error', detail: messages.map((m) => `${m.lineNum}: ${m.message}`).join('; ') }), 6;
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });

  const rng = (() => { let s = 12345; return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5; })();
  const ha = Uint16Array.from({ length: M * K }, () => f2h(rng()));
  const hb = Uint16Array.from({ length: K * N }, () => f2h(rng()));
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const upload = (data) => {
    if (c.init === 'map') {
      const b = device.createBuffer({ size: data.byteLength, usage, mappedAtCreation: true });
      new Uint16Array(b.getMappedRange()).set(data);
      b.unmap();
      return b;
    }
    const b = device.createBuffer({ size: data.byteLength, usage });
    const step = c.init === 'chunks' ? 1 << 18 : data.length;
    for (let o = 0; o < data.length; o += step) device.queue.writeBuffer(b, o * 2, data.subarray(o, Math.min(data.length, o + step)));
    return b;
  };
  const bufA = upload(ha);
  const bufB = upload(hb);
  const bufC = device.createBuffer({ size: M * N * 4, usage });
  // One dispatch per (K range, workgroup range): the K ranges accumulate into C in order.
  const tiles = (M / BM) * (N / BN);
  const perDispatch = Math.min(65535, c.maxWorkgroups || 65535);
  const kStep = c.kSplit || K;
  const pieces = [];
  for (let k0 = 0; k0 < K; k0 += kStep) {
    for (let w0 = 0; w0 < tiles; w0 += perDispatch) {
      const uniform = device.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(uniform, 0, new Uint32Array([M, N, K, k0, Math.min(K, k0 + kStep), w0, k0 > 0 ? 1 : 0, 0]));
      const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [bufA, bufB, bufC, uniform].map((buffer, binding) => ({ binding, resource: { buffer } })) });
      pieces.push({ bindGroup, count: Math.min(perDispatch, tiles - w0) });
    }
  }
  const probe = device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const wait = async () => {
    if (c.wait === 'map') {
      const e = device.createCommandEncoder();
      e.copyBufferToBuffer(bufC, 0, probe, 0, 4);
      device.queue.submit([e.finish()]);
      await probe.mapAsync(GPUMapMode.READ);
      probe.unmap();
    } else {
      await device.queue.onSubmittedWorkDone();
    }
  };
  const encodeMatmul = (encoder) => {
    for (const p of pieces) {
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, p.bindGroup);
      pass.dispatchWorkgroups(p.count);
      pass.end();
    }
  };
  let ms = null;
  let runsDone = 0;
  for (let run = 0; run < c.runs; run++) {
    const t0 = performance.now();
    if (c.submits === 'one') {
      const e = device.createCommandEncoder();
      for (let r = 0; r < c.reps; r++) encodeMatmul(e);
      device.queue.submit([e.finish()]);
      if (c.wait !== 'end') await wait();
    } else {
      for (let r = 0; r < c.reps; r++) {
        const e = device.createCommandEncoder();
        encodeMatmul(e);
        device.queue.submit([e.finish()]);
        if (c.wait !== 'end') await wait();
      }
    }
    if (c.wait === 'end') await device.queue.onSubmittedWorkDone();
    ms = (performance.now() - t0) / c.reps;
    runsDone++;
    collect();
    if (lost || errors.length > 0) break;
  }
  if (lost) return result({ outcome: 'device lost', runsDone, detail: lost }), 4;
  if (errors.length > 0) return result({ outcome: 'gpu error', runsDone, detail: errors.slice(0, 3).join('; ') }), 5;

  // 64 sampled entries (corners included) against a float64 dot product of the f16 operands.
  const readback = device.createBuffer({ size: M * N * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const e = device.createCommandEncoder();
  e.copyBufferToBuffer(bufC, 0, readback, 0, M * N * 4);
  device.queue.submit([e.finish()]);
  await readback.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(readback.getMappedRange().slice(0));
  readback.unmap();
  let maxError = 0;
  const samples = [[0, 0], [M - 1, N - 1], [0, N - 1], [M - 1, 0]];
  while (samples.length < 64) samples.push([Math.floor((rng() + 0.5) * M), Math.floor((rng() + 0.5) * N)]);
  for (const [i, j] of samples) {
    let ref = 0;
    let scale = 0;
    for (let k = 0; k < K; k++) {
      const p = h2f(ha[i * K + k]) * h2f(hb[k * N + j]);
      ref += p;
      scale += Math.abs(p);
    }
    maxError = Math.max(maxError, Math.abs(out[i * N + j] - ref) / Math.max(scale, 1e-30));
  }
  const tflops = (2 * M * N * K) / (ms * 1e-3) / 1e12;
  const ok = maxError <= 1e-4;
  result({ outcome: ok ? 'ok' : 'wrong numbers', runsDone, ms, tflops, maxError, detail: ok ? '' : `max error ${maxError.toExponential(2)} of the sum of |products|` });
  return ok ? 0 : 3;
}

const args = parseArgs(process.argv.slice(2));
if (args.child) process.exit(await childMain({ ...BASELINE, ...JSON.parse(args.child) }));
else parentMain(args);
