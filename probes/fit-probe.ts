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
 */
import { Rng } from '../src/util/rng.js';
import { argmaxClasses, logitsFromStandardised, standardise, zeroProbe, type LinearProbe } from './linear-probe.js';
import { addGram, gemmNT, mirrorUpper, transpose } from './probe-math.js';
import { solveRidge } from './ridge-solve.js';
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

interface Validation {
  rows: number;
  /** Raw features (rows, D) and labels (rows, 64). */
  x: Float32Array;
  labels: Uint8Array;
}

/** Fits a probe on x: (rows, D) with labels (rows, 64) in 0..classes-1. */
export function fitLinearProbe(x: RowSource, labels: Uint8Array, classes: number, options: Partial<FitOptions> = {}): FitResult {
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
  const chunkRows = Math.min(16384, chunkRowsFor(D));
  const probe = zeroProbe(D, classes, opts.meta ?? {});

  let t0 = performance.now();
  featureStatistics(x, held, fitRows, chunkRows, probe);
  const stats = (performance.now() - t0) / 1000;

  t0 = performance.now();
  const { validation, ridge } = ridgeStart(x, labels, held, fitRows, heldRows, chunkRows, probe, opts.ridge);
  const ridgeSeconds = (performance.now() - t0) / 1000;

  t0 = performance.now();
  const descent = opts.epochs > 0 ? gradientDescent(x, labels, held, fitRows, chunkRows, probe, validation, opts) : null;
  return {
    probe,
    ridge,
    epochs: descent ? descent.epochs : 0,
    trainCellAcc: descent ? descent.trainCellAcc : null,
    valCellAcc: validation ? (descent ? descent.valCellAcc : cellAccuracy(probe, validation)) : null,
    rows: { fit: fitRows, validation: heldRows },
    seconds: { stats, ridge: ridgeSeconds, descent: (performance.now() - t0) / 1000 },
  };
}

/** Sets probe.mean and probe.invStd from the fitted rows (invStd 0 for a constant feature, which then drops out). */
function featureStatistics(x: RowSource, held: Uint8Array, fitRows: number, chunkRows: number, probe: LinearProbe): void {
  const D = x.dim;
  // Sums of (x - shift) with shift = the first fitted row, so the variance does not cancel catastrophically.
  const shift = new Float64Array(D);
  const sum = new Float64Array(D);
  const sumSq = new Float64Array(D);
  let first = true;
  for (const chunk of x.chunks(chunkRows)) {
    for (let r = 0; r < chunk.rows; r++) {
      if (held[chunk.start + r]) continue;
      const o = r * D;
      if (first) {
        for (let k = 0; k < D; k++) shift[k] = chunk.data[o + k];
        first = false;
      }
      for (let k = 0; k < D; k++) {
        const v = chunk.data[o + k] - shift[k];
        sum[k] += v;
        sumSq[k] += v * v;
      }
    }
  }
  for (let k = 0; k < D; k++) {
    const m = sum[k] / fitRows;
    const std = Math.sqrt(Math.max(0, sumSq[k] / fitRows - m * m));
    probe.mean[k] = shift[k] + m;
    // A feature that does not vary (up to float noise) carries nothing: weight it out.
    probe.invStd[k] = std > 1e-7 * Math.max(1, Math.abs(probe.mean[k])) ? 1 / std : 0;
  }
}

/** The fitted rows of a chunk, compacted: their indices within the chunk. */
function fittedRowsOf(held: Uint8Array, start: number, rows: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) if (!held[start + r]) out.push(r);
  return out;
}

