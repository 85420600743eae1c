/**
 * One probe run, start to finish: load a checkpoint and a dataset (Othello or chess), capture
 * activations of probe-training games (the dataset's train split) and held-out games (its val split)
 * at every probe point (game-points.ts), fit one linear probe per layer and source, score them, and do
 * the same on a randomly initialised model of the same config (the control), next to the majority
 * baseline; the margin of each probe over its control is paired game by game (margin.ts). Returns the
 * report; report-files.ts writes it.
 *
 * Memory: features go to scratch files (FeatureFile) and are read back in chunks of about 32 MB, so the
 * resident set is the games, their labels (64 bytes per probe point) and one chunk, plus per probe its
 * (D, D) Gram matrix while fitting (32 MB at D = 2048) — not the activations, whatever --games is.
 * Disk: residual 4 * d * (n_layers + 1) bytes per probe point; state 4 * E * N * n_layers bytes per kept
 * point, which is why the state is subsampled (--state-positions per game, default 4): for Othello and
 * `tiny` (d 64, 2 layers) with 10,000 probe-training games (about 580,000 points) that is about 0.45 GB
 * of residual and 0.33 GB of state rows, and 37 MB of labels in memory; the files are removed as soon
 * as they are scored.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { MANIFEST_FILE } from '../datasets/format.js';
import { openDataset } from '../datasets/reader.js';
import { createBackend, type BackendName } from '../src/backend/index.js';
import type { LanguageModel } from '../src/model/language-model.js';
import type { ModelConfig } from '../src/model/config.js';
import { createModel, initModelParameters } from '../src/model/models.js';
import { checkModelFitsDataset, loadCheckpoint } from '../src/train/load-checkpoint.js';
import { UserError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';
import { yieldToEventLoop } from '../src/util/event-loop.js';
import { withScratchDir } from '../src/util/scratch-dir.js';
import { captureFeatures, closeCapture, rowIndex, type CapturedSource, type FeatureSource, type PointMask, type RowIndex } from './capture.js';
import { DEFAULT_FIT, fitLinearProbe, type FitResult } from './fit-probe.js';
import { PROBE_POINTS_TEXT, probedGames, type ProbedGame } from './game-points.js';
import type { LinearProbe } from './linear-probe.js';
import { predictRows } from './device-probe.js';
import { runInterventions, type EditKind, type EditProbe } from './intervene.js';
import { fitTunedLens, legalNextTokens, scoreLens, type LensReport } from './lens.js';
import { majorityPredictions, majorityTable } from './majority.js';
import { gameCounts, marginOver, type GameCounts } from './margin.js';
import { probeMetrics } from './metrics.js';
import { bestByMargin, REPORT_FORMAT, REPORT_VERSION, type DecodedExample, type LayerResult, type ProbeReport } from './report.js';
import { isProbeGame, isRelativeTarget, resolveTarget, SQUARES, targetClasses, type ProbeGame, type ProbeTarget } from './targets.js';

/** Rng stream of the control model's parameters (the trainer initialises from stream 1). */
export const RANDOM_INIT_STREAM = 7;
const STATE_TRAIN_STREAM = 2;
const STATE_EVAL_STREAM = 3;
/** Every VALIDATION_EVERY-th probe-training game is held back inside the fit (ridge choice, early stop). */
const VALIDATION_EVERY = 10;

