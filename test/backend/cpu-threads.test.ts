/**
 * The cpu backend's worker threads change nothing but speed: every op it splits gives the same bits on
 * 1, 2 and 3 threads, and a few training steps end on the same weights and optimizer state. The ops run
 * on the compiled backend (dist/), where the worker script exists; from the TypeScript sources the
 * backend has one thread.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../../src/backend/backend.js';
import type * as CpuModule from '../../src/backend/cpu/cpu-backend.js';
import { Rng } from '../../src/util/rng.js';
import { requireBuiltCli } from '../cli-runner.js';

const REPO = join(import.meta.dirname, '..', '..');
requireBuiltCli();
const { CpuBackend } = (await import(pathToFileURL(join(REPO, 'dist', 'src', 'backend', 'cpu', 'cpu-backend.js')).href)) as typeof CpuModule;

// The first backend with threads starts the process's workers: 3 threads = 2 workers, which the
// 2-thread backends share (using one of them). Default kernels (SIMD), and the reference kernels for
// the scan that keeps its states.
const backends = [new CpuBackend({ threads: 3 }), new CpuBackend({ threads: 2 }), new CpuBackend({ threads: 1 })];
const referenceBackends = [new CpuBackend({ threads: 3, kernels: 'reference' }), new CpuBackend({ threads: 2, kernels: 'reference' }), new CpuBackend({ threads: 1, kernels: 'reference' })];

function random(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rng = new Rng(seed, 7);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.nextFloat());
}

/** The bits of every result, as one array per result. */
async function bits(be: Backend, results: Tensor[]): Promise<number[][]> {
  const out: number[][] = [];
  for (const t of results) out.push(Array.from(new Uint32Array((await be.download(t)).buffer)));
  return out;
}

/** Runs `ops` on every backend (of `among`) and expects the same bits from each. */
async function expectSameBits(what: string, ops: (be: Backend) => Tensor[], among = backends): Promise<void> {
  const [reference, ...others] = await Promise.all(among.map((be) => bits(be, ops(be))));
  for (const [i, other] of others.entries()) {
    expect(other.length, what).toBe(reference.length);
    for (let r = 0; r < reference.length; r++) expect(other[r], `${what}: result ${r}, backend ${i + 1} against the 3-thread one`).toEqual(reference[r]);
  }
}