/** Closed-form ridge regression onto one-hot labels, turned into logits (see the file comment). */
function ridgeStart(
  x: RowSource, labels: Uint8Array, held: Uint8Array, fitRows: number, heldRows: number, chunkRows: number, probe: LinearProbe, startRidge: number,
): { validation: Validation | null; ridge: number } {
  const D = x.dim;
  const C = probe.classes;
  const K = SQUARES * C;
  const dual = fitRows < D;
  const gram = new Float64Array(dual ? 0 : D * D);
  // zty: (K, D), row s * C + c = sum of z over fitted rows whose square s has class c.
  const zty = new Float64Array(dual ? 0 : K * D);
  const counts = new Float64Array(K);
  const zSum = new Float64Array(D);
  const xb = new Float32Array(chunkRows * D);
  const z = new Float32Array(chunkRows * D);
  const zT = new Float32Array(chunkRows * D);
  // With fewer rows than features the dual system (n x n) is the smaller one: keep Z (n, D), at most
  // D * D floats, and the labels of the fitted rows.
  const zAll = dual ? new Float32Array(fitRows * D) : null;
  const yAll = dual ? new Uint8Array(fitRows * SQUARES) : null;
  let f = 0;
  const validation: Validation | null = heldRows > 0 ? { rows: heldRows, x: new Float32Array(heldRows * D), labels: new Uint8Array(heldRows * SQUARES) } : null;
  let v = 0;
  for (const chunk of x.chunks(chunkRows)) {
    const rows = fittedRowsOf(held, chunk.start, chunk.rows);
    rows.forEach((r, i) => xb.set(chunk.data.subarray(r * D, (r + 1) * D), i * D));
    if (validation) {
      for (let r = 0; r < chunk.rows; r++) {
        if (!held[chunk.start + r]) continue;
        validation.x.set(chunk.data.subarray(r * D, (r + 1) * D), v * D);
        validation.labels.set(labels.subarray((chunk.start + r) * SQUARES, (chunk.start + r + 1) * SQUARES), v * SQUARES);
        v++;
      }
    }
    const R = rows.length;
    if (R === 0) continue;
    standardise(probe, xb, R, z);
    if (zAll && yAll) {
      zAll.set(z.subarray(0, R * D), f * D);
      rows.forEach((r, i) => yAll.set(labels.subarray((chunk.start + r) * SQUARES, (chunk.start + r + 1) * SQUARES), (f + i) * SQUARES));
      f += R;
      for (let i = 0; i < R; i++) for (let s = 0; s < SQUARES; s++) counts[s * C + labels[(chunk.start + rows[i]) * SQUARES + s]]++;
      continue;
    }
    transpose(z, R, D, zT);
    addGram(zT, D, R, gram);
    // Class 0 (empty, unflipped, illegal: the commonest) is skipped here and filled in below from
    // the sum of all rows, which saves about half of these D-wide additions on a board target.
    for (let i = 0; i < R; i++) {
      const zo = i * D;
      const lo = (chunk.start + rows[i]) * SQUARES;
      for (let j = 0; j < D; j++) zSum[j] += z[zo + j];
      for (let s = 0; s < SQUARES; s++) {
        const c = labels[lo + s];
        const k = s * C + c;
        counts[k]++;
        if (c === 0) continue;
        const row = k * D;
        for (let j = 0; j < D; j++) zty[row + j] += z[zo + j];
      }
    }
  }
  if (!dual) {
    for (let s = 0; s < SQUARES; s++) {
      const row0 = s * C * D;
      for (let j = 0; j < D; j++) {
        let rest = 0;
        for (let c = 1; c < C; c++) rest += zty[row0 + c * D + j];
        zty[row0 + j] = zSum[j] - rest;
      }
    }
  }
  // Z is centred, so the bias is the class frequency and the weights solve the centred system.
  for (let k = 0; k < K; k++) probe.bias[k] = counts[k] / fitRows;
  const solve = zAll && yAll ? dualSolver(zAll, yAll, fitRows, D, C) : primalSolver(gram, zty, D, K);
  probe.weight.set(solve(startRidge * fitRows));
  let bestRidge = startRidge;
  if (validation) {
    let bestAcc = cellAccuracy(probe, validation);
    let bestWeight = Float32Array.from(probe.weight);
    // Tenfold steps down while the validation accuracy improves; if the first step down does not, up.
    for (const factor of [0.1, 10]) {
      let improved = false;
      for (let k = 1; ; k++) {
        // Rounded, so the report says 0.0001 rather than 0.00010000000000000002.
        const ridge = Number((startRidge * factor ** k).toPrecision(6));
        if (ridge < MIN_RIDGE || ridge > MAX_RIDGE) break;
        probe.weight.set(solve(ridge * fitRows));
        const acc = cellAccuracy(probe, validation);
        if (acc <= bestAcc) break;
        improved = true;
        bestAcc = acc;
        bestRidge = ridge;
        bestWeight = Float32Array.from(probe.weight);
      }
      if (improved) break;
    }
    probe.weight.set(bestWeight);
  }
  scaleToLogits(x, labels, held, chunkRows, probe, validation);
  return { validation, ridge: bestRidge };
}

