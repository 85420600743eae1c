import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { applyProbe, DeviceProbe } from '../../probes/device-probe.js';
import { dualSolver, fitLinearProbe, primalSolver } from '../../probes/fit-probe.js';
import { zeroProbe } from '../../probes/linear-probe.js';
import { majorityPredictions, majorityTable } from '../../probes/majority.js';
import { probeMetrics } from '../../probes/metrics.js';
import { choleskyLower, solveRidge } from '../../src/backend/cpu/ridge-solve.js';
import { MemoryRows } from '../../probes/row-source.js';
import { CpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import { Rng } from '../../src/util/rng.js';

const be = new CpuBackend();

const SQUARES = 64;

/** Random boards (rows, 64) with 3 classes, skewed like a board (empty more likely), and move numbers. */
function randomBoards(rng: Rng, rows: number): { labels: Uint8Array; moves: Uint8Array } {
  const labels = new Uint8Array(rows * SQUARES);
  const moves = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    moves[r] = rng.nextInt(59);
    for (let s = 0; s < SQUARES; s++) {
      const u = rng.nextFloat();
      labels[r * SQUARES + s] = u < 0.5 ? 0 : u < 0.75 ? 1 : 2;
    }
  }
  return { labels, moves };
}

/** Features with a planted linear code: x = sum over squares of code[s, label] + noise. */
function plantedFeatures(rng: Rng, labels: Uint8Array, rows: number, dim: number, code: Float32Array, noise: number): Float32Array {
  const x = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < dim; k++) x[r * dim + k] = noise * rng.normal() + 0.5;
    for (let s = 0; s < SQUARES; s++) {
      const c = labels[r * SQUARES + s];
      const v = (s * 3 + c) * dim;
      for (let k = 0; k < dim; k++) x[r * dim + k] += code[v + k];
    }
  }
  return x;
}

describe('fitLinearProbe', () => {
  const dim = 160;
  const rng = new Rng(11);
  const code = new Float32Array(SQUARES * 3 * dim);
  for (let i = 0; i < code.length; i++) code[i] = rng.normal();
  const train = randomBoards(rng, 3000);
  const test = randomBoards(rng, 1000);

  it('recovers a planted linear board code on held-out rows (> 99% of cells)', async () => {
    const xTrain = plantedFeatures(rng, train.labels, 3000, dim, code, 0.5);
    const xTest = plantedFeatures(rng, test.labels, 1000, dim, code, 0.5);
    const validation = new Uint8Array(3000).map((_, r) => (r % 10 === 9 ? 1 : 0));
    const fit = await fitLinearProbe(be, new MemoryRows(xTrain, 3000, dim), train.labels, 3, { epochs: 2, seed: 3, validation });
    const metrics = probeMetrics(await applyProbe(be, fit.probe, xTest, 1000), test.labels, test.moves);
    expect(metrics.cellAcc).toBeGreaterThan(0.99);
    expect(fit.valCellAcc!).toBeGreaterThan(0.99);
    expect(fit.rows).toEqual({ fit: 2700, validation: 300 });
    expect(fit.ridge).toBeGreaterThanOrEqual(1e-6);
    expect(fit.ridge).toBeLessThanOrEqual(100);
  });

  it('stays near the majority baseline on features that carry no board', async () => {
    const xTrain = new Float32Array(3000 * dim).map(() => rng.normal());
    const xTest = new Float32Array(1000 * dim).map(() => rng.normal());
    const fit = await fitLinearProbe(be, new MemoryRows(xTrain, 3000, dim), train.labels, 3, { epochs: 2, seed: 3 });
    const probe = probeMetrics(await applyProbe(be, fit.probe, xTest, 1000), test.labels, test.moves);
    const majority = probeMetrics(majorityPredictions(majorityTable(train.labels, train.moves, 3, 59), test.moves), test.labels, test.moves);
    // Empty is the majority everywhere here: 50% of cells.
    expect(majority.cellAcc).toBeGreaterThan(0.47);
    expect(majority.cellAcc).toBeLessThan(0.53);
    expect(Math.abs(probe.cellAcc - majority.cellAcc)).toBeLessThan(0.04);
    expect(probe.boardAcc).toBe(0);
  });

  it('fits the same probe from chunked rows as from one block', async () => {
    const rows = 500;
    const x = plantedFeatures(rng, train.labels.subarray(0, rows * SQUARES), rows, 16, code, 1);
    const labels = train.labels.subarray(0, rows * SQUARES);
    const whole = await fitLinearProbe(be, new MemoryRows(x, rows, 16), labels, 3, { epochs: 0 });
    // A source that serves at most 7 rows per chunk, whatever is asked.
    const source = new MemoryRows(x, rows, 16);
    const tiny = { rows, dim: 16, chunks: (max: number) => source.chunks(Math.min(max, 7)) };
    const chunked = await fitLinearProbe(be, tiny, labels, 3, { epochs: 0 });
    for (let i = 0; i < whole.probe.weight.length; i++) expect(chunked.probe.weight[i]).toBeCloseTo(whole.probe.weight[i], 3);
    expect(Array.from(chunked.probe.mean)).toEqual(Array.from(whole.probe.mean).map((v) => expect.closeTo(v, 5)));
  });

  it('recovers the code from fewer rows than features (the dual ridge path)', async () => {
    const wide = 400;
    const wideCode = new Float32Array(SQUARES * 3 * wide).map(() => rng.normal());
    const xTrain = plantedFeatures(rng, train.labels.subarray(0, 300 * SQUARES), 300, wide, wideCode, 0.1);
    const xTest = plantedFeatures(rng, test.labels, 1000, wide, wideCode, 0.1);
    const fit = await fitLinearProbe(be, new MemoryRows(xTrain, 300, wide), train.labels.subarray(0, 300 * SQUARES), 3, { epochs: 0 });
    const metrics = probeMetrics(await applyProbe(be, fit.probe, xTest, 1000), test.labels, test.moves);
    expect(metrics.cellAcc).toBeGreaterThan(0.95);
  });

  it('rejects labels that do not fit the rows or the classes', async () => {
    const x = new MemoryRows(new Float32Array(2 * 4), 2, 4);
    await expect(fitLinearProbe(be, x, new Uint8Array(64), 3)).rejects.toThrow(/128 labels|64 labels for 2 rows/);
    await expect(fitLinearProbe(be, x, new Uint8Array(128).fill(3), 3)).rejects.toThrow(/label 3 at 0 is not below 3 classes/);
  });
});

