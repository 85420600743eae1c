/**
 * Fitting a linear board probe (linear-probe.ts) on feature rows with per-square class labels.
 * A few of the rows (the caller's `validation` mask: whole games) are held back to pick the
 * regularisation; the rest are fitted:
 *
 *   1. statistics: mean and standard deviation of every feature (one pass);
 *   2. closed-form ridge start: least squares from standardised features to one-hot labels,
 *      W = (Z^T Z + lambda n I)^-1 Z^T Y, bias = class frequencies (one pass for Z^T Z and Z^T Y,
 *      then one Cholesky solve per lambda tried: from 0.01 n in tenfold steps while the validation cell
 *      accuracy improves), scaled into logits by the factor of lowest cross-entropy;
 *   3. epochs of softmax cross-entropy descent (Adam, minibatches shuffled within each chunk, cosine
 *      learning rate, decoupled weight decay), each a pass over the rows, checked on the validation
 *      rows four times an epoch: the best weights are kept (the ridge start counts as epoch 0) and the
 *      descent stops after two checks in a row without a gain.
 * With fewer fitted rows than features the ridge is solved in its dual form (an n x n system).
 * Wide features (the SSM state: D = E * N) overfit a few thousand rows without the validated lambda
 * and the early stop; narrow ones (the residual stream) are barely affected by either.
 * Every pass streams the RowSource chunk by chunk, so memory is one chunk, the validation rows, the
 * (D, D) Gram matrix and the probe, whatever the number of rows.
 *
 * Everything past the statistics runs through Backend ops (the products, the Cholesky solves, the
 * softmax, Adam, the arg max), so the same code fits on the cpu backend's threads or on the GPU; the
 * host gathers rows, keeps score and chooses. The statistics stay on the host in float64: one
 * memory-bound pass, and exactly the standardisation a probe is saved with.
 */
import type { Backend, Tensor } from '../src/backend/backend.js';
import { Rng } from '../src/util/rng.js';
import { DeviceProbe } from './device-probe.js';
import { zeroProbe, type LinearProbe } from './linear-probe.js';
import { chunkRowsFor, type RowSource } from './row-source.js';
import { SQUARES } from './targets.js';

export interface FitOptions {
  /**
   * Ridge penalty per row (lambda = ridge * fitted rows). With validation rows it is only the start of
   * a search: tenfold steps down, then up, while the validation cell accuracy improves.
   */
  ridge: number;
  /** Most descent epochs after the ridge start (0 = ridge only). */
  epochs: number;
  /** Rows per descent step. */
  batchRows: number;
  /**
   * Peak Adam learning rate (cosine-decayed to a tenth over the epochs) times the feature count D.
   * Adam moves every weight by about lr per step, so a logit moves by about lr * D: dividing by D
   * keeps that step alike for the residual stream (D = 64: lr 3e-3) and the state (D = 2048: 1e-4).
   */
  lrScale: number;
  /** Decoupled weight decay on the weights (not the biases). */
  weightDecay: number;
  /** Seeds the minibatch shuffle. */
  seed: number;
  /** Per row, 1 = held back for validation (not fitted). Absent: every row is fitted, nothing is validated. */
  validation?: Uint8Array;
  /** Written into the probe (target, source, layer...). */
  meta?: Record<string, string>;
}

/**
 * One epoch of 256-row steps reaches what three epochs of 1024-row steps did (within 0.05 points of
 * held-out cell accuracy on the residual stream of `tiny`) in a third of the time.
 */
export const DEFAULT_FIT: Omit<FitOptions, 'validation' | 'meta'> = { ridge: 0.01, epochs: 1, batchRows: 256, lrScale: 0.2, weightDecay: 1e-4, seed: 1 };

export interface FitResult {
  probe: LinearProbe;
  /** The chosen ridge penalty (per row). */
  ridge: number;
  /** Descent epochs kept (0 = the ridge start was best or no descent was asked for). */
  epochs: number;
  /** Cell accuracy on the fitted rows (running over the epoch of the weights kept, up to them; null for the ridge start). */
  trainCellAcc: number | null;
  /** Cell accuracy on the validation rows (null without validation rows). */
  valCellAcc: number | null;
  /** Rows fitted and rows validated. */
  rows: { fit: number; validation: number };
  seconds: { stats: number; ridge: number; descent: number };
}