export interface ProbeRunOptions {
  checkpoint: string;
  data: string;
  /** What to decode; absent: the game's first target (mine-theirs for Othello, pieces for chess). */
  target?: ProbeTarget;
  /** What to decode from; absent: every source the model has (a transformer has no state). */
  sources?: FeatureSource[];
  /** Probe-training games (the first of the train split). */
  games: number;
  /** Held-out games (the first of the val split). */
  evalGames: number;
  seed: number;
  /** State rows kept per game, sampled with the seed (0 = every probe point). */
  statePositions: number;
  /** Games per step() call. */
  batch: number;
  epochs: number;
  backend: BackendName;
  /** Fit and score the random-init control too (default true). */
  randomInit?: boolean;
  /**
   * Probe only these layers (residual 0..n_layers, state 1..n_layers; absent: every layer). The lens
   * reads every residual layer, so it is left out when this is given.
   */
  layers?: number[];
  /**
   * Edit the board through the trained mine/theirs probes (intervene.ts) at the held-out games: at every
   * probed residual layer past the embeddings, and every probed state layer whose probe beats its
   * random-init control (or every one, without the control). Othello and mine-theirs only.
   */
  intervene?: { edit: EditKind; strength: number };
  /** Called with each fitted probe of the trained model (to save it). */
  onProbe?: (source: FeatureSource, layer: number, probe: LinearProbe) => void;
  onProgress?: (stage: string, done: number, total: number) => void;
  onNote?: (message: string) => void;
}

interface Split {
  name: string;
  games: Uint8Array;
  probed: ProbedGame[];
  /** Per game, the token positions of its probe points (probed[g].at). */
  points: Int32Array[];
}

interface VariantResult {
  layers: LayerResult[];
  /** Predicted boards of the example rows, per `${source}:${layer}`. */
  examples: Map<string, Uint8Array>;
  /** Per `${source}:${layer}`, the held-out counts per game (for the paired margin). */
  counts: Map<string, GameCounts>;
  /** The logit and tuned lens of the residual stream (the trained model's, when the residual was probed). */
  lens: LensReport | null;
  /** The fitted probes, by `${source}:${layer}`. */
  probes: Map<string, LinearProbe>;
  seconds: { capture: number; fit: number; score: number; lens: number };
}