describe('cpu backend threads', () => {
  let workerChunksBefore = 0;

  beforeAll(async () => {
    expect(backends.map((be) => be.threads)).toEqual([3, 2, 1]);
    // Workers load in the background; ops run on the calling thread alone until one has.
    const be = backends[0];
    const a = be.upload(random(512 * 64, 1), [512, 64]);
    const deadline = Date.now() + 20_000;
    while (be.chunksByWorkers() === 0 && Date.now() < deadline) {
      be.dispose(be.matmul(a, a, { transB: true }));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(be.chunksByWorkers(), 'no worker thread ran a chunk within 20 s').toBeGreaterThan(0);
    workerChunksBefore = be.chunksByWorkers();
  });

  afterAll(() => {
    // The comparisons below really were split: the workers ran chunks of them.
    expect(backends[0].chunksByWorkers()).toBeGreaterThan(workerChunksBefore);
  });

  it('solveRidge: the factor and both substitutions split across threads, the same bits', async () => {
    // n = 301: four whole 64-column blocks and a ragged one; the gram of 400 random rows.
    const n = 301, K = 7, rows = 400;
    const z = random(rows * n, 11);
    const gram = new Float32Array(n * n);
    for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) gram[i * n + j] += z[r * n + i] * z[r * n + j];
    const results = await Promise.all(backends.map(async (be) => {
      const x = await be.solveRidge(be.upload(gram, [n, n]), 0.5, be.upload(random(K * n, 12), [K, n]));
      return Array.from(new Uint32Array((await be.download(x)).buffer));
    }));
    expect(results[0].some((b) => b !== 0)).toBe(true);
    for (const other of results.slice(1)) expect(other).toEqual(results[0]);
  });

  for (const among of [backends, referenceBackends]) it(`matmul, every transpose, into and accumulating (${among[0].kernels} kernels)`, async () => {
    // many rows (split by rows), few rows of many columns (the SIMD kernels split those by columns), and
    // operands whose copies into the product's layout are large enough to split over the threads
    for (const [M, N, K] of [[301, 37, 70], [5, 301, 100], [180, 20, 760], [20, 180, 760]]) for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        await expectSameBits(`matmul ${M}x${N}x${K} transA=${transA} transB=${transB}`, (be) => {
          const a = be.upload(random(M * K, 2), transA ? [K, M] : [M, K]);
          const b = be.upload(random(K * N, 3), transB ? [N, K] : [K, N]);
          const c = be.matmul(a, b, { transA, transB });
          const acc = be.upload(random(M * N, 4), [M, N]);
          be.matmul(a, b, { transA, transB, into: acc, accumulate: true });
          return [c, acc];
        }, among);
      }
    }
  });

  for (const among of [backends, referenceBackends]) it(`causal conv1d forward and backward (${among[0].kernels} kernels)`, async () => {
    const batch = 6, L = 59, E = 128, K = 4;
    await expectSameBits('conv1d', (be) => {
      const x = be.upload(random(batch * L * E, 5), [batch * L, E]);
      const w = be.upload(random(E * K, 6), [E, 1, K]);
      const bias = be.upload(random(E, 7), [E]);
      const dy = be.upload(random(batch * L * E, 8), [batch * L, E]);
      const dw = be.zeros([E, 1, K]);
      const dBias = be.zeros([E]);
      const y = be.causalConv1dForward(x, w, bias, batch, L);
      const dx = be.causalConv1dBackward(x, w, dy, batch, L, dw, dBias);
      return [y, dx, dw, dBias];
    }, among);
  });

  for (const among of [backends, referenceBackends]) it(`silu, softplus with bias and the gate, forward and backward (${among[0].kernels} kernels)`, async () => {
    const M = 354, E = 128;
    await expectSameBits('elementwise', (be) => {
      const x = be.upload(random(M * E, 9, -25, 25), [M, E]);
      const z = be.upload(random(M * E, 10, -6, 6), [M, E]);
      const dy = be.upload(random(M * E, 11), [M, E]);
      const bias = be.upload(random(E, 12), [E]);
      const dBias = be.zeros([E]);
      const gate = be.gateBackward(x, z, dy);
      return [
        be.siluForward(x), be.siluBackward(x, dy),
        be.softplusBiasForward(x, bias), be.softplusBiasBackward(x, bias, dy, dBias), dBias,
        be.gateForward(x, z), gate.dy, gate.dz,
      ];
    }, among);
  });

  for (const [keepStates, among] of [[true, referenceBackends], [false, backends], [false, referenceBackends]] as const) {
    it(`selective scan forward and backward (${keepStates ? 'states kept' : 'states recomputed'}, ${among[0].kernels} kernels)`, async () => {
      const batch = 6, L = 59, E = 64, N = 8, M = batch * L;
      await expectSameBits('scan', (be) => {
        const inputs = {
          u: be.upload(random(M * E, 13), [M, E]),
          delta: be.upload(random(M * E, 14, 0.001, 0.5), [M, E]),
          aLog: be.upload(random(E * N, 15, -1, 2), [E, N]),
          b: be.upload(random(M * N, 16), [M, N]),
          c: be.upload(random(M * N, 17), [M, N]),
          d: be.upload(random(E, 18), [E]),
          batch,
          length: L,
        };
        const { y, saved } = be.selectiveScanForward(inputs, keepStates);
        expect(saved !== null).toBe(keepStates);
        const dALog = be.zeros([E, N]);
        const dD = be.zeros([E]);
        const g = be.selectiveScanBackward(inputs, saved, be.upload(random(M * E, 19), [M, E]), dALog, dD);
        return [y, g.du, g.dDelta, g.dB, g.dC, dALog, dD];
      }, among);
    });
  }

  it('the conv1d step, its sequences split across threads: the same outputs and windows', async () => {
    const batch = 64, E = 768, K = 4;
    await expectSameBits('conv step', (be) => {
      const window = be.upload(random(batch * (K - 1) * E, 34), [batch, K - 1, E]);
      const w = be.upload(random(E * K, 35), [E, 1, K]);
      const bias = be.upload(random(E, 36), [E]);
      const ys = [0, 1].map((t) => be.causalConv1dStep(window, be.upload(random(batch * E, 37 + t), [batch, E]), w, bias));
      return [...ys, window];
    });
  });

  it('the selective scan\'s step, its sequences split across threads: the same outputs and states', async () => {
    const batch = 64, E = 256, N = 16;
    await expectSameBits('scan step', (be) => {
      const h = be.zeros([batch, E, N]);
      const aLog = be.upload(random(E * N, 20, -1, 2), [E, N]);
      const d = be.upload(random(E, 21), [E]);
      const ys: Tensor[] = [];
      for (let t = 0; t < 3; t++) {
        const u = be.upload(random(batch * E, 22 + t), [batch, E]);
        const delta = be.upload(random(batch * E, 25 + t, 0.001, 0.5), [batch, E]);
        ys.push(be.selectiveScanStep(h, u, delta, aLog, be.upload(random(batch * N, 28 + t), [batch, N]), be.upload(random(batch * N, 31 + t), [batch, N]), d));
      }
      return [...ys, h];
    });
  });

  it('RMSNorm forward and backward, and the cross-entropy with and without its gradient', async () => {
    const M = 354, d = 128, V = 65;
    const targets = Int32Array.from({ length: M }, (_, m) => (m % 7 === 3 ? -1 : (m * 31) % V));
    await expectSameBits('rmsnorm and cross-entropy', (be) => {
      const x = be.upload(random(M * d, 24), [M, d]);
      const w = be.upload(random(d, 25), [d]);
      const { y, rstd } = be.rmsNormForward(x, w, 1e-5);
      const dw = be.zeros([d]);
      const dx = be.rmsNormBackward(x, w, rstd, be.upload(random(M * d, 26), [M, d]), dw);
      const logits = be.upload(random(M * V, 27, -8, 8), [M, V]);
      const ids = be.uploadInts(targets, [M]);
      const withGradient = be.crossEntropy(logits, ids, true);
      return [y, rstd, dx, dw, withGradient.loss, withGradient.dLogits!, be.crossEntropy(logits, ids, false).loss];
    });
  });

  it('AdamW update', async () => {
    const n = 40_000;
    await expectSameBits('adamw', (be) => {
      const p = be.upload(random(n, 20), [n]);
      const m = be.upload(random(n, 21, -0.01, 0.01), [n]);
      const v = be.upload(random(n, 22, 0, 0.01), [n]);
      be.adamwUpdate(p, be.upload(random(n, 23), [n]), m, v, { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 3, gradScale: 0.5 });
      return [p, m, v];
    });
  });
});