/** Fits a probe on x: (rows, D) with labels (rows, 64) in 0..classes-1, on the backend `be`. */
export async function fitLinearProbe(be: Backend, x: RowSource, labels: Uint8Array, classes: number, options: Partial<FitOptions> = {}): Promise<FitResult> {
  const opts = { ...DEFAULT_FIT, ...options };
  const D = x.dim;
  if (labels.length !== x.rows * SQUARES) throw new Error(`fitLinearProbe: ${labels.length} labels for ${x.rows} rows of ${SQUARES} squares`);
  for (let i = 0; i < labels.length; i++) if (labels[i] >= classes) throw new Error(`fitLinearProbe: label ${labels[i]} at ${i} is not below ${classes} classes`);
  const held = opts.validation ?? new Uint8Array(x.rows);
  if (held.length !== x.rows) throw new Error(`fitLinearProbe: validation mask of ${held.length} rows for ${x.rows} rows`);
  let heldRows = 0;
  for (let r = 0; r < x.rows; r++) heldRows += held[r] ? 1 : 0;
  const fitRows = x.rows - heldRows;
  if (fitRows === 0) throw new Error('fitLinearProbe: no rows to fit');
  const chunkRows = chunkRowsFor(D);
  const probe = zeroProbe(D, classes, opts.meta ?? {});

  let t0 = performance.now();
  featureStatistics(x, held, probe);
  const stats = (performance.now() - t0) / 1000;

  const device = new DeviceProbe(be, probe);
  let validation: Validation | null = null;
  try {
    t0 = performance.now();
    const start = await ridgeStart(x, labels, held, fitRows, heldRows, chunkRows, device, opts.ridge);
    validation = start.validation;
    const ridgeSeconds = (performance.now() - t0) / 1000;

    t0 = performance.now();
    const descent = opts.epochs > 0 ? await gradientDescent(x, labels, held, fitRows, chunkRows, device, validation, opts) : null;
    if (!descent) await device.toHost();
    return {
      probe,
      ridge: start.ridge,
      epochs: descent ? descent.epochs : 0,
      trainCellAcc: descent ? descent.trainCellAcc : null,
      valCellAcc: validation ? (descent ? descent.valCellAcc : await cellAccuracy(device, validation)) : null,
      rows: { fit: fitRows, validation: heldRows },
      seconds: { stats, ridge: ridgeSeconds, descent: (performance.now() - t0) / 1000 },
    };
  } finally {
    device.dispose();
    if (validation) be.dispose(validation.z);
  }
}

/**
 * Sets out.mean and out.invStd from the fitted rows (those `held` does not mark; every row without it)
 * and returns their count. invStd is 0 for a constant feature, which then drops out.
 */
export function featureStatistics(x: RowSource, held: Uint8Array | null, out: Pick<LinearProbe, 'mean' | 'invStd'>): number {
  const D = x.dim;
  // Sums of (x - shift) with shift = the first fitted row, so the variance does not cancel catastrophically.
  const shift = new Float64Array(D);
  const sum = new Float64Array(D);
  const sumSq = new Float64Array(D);
  let rows = 0;
  for (const chunk of x.chunks(chunkRowsFor(D))) {
    for (let r = 0; r < chunk.rows; r++) {
      if (held && held[chunk.start + r]) continue;
      const o = r * D;
      if (rows++ === 0) for (let k = 0; k < D; k++) shift[k] = chunk.data[o + k];
      for (let k = 0; k < D; k++) {
        const v = chunk.data[o + k] - shift[k];
        sum[k] += v;
        sumSq[k] += v * v;
      }
    }
  }
  for (let k = 0; k < D; k++) {
    const m = sum[k] / Math.max(1, rows);
    const std = Math.sqrt(Math.max(0, sumSq[k] / Math.max(1, rows) - m * m));
    out.mean[k] = shift[k] + m;
    // A feature that does not vary (up to float noise) carries nothing: weight it out.
    out.invStd[k] = std > 1e-7 * Math.max(1, Math.abs(out.mean[k])) ? 1 / std : 0;
  }
  return rows;
}

