/**
 * One probe run, start to finish: load a checkpoint and an Othello dataset, capture activations of
 * probe-training games (the dataset's train split) and held-out games (its val split), fit one linear
 * probe per layer and source, score them, and do the same on a randomly initialised model of the same
 * config (the control), next to the majority baseline. Returns the report; probe-report-files.ts
 * writes it.
 *
 * Memory: features go to scratch files (FeatureFile) and are read back in chunks of about 32 MB, so the
 * resident set is the games, their labels (64 bytes per position) and one chunk, plus per probe its
 * (D, D) Gram matrix while fitting (32 MB at D = 2048) — not the activations, whatever --games is.
 * Disk: residual 4 * d * (n_layers + 1) bytes per position; state 4 * E * N * n_layers bytes per kept
 * position, which is why the state is subsampled (--state-positions per game, default 4): for `tiny`
 * with 10,000 probe-training games (about 580,000 positions) that is about 0.75 GB of residual and 1.3 GB
 * of state rows, and 37 MB of labels in memory; the files are removed as soon as they are scored.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MANIFEST_FILE } from '../datasets/format.js';
import { openDataset } from '../datasets/reader.js';
import { othelloLabels } from '../games/othello/labels.js';
import { createBackend, type BackendName } from '../src/backend/index.js';
import { MambaLM } from '../src/model/mamba.js';
import { initParameters } from '../src/model/params.js';
import { CONFIG_FILE } from '../src/train/checkpoint.js';
import { loadCheckpoint } from '../src/train/load-checkpoint.js';
import { UserError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';
import { captureFeatures, closeCapture, gameLengths, rowIndex, type CapturedSource, type FeatureSource, type PositionMask, type RowIndex } from './capture.js';
import { DEFAULT_FIT, fitLinearProbe, type FitResult } from './fit-probe.js';
import { argmaxClasses, logitsFromStandardised, standardise, type LinearProbe } from './linear-probe.js';
import { majorityPredictions, majorityTable } from './majority.js';
import { probeMetrics } from './metrics.js';
import { REPORT_FORMAT, REPORT_VERSION, type DecodedExample, type LayerResult, type ProbeReport } from './report.js';
import { chunkRowsFor, type RowSource } from './row-source.js';
import { SQUARES, targetClasses, targetLabels, type ProbeTarget } from './targets.js';

/** Rng stream of the control model's parameters (the trainer initialises from stream 1). */
export const RANDOM_INIT_STREAM = 7;
const STATE_TRAIN_STREAM = 2;
const STATE_EVAL_STREAM = 3;
/** Move numbers of the decoded boards shown in the report (one per held-out game 0, 1, 2, 3). */
const EXAMPLE_MOVES = [12, 24, 36, 48];
/** Every VALIDATION_EVERY-th probe-training game is held back inside the fit (ridge choice, early stop). */
const VALIDATION_EVERY = 10;

export interface ProbeRunOptions {
  checkpoint: string;
  data: string;
  target: ProbeTarget;
  sources: FeatureSource[];
  /** Probe-training games (the first of the train split). */
  games: number;
  /** Held-out games (the first of the val split). */
  evalGames: number;
  seed: number;
  /** State rows kept per game, sampled with the seed (0 = every position). */
  statePositions: number;
  /** Games per step() call. */
  batch: number;
  epochs: number;
  backend: BackendName;
  /** Fit and score the random-init control too (default true). */
  randomInit?: boolean;
  /** Called with each fitted probe of the trained model (to save it). */
  onProbe?: (source: FeatureSource, layer: number, probe: LinearProbe) => void;
  onProgress?: (stage: string, done: number, total: number) => void;
  onNote?: (message: string) => void;
}

interface Split {
  name: string;
  games: Uint8Array;
  lengths: Int32Array;
  /** Per game, the target labels (n, 64). */
  labels: Uint8Array[];
}

interface VariantResult {
  layers: LayerResult[];
  /** Predicted boards of the example rows, per `${source}:${layer}`. */
  examples: Map<string, Uint8Array>;
  seconds: { capture: number; fit: number; score: number };
}