export async function computeProbeReport(request: ProbeRunOptions): Promise<ProbeReport> {
  const started = performance.now();
  const note = request.onNote ?? (() => {});
  const checkpoint = loadCheckpoint(request.checkpoint, note);
  const options = { ...request, sources: modelSources(checkpoint.config, request.sources) };
  const dataset = openDataset(options.data);
  const manifest = dataset.manifest;
  const manifestPath = join(options.data, MANIFEST_FILE);
  if (!isProbeGame(manifest.game)) throw new UserError(`${manifestPath}: a ${manifest.game} dataset; board probes are implemented for othello and chess`);
  const game: ProbeGame = manifest.game;
  if (options.intervene && game !== 'othello') throw new UserError(`${manifestPath}: a ${game} dataset; interventions edit an Othello board`);
  const target = resolveTarget(game, options.target);
  if (options.intervene && target !== 'mine-theirs') throw new UserError(`--target ${target}: interventions edit the board through the mine-theirs probes (leave --target out, or give mine-theirs)`);
  checkLayers(checkpoint.config, options.layers);
  checkModelFitsDataset(checkpoint, options.data, manifest);
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

  // The model was trained on inputs 0..L-2: the probe points lie among those positions.
  const fit = makeSplit('train', fitTokens, L, game, target, `${manifestPath}: train`);
  const held = makeSplit(evalSplitName, evalTokens, L, game, target, `${manifestPath}: ${evalSplitName}`);
  const classes = targetClasses(target).length;
  const keepFit = masks(options, fit, STATE_TRAIN_STREAM);
  const keepHeld = masks(options, held, STATE_EVAL_STREAM);

  // Majority baseline, from every probe-training point, scored on every held-out point.
  const fitAll = rowIndex(fit.points, options.batch, null);
  const heldAll = rowIndex(held.points, options.batch, null);
  if (heldAll.rows === 0) throw new UserError(`${manifestPath}: the ${held.points.length} held-out games have no probe points`);
  const movesSeen = Math.max(1, ...fit.points.map((p) => p.length), ...held.points.map((p) => p.length));
  const majority = majorityTable(rowLabels(fit, fitAll), fitAll.move, classes, movesSeen);
  const heldAllLabels = rowLabels(held, heldAll);
  const majorityMetrics = probeMetrics(majorityPredictions(majority, heldAll.move), heldAllLabels, heldAll.move);

  const backend = await createBackend(options.backend);
  return withScratchDir('gamba-probe-', async (scratch) => {
    const common: VariantContext = {
      options, target, fit, held, keepFit, keepHeld, classes, scratch, note, exampleMoves: PROBE_POINTS_TEXT[game].exampleMoves, ridgeStart: new Map(), game,
    };
    const trainedModel = createModel(backend, checkpoint.config, checkpoint.params);
    const trained = await runVariant('trained', trainedModel, common, options.onProbe);
    const randomInit = options.randomInit === false
      ? null
      : await runVariant('random-init', createModel(backend, checkpoint.config, initModelParameters(checkpoint.config, new Rng(options.seed, RANDOM_INIT_STREAM))), common, undefined);

    if (randomInit) {
      for (const layer of trained.layers) {
        const key = `${layer.source}:${layer.layer}`;
        const control = randomInit.counts.get(key);
        if (control) layer.margin = marginOver(trained.counts.get(key)!, control);
      }
    }
    const interventions = options.intervene
      ? await runInterventions(trainedModel, held.games, L, held.probed, interventionProbes(trained, randomInit !== null), {
        ...options.intervene, seed: options.seed, batch: options.batch, onProgress: options.onProgress,
      })
      : undefined;
    let best = trained.layers[0];
    for (const r of trained.layers) if (r.cellAcc > best.cellAcc) best = r;
    const examples = decodedExamples(held, keepHeld, options, best, trained.examples, common.exampleMoves);
    const totalSeconds = (performance.now() - started) / 1000;
    const variants = randomInit ? [trained, randomInit] : [trained];
    const sum = (key: 'capture' | 'fit' | 'score') => variants.reduce((s, v) => s + v.seconds[key], 0);
    const text = PROBE_POINTS_TEXT[game];
    return {
      format: REPORT_FORMAT,
      version: REPORT_VERSION,
      createdAt: new Date().toISOString(),
      target,
      classes: [...targetClasses(target)],
      mine: isRelativeTarget(target) ? text.mine : null,
      checkpoint: { dir: options.checkpoint, game: checkpoint.game, preset: checkpoint.preset, config: { ...checkpoint.config } },
      data: {
        dir: options.data,
        game: manifest.game,
        datasetSeed: manifest.seed ?? null,
        fitSplit: 'train',
        fitGames: fitCount,
        evalSplit: evalSplitName,
        evalGames: held.points.length,
        positionsPerGame: L - 1,
        probePoints: text.points,
        moveAxis: text.moveAxis,
        boardAt: text.boardAt,
      },
      options: {
        sources: options.sources,
        seed: options.seed,
        statePositions: options.statePositions,
        batch: options.batch,
        epochs: options.epochs,
        ridgeStart: DEFAULT_FIT.ridge,
        ridgeSearch: 'tenfold steps down, then up, while the validation cell accuracy improves; each layer starts from the penalty the previous layer of its source chose',
        batchRows: DEFAULT_FIT.batchRows,
        validationGames: 'every 10th probe-training game (index % 10 == 9) is held back to pick the ridge penalty and stop the descent',
        lrScale: DEFAULT_FIT.lrScale,
        backend: backend.name,
        randomInit: randomInit ? { seed: options.seed, stream: RANDOM_INIT_STREAM } : null,
      },
      layers: trained.layers,
      baselines: { majority: majorityMetrics, randomInit: randomInit ? randomInit.layers : [] },
      best: { source: best.source, layer: best.layer },
      bestMargin: bestByMargin(trained.layers),
      examples,
      lens: trained.lens,
      ...(interventions ? { interventions } : {}),
      probes: [],
      timings: {
        totalSeconds,
        captureSeconds: sum('capture'),
        fitSeconds: sum('fit'),
        scoreSeconds: sum('score'),
        trainedFitSeconds: trained.seconds.fit,
        lensSeconds: trained.seconds.lens,
        ...(interventions ? { interventionSeconds: interventions.seconds } : {}),
      },
    };
  });
}