/** Bounds of the ridge search (per row). */
const MIN_RIDGE = 1e-6;
const MAX_RIDGE = 100;

/** Ridge weights (K, D) for a penalty lambda from the Gram matrix G = Z^T Z (upper triangle) and Z^T Y. */
export function primalSolver(gram: Float64Array, zty: Float64Array, D: number, K: number): (lambda: number) => Float32Array {
  mirrorUpper(gram, D);
  return (lambda) => Float32Array.from(solveRidge(gram, D, lambda, zty, K));
}

/**
 * The same weights from the dual: W = ((Z Z^T + lambda I)^-1 Y)^T Z, an (n, n) system for n rows.
 * (The one-hot Y need not be centred: Z^T 1 = 0, so the constant part drops out.)
 */
export function dualSolver(z: Float32Array, y: Uint8Array, n: number, D: number, C: number): (lambda: number) => Float32Array {
  const K = SQUARES * C;
  const kernel = new Float64Array(n * n);
  gemmNT(z, z, kernel, n, n, D, false, true);
  mirrorUpper(kernel, n);
  // rhs: (K, n), row s * C + c = indicator of class c at square s over the rows.
  const rhs = new Float64Array(K * n);
  for (let i = 0; i < n; i++) for (let s = 0; s < SQUARES; s++) rhs[(s * C + y[i * SQUARES + s]) * n + i] = 1;
  const zT = new Float32Array(n * D);
  transpose(z, n, D, zT);
  return (lambda) => {
    const a = Float32Array.from(solveRidge(kernel, n, lambda, rhs, K));
    const w = new Float32Array(K * D);
    gemmNT(a, zT, w, K, D, n, false);
    return w;
  };
}

/** Cell accuracy of the probe on the validation rows. */
function cellAccuracy(probe: LinearProbe, validation: Validation): number {
  const D = probe.dim;
  const K = SQUARES * probe.classes;
  const block = 2048;
  const z = new Float32Array(block * D);
  const logits = new Float32Array(block * K);
  const predicted = new Uint8Array(block * SQUARES);
  let right = 0;
  for (let start = 0; start < validation.rows; start += block) {
    const R = Math.min(block, validation.rows - start);
    standardise(probe, validation.x.subarray(start * D, (start + R) * D), R, z);
    logitsFromStandardised(probe, z, R, logits);
    argmaxClasses(logits, R, probe.classes, predicted);
    const labels = validation.labels.subarray(start * SQUARES, (start + R) * SQUARES);
    for (let i = 0; i < R * SQUARES; i++) if (predicted[i] === labels[i]) right++;
  }
  return right / (validation.rows * SQUARES);
}

/**
 * Least-squares outputs approximate class probabilities; softmax(alpha * output) with the alpha of
 * lowest cross-entropy (on the validation rows, else on the first chunk) makes them a sensible
 * starting point for the descent.
 */