describe('ridge solvers', () => {
  it('give the same weights in primal (D x D) and dual (n x n) form', async () => {
    const rng = new Rng(8);
    for (const [n, D] of [[30, 50], [50, 30]]) {
      const z = new Float32Array(n * D).map(() => rng.normal());
      // Centre the columns, as the standardised features are.
      for (let k = 0; k < D; k++) {
        let m = 0;
        for (let i = 0; i < n; i++) m += z[i * D + k] / n;
        for (let i = 0; i < n; i++) z[i * D + k] -= m;
      }
      const y = new Uint8Array(n * SQUARES).map(() => rng.nextInt(3));
      // A probe of mean 0 and scale 1: its standardisation leaves z as it is.
      const device = new DeviceProbe(be, zeroProbe(D, 3));
      device.setWeight(be.upload(new Float32Array(SQUARES * 3 * D), [SQUARES * 3, D]));
      const zt = be.upload(z, [n, D]);
      const oneHot = new Float32Array(n * SQUARES * 3);
      for (let i = 0; i < n; i++) for (let s = 0; s < SQUARES; s++) oneHot[i * SQUARES * 3 + s * 3 + y[i * SQUARES + s]] = 1;
      const gram = be.matmul(zt, zt, { transA: true });
      const zty = be.matmul(be.upload(oneHot, [n, SQUARES * 3]), zt, { transA: true });
      const primal = await be.download(await primalSolver(be, gram, zty).solve(0.5));
      const dual = await be.download(await dualSolver(device, z, Int32Array.from({ length: n }, (_, i) => i), y).solve(0.5));
      for (let i = 0; i < primal.length; i++) expect(dual[i]).toBeCloseTo(primal[i], 4);
    }
  });
});

describe('solveRidge', () => {
  it('agrees with ml-matrix Cholesky on a random system', () => {
    const rng = new Rng(5);
    const D = 37;
    const K = 5;
    const rows = 60;
    const x = Matrix.from1DArray(rows, D, Array.from({ length: rows * D }, () => rng.normal()));
    const gram = x.transpose().mmul(x);
    const rhs = Matrix.from1DArray(K, D, Array.from({ length: K * D }, () => rng.normal()));
    const lambda = 0.3;
    const ours = solveRidge(Float64Array.from(gram.to1DArray()), D, lambda, Float64Array.from(rhs.to1DArray()), K);
    const reference = new CholeskyDecomposition(gram.clone().add(Matrix.eye(D).mul(lambda))).solve(rhs.transpose()).transpose();
    const expected = reference.to1DArray();
    for (let i = 0; i < expected.length; i++) expect(ours[i]).toBeCloseTo(expected[i], 9);
  });
});

describe('blocked Cholesky solve', () => {
  it('agrees with ml-matrix across several blocks and a ragged last block', () => {
    const rng = new Rng(6);
    const D = 150;
    const K = 7;
    const rows = 200;
    const x = Matrix.from1DArray(rows, D, Array.from({ length: rows * D }, () => rng.normal()));
    const gram = x.transpose().mmul(x);
    const rhs = Matrix.from1DArray(K, D, Array.from({ length: K * D }, () => rng.normal()));
    const lambda = 2;
    const ours = solveRidge(Float64Array.from(gram.to1DArray()), D, lambda, Float64Array.from(rhs.to1DArray()), K);
    const expected = new CholeskyDecomposition(gram.clone().add(Matrix.eye(D).mul(lambda))).solve(rhs.transpose()).transpose().to1DArray();
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(ours[i] - expected[i]) / (1e-9 + Math.abs(expected[i])));
    expect(worst).toBeLessThan(1e-8);
    const l = choleskyLower(Float64Array.from(gram.to1DArray()), D)!;
    const reference = new CholeskyDecomposition(gram).lowerTriangularMatrix.to1DArray();
    for (let i = 0; i < reference.length; i++) expect(l[i]).toBeCloseTo(reference[i], 8);
  });
});