function makeSplit(name: string, games: Uint8Array, recordLength: number, game: ProbeGame, target: ProbeTarget, where: string): Split {
  const probed = probedGames(game, target, games, recordLength, where);
  return { name, games, probed, points: probed.map((p) => p.at) };
}

/** The sources to probe: those asked for, or every one the model has; a transformer's state is refused. */
function modelSources(config: ModelConfig, asked: FeatureSource[] | undefined): FeatureSource[] {
  if (config.architecture === 'mamba') return asked ?? ['residual', 'state'];
  if (asked?.includes('state')) {
    throw new UserError(`--source ${asked.length > 1 ? 'both' : 'state'}: a transformer has no recurrent state to probe (it carries a key/value cache between tokens); use --source residual`);
  }
  return ['residual'];
}

/** Refuses a layer the model does not have. */
function checkLayers(config: ModelConfig, layers: number[] | undefined): void {
  for (const layer of layers ?? []) {
    if (!Number.isInteger(layer) || layer < 0 || layer > config.n_layers) throw new UserError(`--layer ${layer}: the model has residual layers 0..${config.n_layers} (0 = the embeddings) and state layers 1..${config.n_layers}`);
  }
}

/**
 * The trained probes to edit through: residual layers past the embeddings, and state layers whose
 * probe beats its control (its margin's 95% interval above zero) when the control was fitted.
 */
function interventionProbes(trained: VariantResult, withControl: boolean): EditProbe[] {
  const out: EditProbe[] = [];
  for (const l of trained.layers) {
    if (l.source === 'residual' && l.layer === 0) continue;
    if (l.source === 'state' && withControl && !(l.margin && l.margin.cellLow > 0)) continue;
    out.push({ source: l.source, layer: l.layer, probe: trained.probes.get(`${l.source}:${l.layer}`)! });
  }
  return out;
}

/** Which probe points each source keeps: every one for the residual stream, a seeded sample for the state. */
function masks(options: ProbeRunOptions & { sources: FeatureSource[] }, split: Split, stream: number): Partial<Record<FeatureSource, PointMask | null>> {
  const keep: Partial<Record<FeatureSource, PointMask | null>> = {};
  if (options.sources.includes('residual')) keep.residual = null;
  if (options.sources.includes('state')) {
    if (options.statePositions === 0) {
      keep.state = null;
    } else {
      const rng = new Rng(options.seed, stream);
      keep.state = split.points.map((points) => {
        const n = points.length;
        const mask = new Uint8Array(n);
        const order = Array.from({ length: n }, (_, k) => k);
        rng.shuffle(order);
        for (let i = 0; i < Math.min(n, options.statePositions); i++) mask[order[i]] = 1;
        return mask;
      });
    }
  }
  return keep;
}

/** The labels (rows, 64) of the rows of `index`, in its order. */
function rowLabels(split: Split, index: RowIndex): Uint8Array {
  const out = new Uint8Array(index.rows * SQUARES);
  for (let r = 0; r < index.rows; r++) {
    const k = index.move[r];
    out.set(split.probed[index.game[r]].labels.subarray(k * SQUARES, (k + 1) * SQUARES), r * SQUARES);
  }
  return out;
}

interface VariantContext {
  options: ProbeRunOptions;
  target: ProbeTarget;
  fit: Split;
  held: Split;
  keepFit: Partial<Record<FeatureSource, PointMask | null>>;
  keepHeld: Partial<Record<FeatureSource, PointMask | null>>;
  classes: number;
  scratch: string;
  note: (message: string) => void;
  exampleMoves: number[];
  /**
   * Per source, the ridge penalty the last fit chose: the next layer's search starts there (neighbouring
   * layers, and the control, want alike penalties), which saves Cholesky solves of the wide state.
   */
  ridgeStart: Map<FeatureSource, number>;
  game: ProbeGame;
}