function scaleToLogits(x: RowSource, labels: Uint8Array, held: Uint8Array, chunkRows: number, probe: LinearProbe, validation: Validation | null): void {
  const D = x.dim;
  const C = probe.classes;
  const K = SQUARES * C;
  let sample: { x: Float32Array; labels: Uint8Array; rows: number } | null = null;
  if (validation) {
    const rows = Math.min(validation.rows, 8192);
    sample = { x: validation.x.subarray(0, rows * D), labels: validation.labels.subarray(0, rows * SQUARES), rows };
  } else {
    for (const chunk of x.chunks(Math.min(chunkRows, 8192))) {
      const rows = fittedRowsOf(held, chunk.start, chunk.rows);
      const xs = new Float32Array(rows.length * D);
      const ls = new Uint8Array(rows.length * SQUARES);
      rows.forEach((r, i) => {
        xs.set(chunk.data.subarray(r * D, (r + 1) * D), i * D);
        ls.set(labels.subarray((chunk.start + r) * SQUARES, (chunk.start + r + 1) * SQUARES), i * SQUARES);
      });
      sample = { x: xs, labels: ls, rows: rows.length };
      break;
    }
  }
  if (!sample || sample.rows === 0) return;
  const z = new Float32Array(sample.rows * D);
  standardise(probe, sample.x, sample.rows, z);
  const outputs = new Float32Array(sample.rows * K);
  logitsFromStandardised(probe, z, sample.rows, outputs);
  let bestAlpha = 1;
  let bestLoss = Infinity;
  for (const alpha of [1, 2, 4, 8, 16, 32, 64]) {
    let loss = 0;
    for (let r = 0; r < sample.rows; r++) {
      for (let s = 0; s < SQUARES; s++) {
        const o = (r * SQUARES + s) * C;
        let max = -Infinity;
        for (let c = 0; c < C; c++) max = Math.max(max, alpha * outputs[o + c]);
        let sum = 0;
        for (let c = 0; c < C; c++) sum += Math.exp(alpha * outputs[o + c] - max);
        loss += Math.log(sum) + max - alpha * outputs[o + sample.labels[r * SQUARES + s]];
      }
    }
    if (loss < bestLoss) {
      bestLoss = loss;
      bestAlpha = alpha;
    }
  }
  for (let i = 0; i < probe.weight.length; i++) probe.weight[i] *= bestAlpha;
  for (let i = 0; i < probe.bias.length; i++) probe.bias[i] *= bestAlpha;
}

const CHECKS_PER_EPOCH = 4;
const PATIENCE = 2;