describe('gamba train with GAMBA_CPU_THREADS', () => {
  const root = mkdtempSync(join(tmpdir(), 'gamba-cpu-threads-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const samples = join(REPO, 'datasets', 'samples', 'othello');

  function train(threads: string, out: string) {
    const args = ['train', '--game', 'othello', '--data', samples, '--preset', 'tiny', '--backend', 'cpu', '--batch', '16', '--steps', '3', '--seed', '5', '--out', join(root, out), '--json'];
    return spawnSync(process.execPath, [join(REPO, 'bin', 'gamba.js'), ...args], { encoding: 'utf8', env: { ...process.env, GAMBA_CPU_THREADS: threads } });
  }

  it('1 and 2 threads end on the same losses, weights and optimizer state, bit for bit', () => {
    const one = train('1', 'one');
    const two = train('2', 'two');
    expect(one.status, one.stderr).toBe(0);
    expect(two.status, two.stderr).toBe(0);
    const losses = (run: typeof one) => (JSON.parse(run.stdout) as { lossHistory: number[] }).lossHistory;
    expect(losses(one)).toHaveLength(3);
    expect(losses(two)).toEqual(losses(one));
    for (const file of ['model.safetensors', 'optimizer.safetensors']) {
      expect(readFileSync(join(root, 'two', file)).equals(readFileSync(join(root, 'one', file))), file).toBe(true);
    }
  });

  it('refuses a bad GAMBA_CPU_THREADS with a clear message', () => {
    const run = train('two', 'bad');
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/GAMBA_CPU_THREADS: expected an integer from 1 to 64, got 'two'/);
  });
});