/** The fitted rows of a chunk, compacted: their indices within the chunk. */
function fittedRowsOf(held: Uint8Array, start: number, rows: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) if (!held[start + r]) out.push(r);
  return out;
}

/** The validation rows: standardised on the backend, labels on the host. */
interface Validation {
  rows: number;
  /** (rows, D) */
  z: Tensor;
  /** (rows, 64) */
  labels: Uint8Array;
}

/** One-hot labels (rows, 64 C) of rows `rows` of `labels` (row r of the result: labels row rows[r]). */
function oneHot(labels: Uint8Array, rows: ArrayLike<number>, C: number): Float32Array {
  const K = SQUARES * C;
  const out = new Float32Array(rows.length * K);
  for (let i = 0; i < rows.length; i++) {
    const o = rows[i] * SQUARES;
    for (let s = 0; s < SQUARES; s++) out[i * K + s * C + labels[o + s]] = 1;
  }
  return out;
}

/** Closed-form ridge regression onto one-hot labels, turned into logits (see the file comment). */
async function ridgeStart(
  x: RowSource, labels: Uint8Array, held: Uint8Array, fitRows: number, heldRows: number, chunkRows: number, device: DeviceProbe, startRidge: number,
): Promise<{ validation: Validation | null; ridge: number }> {
  const be = device.be;
  const D = x.dim;
  const C = device.probe.classes;
  const K = SQUARES * C;
  // With fewer rows than features the dual system (n x n) is the smaller one: gather the raw fitted
  // rows (at most D * D floats) and their row numbers.
  const dual = fitRows < D;
  const gram = dual ? null : be.zeros([D, D]);
  // zty: (K, D), row s * C + c = sum of z over fitted rows whose square s has class c.
  const zty = dual ? null : be.zeros([K, D]);
  const xAll = dual ? new Float32Array(fitRows * D) : null;
  const fittedAll = dual ? new Int32Array(fitRows) : null;
  const counts = new Float64Array(K);
  const xb = new Float32Array(chunkRows * D);
  const heldX = heldRows > 0 ? new Float32Array(heldRows * D) : null;
  const heldLabels = new Uint8Array(heldRows * SQUARES);
  let f = 0;
  let v = 0;
  for (const chunk of x.chunks(chunkRows)) {
    const rows = fittedRowsOf(held, chunk.start, chunk.rows);
    for (let r = 0; r < chunk.rows; r++) {
      if (!held[chunk.start + r]) continue;
      heldX!.set(chunk.data.subarray(r * D, (r + 1) * D), v * D);
      heldLabels.set(labels.subarray((chunk.start + r) * SQUARES, (chunk.start + r + 1) * SQUARES), v * SQUARES);
      v++;
    }
    const R = rows.length;
    if (R === 0) continue;
    const global = rows.map((r) => chunk.start + r);
    for (const g of global) for (let s = 0; s < SQUARES; s++) counts[s * C + labels[g * SQUARES + s]]++;
    if (xAll && fittedAll) {
      rows.forEach((r, i) => xAll.set(chunk.data.subarray(r * D, (r + 1) * D), (f + i) * D));
      fittedAll.set(global, f);
      f += R;
      continue;
    }
    rows.forEach((r, i) => xb.set(chunk.data.subarray(r * D, (r + 1) * D), i * D));
    const z = device.standardiseRows(xb, R);
    const y = be.upload(oneHot(labels, global, C), [R, K]);
    be.matmul(z, z, { transA: true, into: gram!, accumulate: true });
    be.matmul(y, z, { transA: true, into: zty!, accumulate: true });
    be.dispose(z);
    be.dispose(y);
  }
  const validation: Validation | null = heldX ? { rows: heldRows, z: device.standardiseRows(heldX, heldRows), labels: heldLabels } : null;
  // Z is centred, so the bias is the class frequency and the weights solve the centred system.
  device.setBias(be.upload(Float32Array.from(counts, (n) => n / fitRows), [K]));
  const solver = xAll && fittedAll ? dualSolver(device, xAll, fittedAll, labels) : primalSolver(be, gram!, zty!);
  try {
    // A penalty whose system is not positive definite at the backend's precision (NaN weights) counts
    // as no better than the last: the search stops there.
    const solveAt = async (ridge: number): Promise<Tensor | null> => {
      const weight = await solver.solve(ridge * fitRows);
      const squares = be.sumOfSquares(weight);
      const finite = Number.isFinite((await be.download(squares))[0]);
      be.dispose(squares);
      if (finite) return weight;
      be.dispose(weight);
      return null;
    };
    let bestRidge = startRidge;
    let best = await solveAt(bestRidge);
    // Without a finite start (float32 on a near-singular system), tenfold up until there is one.
    while (!best) {
      bestRidge = roundRidge(bestRidge * 10);
      if (bestRidge > MAX_RIDGE) throw new Error(`fitLinearProbe: no ridge penalty from ${startRidge} to ${MAX_RIDGE} gives a positive definite system`);
      best = await solveAt(bestRidge);
    }
    if (validation) {
      let bestAcc = await cellAccuracy(device, validation, best);
      const start = bestRidge;
      // Tenfold steps down while the validation accuracy improves; if the first step down does not, up.
      for (const factor of [0.1, 10]) {
        let improved = false;
        for (let k = 1; ; k++) {
          const ridge = roundRidge(start * factor ** k);
          if (ridge < MIN_RIDGE || ridge > MAX_RIDGE) break;
          const weight = await solveAt(ridge);
          if (!weight) break;
          const acc = await cellAccuracy(device, validation, weight);
          if (acc <= bestAcc) {
            be.dispose(weight);
            break;
          }
          improved = true;
          be.dispose(best);
          [best, bestAcc, bestRidge] = [weight, acc, ridge];
        }
        if (improved) break;
      }
    }
    device.setWeight(best);
    await scaleToLogits(device, x, labels, held, chunkRows, validation);
    return { validation, ridge: bestRidge };
  } finally {
    solver.dispose();
  }
}