async function runVariant(
  name: 'trained' | 'random-init',
  model: LanguageModel,
  ctx: VariantContext,
  onProbe: ProbeRunOptions['onProbe'],
): Promise<VariantResult> {
  const { options } = ctx;
  const seconds = { capture: 0, fit: 0, score: 0, lens: 0 };
  // The lens reads the trained model's residual stream; a random model's predictions say nothing.
  const withLens = name === 'trained' && ctx.keepFit.residual !== undefined && options.layers === undefined;
  let tunedLens: Awaited<ReturnType<typeof fitTunedLens>> | null = null;
  let lens: LensReport | null = null;
  const progress = (stage: string) => (done: number, total: number) => options.onProgress?.(stage, done, total);
  const recordLength = (split: Split) => split.games.length / split.points.length;

  let t0 = performance.now();
  const fitCapture = await captureFeatures(model, ctx.fit.games, recordLength(ctx.fit), {
    dir: ctx.scratch, name: `${name}-fit`, batch: options.batch, points: ctx.fit.points, keep: ctx.keepFit, layers: options.layers, onProgress: progress(`${name}: capture probe-training games`),
  });
  seconds.capture += (performance.now() - t0) / 1000;
  const probes: { source: FeatureSource; layer: number; probe: LinearProbe; fit: FitResult; fitSeconds: number }[] = [];
  try {
    for (const captured of fitCapture) {
      const labels = rowLabels(ctx.fit, captured.index);
      const held = Uint8Array.from(captured.index.game, (g) => (g % VALIDATION_EVERY === VALIDATION_EVERY - 1 ? 1 : 0));
      for (let i = 0; i < captured.layers.length; i++) {
        const layer = captured.layers[i];
        await yieldToEventLoop();
        t0 = performance.now();
        const result = await fitLinearProbe(model.backend, captured.files[i], labels, ctx.classes, {
          ridge: ctx.ridgeStart.get(captured.source) ?? DEFAULT_FIT.ridge,
          epochs: options.epochs,
          seed: options.seed,
          validation: held,
          meta: { target: ctx.target, source: captured.source, layer: String(layer), model: name },
        });
        const fitSeconds = (performance.now() - t0) / 1000;
        seconds.fit += fitSeconds;
        ctx.ridgeStart.set(captured.source, result.ridge);
        probes.push({ source: captured.source, layer, probe: result.probe, fit: result, fitSeconds });
        const acc = (v: number | null) => (v === null ? '-' : `${(100 * v).toFixed(2)}%`);
        ctx.note(`${name}: fitted ${captured.source} layer ${layer} on ${result.rows.fit} positions x ${captured.files[i].dim} in ${fitSeconds.toFixed(1)} s ` +
          `(statistics ${result.seconds.stats.toFixed(1)}, ridge ${result.seconds.ridge.toFixed(1)}, descent ${result.seconds.descent.toFixed(1)} s; ridge ${result.ridge}, ${result.epochs} epochs kept; cell accuracy fit ${acc(result.trainCellAcc)}, validation ${acc(result.valCellAcc)})`);
        onProbe?.(captured.source, layer, result.probe);
      }
    }
    if (withLens) {
      t0 = performance.now();
      tunedLens = await fitTunedLens(model, fitCapture.find((c) => c.source === 'residual')!);
      seconds.lens += (performance.now() - t0) / 1000;
      ctx.note(`${name}: fitted the tuned lens of ${tunedLens.length} residual layers in ${seconds.lens.toFixed(1)} s`);
    }
  } finally {
    closeCapture(fitCapture);
    removeFiles(fitCapture);
  }

  t0 = performance.now();
  const heldCapture = await captureFeatures(model, ctx.held.games, recordLength(ctx.held), {
    dir: ctx.scratch, name: `${name}-held`, batch: options.batch, points: ctx.held.points, keep: ctx.keepHeld, layers: options.layers, onProgress: progress(`${name}: capture held-out games`),
  });
  seconds.capture += (performance.now() - t0) / 1000;
  const layers: LayerResult[] = [];
  const examples = new Map<string, Uint8Array>();
  const counts = new Map<string, GameCounts>();
  try {
    t0 = performance.now();
    for (const captured of heldCapture) {
      const labels = rowLabels(ctx.held, captured.index);
      const exampleRows = pickExampleRows(captured.index, ctx.exampleMoves);
      for (let i = 0; i < captured.layers.length; i++) {
        const fitted = probes.find((p) => p.source === captured.source && p.layer === captured.layers[i])!;
        const predicted = await predictRows(model.backend, fitted.probe, captured.files[i]);
        const metrics = probeMetrics(predicted, labels, captured.index.move);
        layers.push({
          layer: fitted.layer, source: fitted.source, dim: fitted.probe.dim, fitPositions: fitted.fit.rows.fit, validationPositions: fitted.fit.rows.validation,
          ridge: fitted.fit.ridge, epochsKept: fitted.fit.epochs, trainCellAcc: fitted.fit.trainCellAcc, valCellAcc: fitted.fit.valCellAcc, fitSeconds: fitted.fitSeconds, ...metrics,
        });
        const key = `${fitted.source}:${fitted.layer}`;
        counts.set(key, gameCounts(predicted, labels, captured.index.game, ctx.held.points.length));
        const boards = new Uint8Array(exampleRows.length * SQUARES);
        exampleRows.forEach((r, k) => boards.set(predicted.subarray(r * SQUARES, (r + 1) * SQUARES), k * SQUARES));
        examples.set(key, boards);
      }
    }
    seconds.score += (performance.now() - t0) / 1000;
    if (tunedLens) {
      t0 = performance.now();
      const residual = heldCapture.find((c) => c.source === 'residual')!;
      lens = await scoreLens(model, residual, tunedLens, legalNextTokens(ctx.game, ctx.held.games, recordLength(ctx.held)));
      seconds.lens += (performance.now() - t0) / 1000;
    }
  } finally {
    closeCapture(heldCapture);
    removeFiles(heldCapture);
  }
  return { layers, examples, counts, lens, probes: new Map(probes.map((p) => [`${p.source}:${p.layer}`, p.probe])), seconds };
}