export async function runProbe(options: ProbeRunOptions): Promise<ProbeReport> {
  const started = performance.now();
  const note = options.onNote ?? (() => {});
  const checkpoint = loadCheckpoint(options.checkpoint, note);
  const dataset = openDataset(options.data);
  const manifest = dataset.manifest;
  const manifestPath = join(options.data, MANIFEST_FILE);
  if (manifest.game !== 'othello') throw new UserError(`${manifestPath}: a ${manifest.game} dataset; board probes are implemented for othello`);
  if (checkpoint.game !== null && checkpoint.game !== manifest.game) {
    throw new UserError(`${join(options.checkpoint, CONFIG_FILE)}: a ${checkpoint.game} model, but ${manifestPath} is a ${manifest.game} dataset`);
  }
  if (checkpoint.config.vocab_size !== manifest.vocabSize) {
    throw new UserError(`${join(options.checkpoint, CONFIG_FILE)}: vocab_size ${checkpoint.config.vocab_size} but ${manifestPath} has vocabulary size ${manifest.vocabSize}`);
  }
  const L = manifest.recordLength;
  // Probe-training and held-out games never overlap: train split for fitting, val split for scoring
  // (or, for a dataset without a val split, train games after the fitting ones).
  const fitCount = Math.min(options.games, dataset.count('train'));
  if (fitCount === 0) throw new UserError(`${manifestPath}: the train split has no games to fit probes on`);
  let evalSplitName: string;
  let evalTokens: Uint8Array;
  if (dataset.count('val') > 0) {
    const n = Math.min(options.evalGames, dataset.count('val'));
    evalTokens = dataset.readGames('val', 0, n);
    evalSplitName = 'val';
  } else {
    const n = Math.min(options.evalGames, dataset.count('train') - fitCount);
    if (n <= 0) throw new UserError(`${manifestPath}: no val split and no train games left after the ${fitCount} probe-training games to score on (lower --games)`);
    evalTokens = dataset.readGames('train', fitCount, n);
    evalSplitName = `train (games ${fitCount}..${fitCount + n - 1}, held out)`;
  }
  const fitTokens = dataset.readGames('train', 0, fitCount);
  dataset.close();

  const fit = makeSplit('train', fitTokens, L, options.target, manifestPath);
  const held = makeSplit(evalSplitName, evalTokens, L, options.target, manifestPath);
  // The model was trained on inputs 0..L-2 (context L-1 = 59 for Othello): probe the same positions.
  const P = L - 1;
  const classes = targetClasses(options.target).length;
  const keepFit = masks(options, fit, P, STATE_TRAIN_STREAM);
  const keepHeld = masks(options, held, P, STATE_EVAL_STREAM);

  // Majority baseline, from every probe-training position, scored on every held-out position.
  const fitAll = rowIndex(fit.lengths, P, options.batch, null);
  const heldAll = rowIndex(held.lengths, P, options.batch, null);
  const majority = majorityTable(rowLabels(fit, fitAll), fitAll.move, classes, P);
  const heldAllLabels = rowLabels(held, heldAll);
  const majorityMetrics = probeMetrics(majorityPredictions(majority, heldAll.move), heldAllLabels, heldAll.move);

  const backend = await createBackend(options.backend);
  const scratch = mkdtempSync(join(tmpdir(), 'gamba-probe-'));
  try {
    const common = { options, fit, held, keepFit, keepHeld, P, classes, scratch, note };
    const trainedModel = new MambaLM(backend, checkpoint.config, checkpoint.params);
    const trained = await runVariant('trained', trainedModel, common, options.onProbe);
    const randomInit = options.randomInit === false
      ? null
      : await runVariant('random-init', new MambaLM(backend, checkpoint.config, initParameters(checkpoint.config, new Rng(options.seed, RANDOM_INIT_STREAM))), common, undefined);

    let best = trained.layers[0];
    for (const r of trained.layers) if (r.cellAcc > best.cellAcc) best = r;
    const examples = decodedExamples(held, keepHeld, options, P, best, trained.examples);
    const totalSeconds = (performance.now() - started) / 1000;
    const variants = randomInit ? [trained, randomInit] : [trained];
    const sum = (key: 'capture' | 'fit' | 'score') => variants.reduce((s, v) => s + v.seconds[key], 0);
    return {
      format: REPORT_FORMAT,
      version: REPORT_VERSION,
      createdAt: new Date().toISOString(),
      target: options.target,
      classes: [...targetClasses(options.target)],
      checkpoint: { dir: options.checkpoint, game: checkpoint.game, preset: checkpoint.preset, config: { ...checkpoint.config } },
      data: {
        dir: options.data,
        game: manifest.game,
        datasetSeed: manifest.seed ?? null,
        fitSplit: 'train',
        fitGames: fitCount,
        evalSplit: evalSplitName,
        evalGames: held.lengths.length,
        positionsPerGame: P,
      },
      options: {
        sources: options.sources,
        seed: options.seed,
        statePositions: options.statePositions,
        batch: options.batch,
        epochs: options.epochs,
        ridgeStart: DEFAULT_FIT.ridge,
        validationGames: 'every 10th probe-training game (index % 10 == 9) is held back to pick the ridge penalty and stop the descent',
        lrScale: DEFAULT_FIT.lrScale,
        backend: backend.name,
        randomInit: randomInit ? { seed: options.seed, stream: RANDOM_INIT_STREAM } : null,
      },
      layers: trained.layers,
      baselines: { majority: majorityMetrics, randomInit: randomInit ? randomInit.layers : [] },
      best: { source: best.source, layer: best.layer },
      examples,
      probes: [],
      timings: {
        totalSeconds,
        captureSeconds: sum('capture'),
        fitSeconds: sum('fit'),
        scoreSeconds: sum('score'),
        trainedFitSeconds: trained.seconds.fit,
      },
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function makeSplit(name: string, games: Uint8Array, recordLength: number, target: ProbeTarget, file: string): Split {
  const lengths = gameLengths(games, recordLength);
  const labels: Uint8Array[] = [];
  for (let g = 0; g < lengths.length; g++) {
    try {
      labels.push(targetLabels(target, othelloLabels(games.subarray(g * recordLength, (g + 1) * recordLength))));
    } catch (error) {
      if (error instanceof UserError) throw new UserError(`${file}: ${name} game ${g}: ${error.message}`);
      throw error;
    }
  }
  return { name, games, lengths, labels };
}

/** Which positions each source keeps: every one for the residual stream, a seeded sample for the state. */
function masks(options: ProbeRunOptions, split: Split, P: number, stream: number): Partial<Record<FeatureSource, PositionMask | null>> {
  const keep: Partial<Record<FeatureSource, PositionMask | null>> = {};
  if (options.sources.includes('residual')) keep.residual = null;
  if (options.sources.includes('state')) {
    if (options.statePositions === 0) {
      keep.state = null;
    } else {
      const rng = new Rng(options.seed, stream);
      const mask = new Uint8Array(split.lengths.length * P);
      for (let g = 0; g < split.lengths.length; g++) {
        const n = Math.min(P, split.lengths[g]);
        const order = Array.from({ length: n }, (_, t) => t);
        rng.shuffle(order);
        for (let i = 0; i < Math.min(n, options.statePositions); i++) mask[g * P + order[i]] = 1;
      }
      keep.state = mask;
    }
  }
  return keep;
}

/** The labels (rows, 64) of the rows of `index`, in its order. */
function rowLabels(split: Split, index: RowIndex): Uint8Array {
  const out = new Uint8Array(index.rows * SQUARES);
  for (let r = 0; r < index.rows; r++) {
    const t = index.move[r];
    out.set(split.labels[index.game[r]].subarray(t * SQUARES, (t + 1) * SQUARES), r * SQUARES);
  }
  return out;
}

interface VariantContext {
  options: ProbeRunOptions;
  fit: Split;
  held: Split;
  keepFit: Partial<Record<FeatureSource, PositionMask | null>>;
  keepHeld: Partial<Record<FeatureSource, PositionMask | null>>;
  P: number;
  classes: number;
  scratch: string;
  note: (message: string) => void;
}

async function runVariant(
  name: 'trained' | 'random-init',
  model: MambaLM,
  ctx: VariantContext,
  onProbe: ProbeRunOptions['onProbe'],
): Promise<VariantResult> {
  const { options, P } = ctx;
  const seconds = { capture: 0, fit: 0, score: 0 };
  const progress = (stage: string) => (done: number, total: number) => options.onProgress?.(stage, done, total);

  let t0 = performance.now();
  const fitCapture = await captureFeatures(model, ctx.fit.games, ctx.fit.games.length / ctx.fit.lengths.length, {
    dir: ctx.scratch, name: `${name}-fit`, batch: options.batch, positions: P, keep: ctx.keepFit, onProgress: progress(`${name}: capture probe-training games`),
  });
  seconds.capture += (performance.now() - t0) / 1000;
  const probes: { source: FeatureSource; layer: number; probe: LinearProbe; fit: FitResult; fitSeconds: number }[] = [];
  try {
    for (const captured of fitCapture) {
      const labels = rowLabels(ctx.fit, captured.index);
      const validation = captured.index.game.map((g) => (g % VALIDATION_EVERY === VALIDATION_EVERY - 1 ? 1 : 0));
      const held = new Uint8Array(validation);
      for (let i = 0; i < captured.layers.length; i++) {
        const layer = captured.layers[i];
        t0 = performance.now();
        const result = fitLinearProbe(captured.files[i], labels, ctx.classes, {
          epochs: options.epochs,
          seed: options.seed,
          validation: held,
          meta: { target: options.target, source: captured.source, layer: String(layer), model: name },
        });
        const fitSeconds = (performance.now() - t0) / 1000;
        seconds.fit += fitSeconds;
        probes.push({ source: captured.source, layer, probe: result.probe, fit: result, fitSeconds });
        const acc = (v: number | null) => (v === null ? '-' : `${(100 * v).toFixed(2)}%`);
        ctx.note(`${name}: fitted ${captured.source} layer ${layer} on ${result.rows.fit} positions x ${captured.files[i].dim} in ${fitSeconds.toFixed(1)} s ` +
          `(ridge ${result.ridge}, ${result.epochs} epochs kept; cell accuracy fit ${acc(result.trainCellAcc)}, validation ${acc(result.valCellAcc)})`);
        onProbe?.(captured.source, layer, result.probe);
      }
    }
  } finally {
    closeCapture(fitCapture);
    removeFiles(fitCapture);
  }

  t0 = performance.now();
  const heldCapture = await captureFeatures(model, ctx.held.games, ctx.held.games.length / ctx.held.lengths.length, {
    dir: ctx.scratch, name: `${name}-held`, batch: options.batch, positions: P, keep: ctx.keepHeld, onProgress: progress(`${name}: capture held-out games`),
  });
  seconds.capture += (performance.now() - t0) / 1000;
  const layers: LayerResult[] = [];
  const examples = new Map<string, Uint8Array>();
  try {
    t0 = performance.now();
    for (const captured of heldCapture) {
      const labels = rowLabels(ctx.held, captured.index);
      const exampleRows = pickExampleRows(captured.index);
      for (let i = 0; i < captured.layers.length; i++) {
        const fitted = probes.find((p) => p.source === captured.source && p.layer === captured.layers[i])!;
        const predicted = predictRows(fitted.probe, captured.files[i]);
        const metrics = probeMetrics(predicted, labels, captured.index.move);
        layers.push({
          layer: fitted.layer, source: fitted.source, dim: fitted.probe.dim, fitPositions: fitted.fit.rows.fit, validationPositions: fitted.fit.rows.validation,
          ridge: fitted.fit.ridge, epochsKept: fitted.fit.epochs, trainCellAcc: fitted.fit.trainCellAcc, valCellAcc: fitted.fit.valCellAcc, fitSeconds: fitted.fitSeconds, ...metrics,
        });
        const boards = new Uint8Array(exampleRows.length * SQUARES);
        exampleRows.forEach((r, k) => boards.set(predicted.subarray(r * SQUARES, (r + 1) * SQUARES), k * SQUARES));
        examples.set(`${fitted.source}:${fitted.layer}`, boards);
      }
    }
    seconds.score += (performance.now() - t0) / 1000;
  } finally {
    closeCapture(heldCapture);
    removeFiles(heldCapture);
  }
  return { layers, examples, seconds };
}

function removeFiles(captured: CapturedSource[]): void {
  for (const source of captured) for (const file of source.files) rmSync(file.path, { force: true });
}

/** Decoded boards (rows, 64) of every row of a source. */
export function predictRows(probe: LinearProbe, rows: RowSource): Uint8Array {
  const D = rows.dim;
  const K = SQUARES * probe.classes;
  const chunkRows = Math.min(8192, chunkRowsFor(D));
  const z = new Float32Array(chunkRows * D);
  const logits = new Float32Array(chunkRows * K);
  const out = new Uint8Array(rows.rows * SQUARES);
  for (const chunk of rows.chunks(chunkRows)) {
    standardise(probe, chunk.data, chunk.rows, z);
    logitsFromStandardised(probe, z, chunk.rows, logits);
    argmaxClasses(logits, chunk.rows, probe.classes, out.subarray(chunk.start * SQUARES, (chunk.start + chunk.rows) * SQUARES));
  }
  return out;
}

/**
 * The rows shown as decoded boards: held-out game k at move EXAMPLE_MOVES[k], or the nearest move of
 * that game the source kept (the state is subsampled). Games without rows are skipped.
 */
function pickExampleRows(index: RowIndex): number[] {
  const out: number[] = [];
  EXAMPLE_MOVES.forEach((move, game) => {
    let best = -1;
    for (let r = 0; r < index.rows; r++) {
      if (index.game[r] !== game) continue;
      if (best < 0 || Math.abs(index.move[r] + 1 - move) < Math.abs(index.move[best] + 1 - move)) best = r;
    }
    if (best >= 0) out.push(best);
  });
  return out;
}

function decodedExamples(held: Split, keepHeld: Partial<Record<FeatureSource, PositionMask | null>>, options: ProbeRunOptions, P: number, best: LayerResult, predicted: Map<string, Uint8Array>): DecodedExample[] {
  const index = rowIndex(held.lengths, P, options.batch, keepHeld[best.source] ?? null);
  const rows = pickExampleRows(index);
  const boards = predicted.get(`${best.source}:${best.layer}`)!;
  return rows.map((r, k) => {
    const game = index.game[r];
    const t = index.move[r];
    return {
      game,
      move: t + 1,
      source: best.source,
      layer: best.layer,
      truth: Array.from(held.labels[game].subarray(t * SQUARES, (t + 1) * SQUARES)),
      predicted: Array.from(boards.subarray(k * SQUARES, (k + 1) * SQUARES)),
    };
  });
}