/** Bounds of the ridge search (per row). */
const MIN_RIDGE = 1e-6;
const MAX_RIDGE = 100;

/** Rounded, so the report says 0.0001 rather than 0.00010000000000000002. */
function roundRidge(ridge: number): number {
  return Number(ridge.toPrecision(6));
}

interface RidgeSolver {
  /** The weights (K, D) for a penalty lambda (NaN where the system is not positive definite). */
  solve(lambda: number): Promise<Tensor>;
  dispose(): void;
}

/** Ridge weights (K, D) from the Gram matrix G = Z^T Z: (D, D) and Z^T Y: (K, D). */
export function primalSolver(be: Backend, gram: Tensor, zty: Tensor): RidgeSolver {
  return {
    solve: (lambda) => be.solveRidge(gram, lambda, zty),
    dispose: () => [gram, zty].forEach((t) => be.dispose(t)),
  };
}

/**
 * The same weights from the dual: W = ((Z Z^T + lambda I)^-1 Y)^T Z, an (n, n) system for n rows, from
 * the raw fitted rows x (n, D) and their row numbers in `labels`. (The one-hot Y need not be centred:
 * Z^T 1 = 0, so the constant part drops out.)
 */
export function dualSolver(device: DeviceProbe, x: Float32Array, rows: Int32Array, labels: Uint8Array): RidgeSolver {
  const be = device.be;
  const n = rows.length;
  const K = SQUARES * device.probe.classes;
  const z = device.standardiseRows(x, n);
  const kernel = be.matmul(z, z, { transB: true });
  // rhs: (K, n), row s * C + c = indicator of class c at square s over the rows.
  const C = device.probe.classes;
  const indicators = new Float32Array(K * n);
  for (let i = 0; i < n; i++) for (let s = 0; s < SQUARES; s++) indicators[(s * C + labels[rows[i] * SQUARES + s]) * n + i] = 1;
  const rhs = be.upload(indicators, [K, n]);
  return {
    solve: async (lambda) => {
      const a = await be.solveRidge(kernel, lambda, rhs);
      const w = be.matmul(a, z);
      be.dispose(a);
      return w;
    },
    dispose: () => [z, kernel, rhs].forEach((t) => be.dispose(t)),
  };
}