function removeFiles(captured: CapturedSource[]): void {
  for (const source of captured) for (const file of source.files) rmSync(file.path, { force: true });
}

/**
 * The rows shown as decoded boards: held-out game k at move exampleMoves[k], or the nearest move of
 * that game the source kept (the state is subsampled). Games without rows are skipped.
 */
function pickExampleRows(index: RowIndex, exampleMoves: number[]): number[] {
  const out: number[] = [];
  exampleMoves.forEach((move, game) => {
    let best = -1;
    for (let r = 0; r < index.rows; r++) {
      if (index.game[r] !== game) continue;
      if (best < 0 || Math.abs(index.move[r] + 1 - move) < Math.abs(index.move[best] + 1 - move)) best = r;
    }
    if (best >= 0) out.push(best);
  });
  return out;
}

function decodedExamples(
  held: Split, keepHeld: Partial<Record<FeatureSource, PointMask | null>>, options: ProbeRunOptions, best: LayerResult, predicted: Map<string, Uint8Array>, exampleMoves: number[],
): DecodedExample[] {
  const index = rowIndex(held.points, options.batch, keepHeld[best.source] ?? null);
  const rows = pickExampleRows(index, exampleMoves);
  const boards = predicted.get(`${best.source}:${best.layer}`)!;
  return rows.map((r, k) => {
    const game = index.game[r];
    const point = index.move[r];
    return {
      game,
      move: point + 1,
      source: best.source,
      layer: best.layer,
      truth: Array.from(held.probed[game].labels.subarray(point * SQUARES, (point + 1) * SQUARES)),
      predicted: Array.from(boards.subarray(k * SQUARES, (k + 1) * SQUARES)),
    };
  });
}