/** Adam on the mean per-square cross-entropy with early stopping on the validation rows. */
function gradientDescent(
  x: RowSource, labels: Uint8Array, held: Uint8Array, fitRows: number, chunkRows: number, probe: LinearProbe, validation: Validation | null, opts: FitOptions,
): { epochs: number; trainCellAcc: number | null; valCellAcc: number | null } {
  const D = x.dim;
  const C = probe.classes;
  const K = SQUARES * C;
  const B = Math.max(1, opts.batchRows);
  const rng = new Rng(opts.seed, 0x9b0be);
  const mW = new Float32Array(K * D);
  const vW = new Float32Array(K * D);
  const mB = new Float32Array(K);
  const vB = new Float32Array(K);
  const gradW = new Float32Array(K * D);
  const gradB = new Float32Array(K);
  const zb = new Float32Array(B * D);
  const zbT = new Float32Array(B * D);
  const xb = new Float32Array(B * D);
  const logits = new Float32Array(B * K);
  const dlT = new Float32Array(B * K);
  const yb = new Uint8Array(B * SQUARES);
  const beta1 = 0.9;
  const beta2 = 0.999;
  const eps = 1e-8;
  const stepsPerEpoch = Math.ceil(fitRows / B);
  const totalSteps = opts.epochs * stepsPerEpoch;
  // Validation checks: CHECKS_PER_EPOCH per epoch; the descent stops after PATIENCE checks in a row
  // without a better validation accuracy (the wide state rarely gains on its ridge start at all).
  const checkEvery = Math.max(1, Math.ceil(stepsPerEpoch / CHECKS_PER_EPOCH));
  let step = 0;
  let misses = 0;
  let best = { epochs: 0, trainCellAcc: null as number | null, valCellAcc: validation ? cellAccuracy(probe, validation) : null };
  let bestWeight = Float32Array.from(probe.weight);
  let bestBias = Float32Array.from(probe.bias);
  let correct = 0;
  let cells = 0;
  /** After each checkEvery steps (and at the end): keep the weights if validation improved; false = stop. */
  const check = (): boolean => {
    const epochs = Number((step / stepsPerEpoch).toFixed(2));
    const trainCellAcc = correct / cells;
    if (!validation) {
      best = { epochs, trainCellAcc, valCellAcc: null };
      return true;
    }
    const valCellAcc = cellAccuracy(probe, validation);
    if (valCellAcc <= best.valCellAcc!) return ++misses < PATIENCE;
    misses = 0;
    best = { epochs, trainCellAcc, valCellAcc };
    bestWeight = Float32Array.from(probe.weight);
    bestBias = Float32Array.from(probe.bias);
    return true;
  };
  descent: for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    // The fitted rows' accuracy runs over the epoch so far.
    correct = 0;
    cells = 0;
    for (const chunk of x.chunks(chunkRows)) {
      const order = fittedRowsOf(held, chunk.start, chunk.rows);
      rng.shuffle(order);
      for (let at = 0; at < order.length; at += B) {
        const R = Math.min(B, order.length - at);
        // Gather the minibatch: xb (R, D) raw, yb (R, 64) labels.
        for (let r = 0; r < R; r++) {
          const src = order[at + r];
          xb.set(chunk.data.subarray(src * D, (src + 1) * D), r * D);
          yb.set(labels.subarray((chunk.start + src) * SQUARES, (chunk.start + src + 1) * SQUARES), r * SQUARES);
        }
        standardise(probe, xb, R, zb);
        // logits: (R, K)
        logitsFromStandardised(probe, zb, R, logits);
        // dlT: (K, R) = dLoss/dlogits transposed; loss = mean over rows of the sum over squares.
        gradB.fill(0);
        for (let r = 0; r < R; r++) {
          for (let s = 0; s < SQUARES; s++) {
            const o = r * K + s * C;
            const y = yb[r * SQUARES + s];
            let max = -Infinity;
            let arg = 0;
            for (let c = 0; c < C; c++) {
              if (logits[o + c] > max) {
                max = logits[o + c];
                arg = c;
              }
            }
            if (arg === y) correct++;
            cells++;
            let sum = 0;
            for (let c = 0; c < C; c++) {
              logits[o + c] = Math.exp(logits[o + c] - max);
              sum += logits[o + c];
            }
            for (let c = 0; c < C; c++) {
              const g = (logits[o + c] / sum - (c === y ? 1 : 0)) / R;
              dlT[(s * C + c) * R + r] = g;
              gradB[s * C + c] += g;
            }
          }
        }
        // gradW: (K, D) = dl^T z
        transpose(zb, R, D, zbT);
        gemmNT(dlT, zbT, gradW, K, D, R, false);
        const progress = totalSteps > 1 ? step / (totalSteps - 1) : 1;
        const lr = (opts.lrScale / D) * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress))));
        step++;
        adam(probe.weight, gradW, mW, vW, lr, beta1, beta2, eps, step, opts.weightDecay);
        adam(probe.bias, gradB, mB, vB, lr, beta1, beta2, eps, step, 0);
        if ((step % checkEvery === 0 || step === totalSteps) && !check()) break descent;
      }
    }
  }
  if (validation) {
    probe.weight.set(bestWeight);
    probe.bias.set(bestBias);
  }
  return best;
}

function adam(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lr: number, beta1: number, beta2: number, eps: number, step: number, weightDecay: number): void {
  const c1 = 1 - Math.pow(beta1, step);
  const c2 = 1 - Math.pow(beta2, step);
  for (let i = 0; i < p.length; i++) {
    m[i] = beta1 * m[i] + (1 - beta1) * g[i];
    v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
    p[i] -= lr * ((m[i] / c1) / (Math.sqrt(v[i] / c2) + eps) + weightDecay * p[i]);
  }
}