/** Cell accuracy on the validation rows of the probe, or of the probe with other weights. */
async function cellAccuracy(device: DeviceProbe, validation: Validation, weight: Tensor = device.weight): Promise<number> {
  const predicted = await device.predict(validation.z, weight);
  let right = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] === validation.labels[i]) right++;
  return right / predicted.length;
}

/**
 * Least-squares outputs approximate class probabilities; softmax(alpha * output) with the alpha of
 * lowest cross-entropy (on the validation rows, else on the first chunk's fitted rows) makes them a
 * sensible starting point for the descent.
 */
async function scaleToLogits(device: DeviceProbe, x: RowSource, labels: Uint8Array, held: Uint8Array, chunkRows: number, validation: Validation | null): Promise<void> {
  const be = device.be;
  const D = x.dim;
  const C = device.probe.classes;
  const K = SQUARES * C;
  let sample: { z: Tensor; labels: Uint8Array; owned: boolean } | null = validation ? { z: validation.z, labels: validation.labels, owned: false } : null;
  if (!validation) {
    for (const chunk of x.chunks(chunkRows)) {
      const rows = fittedRowsOf(held, chunk.start, chunk.rows);
      const xs = new Float32Array(rows.length * D);
      const ls = new Uint8Array(rows.length * SQUARES);
      rows.forEach((r, i) => {
        xs.set(chunk.data.subarray(r * D, (r + 1) * D), i * D);
        ls.set(labels.subarray((chunk.start + r) * SQUARES, (chunk.start + r + 1) * SQUARES), i * SQUARES);
      });
      if (rows.length > 0) sample = { z: device.standardiseRows(xs, rows.length), labels: ls, owned: true };
      break;
    }
  }
  if (!sample) return;
  const outputs = device.logits(sample.z);
  const targets = be.uploadInts(Int32Array.from(sample.labels), [sample.labels.length]);
  const zerosK = be.zeros([K]);
  let bestAlpha = 1;
  let bestLoss = Infinity;
  for (const alpha of [1, 2, 4, 8, 16, 32, 64]) {
    const factor = be.upload(new Float32Array(K).fill(alpha), [K]);
    const scaled = be.shiftScaleColumns(outputs, zerosK, factor);
    const { loss } = be.crossEntropy(be.reshape(scaled, [sample.labels.length, C]), targets, false);
    const value = (await be.download(loss))[0];
    [factor, scaled, loss].forEach((t) => be.dispose(t));
    if (value < bestLoss) {
      bestLoss = value;
      bestAlpha = alpha;
    }
  }
  [outputs, targets].forEach((t) => be.dispose(t));
  if (sample.owned) be.dispose(sample.z);
  const zerosD = be.zeros([D]);
  const alphaD = be.upload(new Float32Array(D).fill(bestAlpha), [D]);
  const alphaK = be.upload(new Float32Array(K).fill(bestAlpha), [K]);
  device.setWeight(be.shiftScaleColumns(device.weight, zerosD, alphaD));
  device.setBias(be.shiftScaleColumns(device.bias, zerosK, alphaK));
  [zerosD, zerosK, alphaD, alphaK].forEach((t) => be.dispose(t));
}

const CHECKS_PER_EPOCH = 4;
const PATIENCE = 2;

/**
 * Adam on the mean per-square cross-entropy with early stopping on the validation rows. Leaves the
 * weights kept in device.probe (host) and returns how far the descent went.
 */
async function gradientDescent(
  x: RowSource, labels: Uint8Array, held: Uint8Array, fitRows: number, chunkRows: number, device: DeviceProbe, validation: Validation | null, opts: FitOptions,
): Promise<{ epochs: number; trainCellAcc: number | null; valCellAcc: number | null }> {
  const be = device.be;
  const probe = device.probe;
  const D = x.dim;
  const C = probe.classes;
  const K = SQUARES * C;
  const B = Math.max(1, opts.batchRows);
  const rng = new Rng(opts.seed, 0x9b0be);
  const moments = [be.zeros([K, D]), be.zeros([K, D]), be.zeros([K]), be.zeros([K])];
  const [mW, vW, mB, vB] = moments;
  const gradB = be.zeros([K]);
  const xb = new Float32Array(B * D);
  const yb = new Int32Array(B * SQUARES);
  const adam = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
  const stepsPerEpoch = Math.ceil(fitRows / B);
  const totalSteps = opts.epochs * stepsPerEpoch;
  // Validation checks: CHECKS_PER_EPOCH per epoch; the descent stops after PATIENCE checks in a row
  // without a better validation accuracy (the wide state rarely gains on its ridge start at all).
  const checkEvery = Math.max(1, Math.ceil(stepsPerEpoch / CHECKS_PER_EPOCH));
  let step = 0;
  let misses = 0;
  let best = { epochs: 0, trainCellAcc: null as number | null, valCellAcc: validation ? await cellAccuracy(device, validation) : null };
  await device.toHost();
  // The fitted rows' decoded squares, compared with their labels at each check: reading them back at
  // every step would wait for the backend step by step.
  let pending: { predicted: Promise<Float32Array>; labels: Int32Array }[] = [];
  let correct = 0;
  let cells = 0;
  /** After each checkEvery steps (and at the end): keep the weights if validation improved; false = stop. */
  const check = async (): Promise<boolean> => {
    for (const p of pending) {
      const predicted = await p.predicted;
      for (let i = 0; i < predicted.length; i++) if (predicted[i] === p.labels[i]) correct++;
      cells += predicted.length;
    }
    pending = [];
    const epochs = Number((step / stepsPerEpoch).toFixed(2));
    const trainCellAcc = correct / cells;
    const valCellAcc = validation ? await cellAccuracy(device, validation) : null;
    if (validation && valCellAcc! <= best.valCellAcc!) return ++misses < PATIENCE;
    misses = 0;
    best = { epochs, trainCellAcc, valCellAcc };
    await device.toHost();
    return true;
  };
  try {
    descent: for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      // The fitted rows' accuracy runs over the epoch so far.
      correct = 0;
      cells = 0;
      pending = [];
      for (const chunk of x.chunks(chunkRows)) {
        const order = fittedRowsOf(held, chunk.start, chunk.rows);
        rng.shuffle(order);
        for (let at = 0; at < order.length; at += B) {
          const R = Math.min(B, order.length - at);
          // Gather the minibatch: xb (R, D) raw, yb (R 64) labels.
          for (let r = 0; r < R; r++) {
            const src = order[at + r];
            xb.set(chunk.data.subarray(src * D, (src + 1) * D), r * D);
            for (let s = 0; s < SQUARES; s++) yb[r * SQUARES + s] = labels[(chunk.start + src) * SQUARES + s];
          }
          const z = device.standardiseRows(xb, R);
          const logits = device.logits(z);
          const targets = be.uploadInts(yb.subarray(0, R * SQUARES), [R * SQUARES]);
          // The loss is the mean over rows of the sum over squares; crossEntropy means over squares
          // too, so its gradient comes out 64 times smaller: AdamW's gradScale puts that back.
          const { loss, dLogits } = be.crossEntropy(be.reshape(logits, [R * SQUARES, C]), targets, true);
          const predicted = device.classes(logits);
          pending.push({ predicted: be.download(predicted), labels: yb.slice(0, R * SQUARES) });
          const dl = be.reshape(dLogits!, [R, K]);
          const gradW = be.matmul(dl, z, { transA: true });
          be.biasGrad(dl, gradB);
          const progress = totalSteps > 1 ? step / (totalSteps - 1) : 1;
          const lr = (opts.lrScale / D) * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress))));
          step++;
          be.adamwUpdate(device.weight, gradW, mW, vW, { ...adam, lr, weightDecay: opts.weightDecay, step, gradScale: SQUARES });
          be.adamwUpdate(device.bias, gradB, mB, vB, { ...adam, lr, weightDecay: 0, step, gradScale: SQUARES });
          [z, logits, targets, loss, predicted, dl, gradW].forEach((t) => be.dispose(t));
          if ((step % checkEvery === 0 || step === totalSteps) && !(await check())) break descent;
        }
      }
    }
  } finally {
    [...moments, gradB].forEach((t) => be.dispose(t));
  }
  return best;
}
