/**
 * report.json of `gamba probe`: every number of a probe run, with what it was run on. `gamba report`
 * reads it back through validateReport, which checks the fields the HTML page draws and names the
 * first bad one. Version 2 added chess (target `pieces`), the probe-point wording, whose "mine" is,
 * and each layer's margin over its random-init control; version 3 the lens (lens.ts); version 4 the
 * interventions (intervene.ts), when asked for. Earlier versions still read and redraw.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../src/util/errors.js';
import { parseJsonFile } from '../src/util/json.js';
import type { FeatureSource } from './capture.js';
import type { InterventionReport } from './intervene.js';
import type { LensReport } from './lens.js';
import type { Margin } from './margin.js';
import type { ProbeMetrics } from './metrics.js';
import { PROBE_TARGETS, SQUARES, type ProbeTarget } from './targets.js';

export const REPORT_FORMAT = 'gamba-probe-report';
export const REPORT_VERSION = 4;
const READABLE_VERSIONS = [1, 2, 3, 4];
export const REPORT_JSON = 'report.json';
export const REPORT_HTML = 'report.html';

/** One probe scored on the held-out games. */
export interface LayerResult extends ProbeMetrics {
  /** Residual: 0 = embeddings, i = after layer i. State: i = the SSM state of layer i (1-based). */
  layer: number;
  source: FeatureSource;
  /** Activation width D. */
  dim: number;
  /** Rows the probe was fitted on, and rows of probe-training games held back to validate the fit. */
  fitPositions: number;
  validationPositions: number;
  /** The ridge penalty chosen on the validation rows and the descent epochs kept. */
  ridge: number;
  epochsKept: number;
  /** Cell accuracy on the fitted rows (last epoch kept; null for the ridge start alone). */
  trainCellAcc: number | null;
  /** Cell accuracy on the validation rows (null when there were none). */
  valCellAcc: number | null;
  fitSeconds: number;
  /**
   * Trained minus random-init accuracy at the same source and layer, on the same held-out rows, with a
   * 95% interval over held-out games (trained-model layers only; absent without the control).
   */
  margin?: Margin;
}

export interface DecodedExample {
  /** Index of the game among the held-out games. */
  game: number;
  /** Move number m = probe point + 1 (data.boardAt says what the board is at m). */
  move: number;
  source: FeatureSource;
  layer: number;
  truth: number[];
  predicted: number[];
}

export interface ProbeReport {
  format: typeof REPORT_FORMAT;
  version: number;
  createdAt: string;
  target: ProbeTarget;
  classes: string[];
  /** Whose "mine" is, for targets with mine/theirs classes (null otherwise; absent in version 1). */
  mine?: string | null;
  checkpoint: { dir: string; game: string | null; preset: string | null; config: Record<string, unknown> };
  data: {
    dir: string;
    game: string;
    datasetSeed: number | null;
    fitSplit: string;
    fitGames: number;
    evalSplit: string;
    evalGames: number;
    /** Input positions 0..positionsPerGame-1 of each record (the training context) hold the probe points. */
    positionsPerGame: number;
    /** What the probe points are, the by-move axis and a decoded board's caption (absent in version 1: Othello). */
    probePoints?: string;
    moveAxis?: string;
    boardAt?: string;
  };
  options: {
    sources: FeatureSource[];
    seed: number;
    /** State rows kept per game (0 = every position). */
    statePositions: number;
    batch: number;
    epochs: number;
    /** The ridge search starts here (per row) and moves in tenfold steps; each layer reports its pick. */
    ridgeStart: number;
    /** How the search went (absent in version 1). */
    ridgeSearch?: string;
    /** Rows per descent step (absent in version 1). */
    batchRows?: number;
    validationGames: string;
    /** Adam's peak learning rate is lrScale / D. */
    lrScale: number;
    backend: string;
    randomInit: { seed: number; stream: number } | null;
  };
  layers: LayerResult[];
  baselines: { majority: ProbeMetrics; randomInit: LayerResult[] };
  /** Highest cell accuracy. */
  best: { source: FeatureSource; layer: number };
  /** Largest cell-accuracy margin over the random-init control (null without the control; absent in version 1). */
  bestMargin?: { source: FeatureSource; layer: number } | null;
  examples: DecodedExample[];
  /** What each residual layer predicts of the next move (null when the residual was not probed; absent before version 3). */
  lens?: LensReport | null;
  /** Edits of the board through the mine/theirs probes (only when asked for; absent before version 4). */
  interventions?: InterventionReport;
  probes: { source: FeatureSource; layer: number; file: string }[];
  timings: {
    totalSeconds: number;
    captureSeconds: number;
    fitSeconds: number;
    scoreSeconds: number;
    /** Fitting the trained model's probes alone (every layer and source). */
    trainedFitSeconds: number;
    /** Fitting and scoring the lens (absent before version 3). */
    lensSeconds?: number;
    /** The interventions, when asked for. */
    interventionSeconds?: number;
  };
}

/** The trained-model layer with the largest cell-accuracy margin over its control, if any has one. */
export function bestByMargin(layers: LayerResult[]): { source: FeatureSource; layer: number } | null {
  let best: LayerResult | null = null;
  for (const l of layers) if (l.margin && (!best || l.margin.cellAcc > best.margin!.cellAcc)) best = l;
  return best ? { source: best.source, layer: best.layer } : null;
}

type Check = (value: unknown, path: string) => void;

function fail(file: string, path: string, problem: string): never {
  throw new UserError(`${file}: malformed probe report: ${path} ${problem}`);
}

/** Reads and checks report.json; a UserError names the file and the first bad field. */
export function readReport(path: string): ProbeReport {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `${path}: no such report (run \`gamba probe\` first)` : `${path}: cannot read report (${code ?? (error as Error).message})`);
  }
  return validateReport(parseJsonFile(path, text, 'malformed probe report'), path);
}

export function validateReport(value: unknown, file: string): ProbeReport {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const object = (v: unknown, path: string): Record<string, unknown> => (isObject(v) ? v : fail(file, path, 'is not an object'));
  const array = (v: unknown, path: string): unknown[] => (Array.isArray(v) ? v : fail(file, path, 'is not an array'));
  const fraction: Check = (v, path) => {
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) fail(file, path, `must be a number from 0 to 1, got ${JSON.stringify(v)}`);
  };
  const count: Check = (v, path) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(file, path, `must be a non-negative integer, got ${JSON.stringify(v)}`);
  };
  const metrics = (v: unknown, path: string): void => {
    const o = object(v, path);
    count(o.positions, `${path}.positions`);
    fraction(o.cellAcc, `${path}.cellAcc`);
    fraction(o.boardAcc, `${path}.boardAcc`);
    array(o.byMove, `${path}.byMove`).forEach((m, i) => {
      const mo = object(m, `${path}.byMove[${i}]`);
      count(mo.move, `${path}.byMove[${i}].move`);
      count(mo.positions, `${path}.byMove[${i}].positions`);
      fraction(mo.cellAcc, `${path}.byMove[${i}].cellAcc`);
      fraction(mo.boardAcc, `${path}.byMove[${i}].boardAcc`);
    });
    const squares = array(o.perSquare, `${path}.perSquare`);
    if (squares.length !== SQUARES) fail(file, `${path}.perSquare`, `must have ${SQUARES} values, got ${squares.length}`);
    squares.forEach((s, i) => fraction(s, `${path}.perSquare[${i}]`));
  };
  const layerResult = (v: unknown, path: string): void => {
    metrics(v, path);
    const o = v as Record<string, unknown>;
    count(o.layer, `${path}.layer`);
    if (o.source !== 'residual' && o.source !== 'state') fail(file, `${path}.source`, `must be "residual" or "state", got ${JSON.stringify(o.source)}`);
    if (o.margin !== undefined) {
      const m = object(o.margin, `${path}.margin`);
      for (const key of ['cellAcc', 'cellLow', 'cellHigh', 'boardAcc', 'boardLow', 'boardHigh']) {
        if (typeof m[key] !== 'number' || !Number.isFinite(m[key])) fail(file, `${path}.margin.${key}`, `must be a number, got ${JSON.stringify(m[key])}`);
      }
    }
  };
  const sourceLayer = (v: unknown, path: string): void => {
    const o = object(v, path);
    if (!layers.some((l) => (l as LayerResult).layer === o.layer && (l as LayerResult).source === o.source)) fail(file, path, 'does not name one of the layers');
  };

  const root = object(value, 'the top level');
  if (root.format !== REPORT_FORMAT) fail(file, 'format', `must be "${REPORT_FORMAT}", got ${JSON.stringify(root.format)}`);
  if (!READABLE_VERSIONS.includes(root.version as number)) fail(file, 'version', `must be one of ${READABLE_VERSIONS.join(', ')}, got ${JSON.stringify(root.version)}`);
  if (!PROBE_TARGETS.includes(root.target as ProbeTarget)) fail(file, 'target', `must be one of ${PROBE_TARGETS.join(', ')}, got ${JSON.stringify(root.target)}`);
  const classes = array(root.classes, 'classes');
  if (classes.length < 2 || !classes.every((c) => typeof c === 'string')) fail(file, 'classes', 'must be at least two class names');
  object(root.checkpoint, 'checkpoint');
  object(root.data, 'data');
  object(root.options, 'options');
  object(root.timings, 'timings');
  const layers = array(root.layers, 'layers');
  if (layers.length === 0) fail(file, 'layers', 'is empty');
  layers.forEach((l, i) => layerResult(l, `layers[${i}]`));
  const baselines = object(root.baselines, 'baselines');
  metrics(baselines.majority, 'baselines.majority');
  array(baselines.randomInit, 'baselines.randomInit').forEach((l, i) => layerResult(l, `baselines.randomInit[${i}]`));
  sourceLayer(root.best, 'best');
  if (root.bestMargin !== undefined && root.bestMargin !== null) sourceLayer(root.bestMargin, 'bestMargin');
  array(root.examples, 'examples').forEach((e, i) => {
    const o = object(e, `examples[${i}]`);
    count(o.move, `examples[${i}].move`);
    for (const key of ['truth', 'predicted'] as const) {
      const board = array(o[key], `examples[${i}].${key}`);
      if (board.length !== SQUARES || !board.every((c) => Number.isInteger(c) && (c as number) >= 0 && (c as number) < classes.length)) {
        fail(file, `examples[${i}].${key}`, `must be ${SQUARES} class indices below ${classes.length}`);
      }
    }
  });
  if (root.lens !== undefined && root.lens !== null) {
    const lens = object(root.lens, 'lens');
    count(lens.positions, 'lens.positions');
    const orNull: Check = (v, path) => v === null || fraction(v, path);
    array(lens.layers, 'lens.layers').forEach((l, i) => {
      const o = object(l, `lens.layers[${i}]`);
      count(o.layer, `lens.layers[${i}].layer`);
      for (const kind of ['logit', 'tuned'] as const) {
        const path = `lens.layers[${i}].${kind}`;
        const scores = object(o[kind], path);
        orNull(scores.legalTop1, `${path}.legalTop1`);
        fraction(scores.agreeTop1, `${path}.agreeTop1`);
        array(scores.byMove, `${path}.byMove`).forEach((m, k) => {
          const mo = object(m, `${path}.byMove[${k}]`);
          count(mo.move, `${path}.byMove[${k}].move`);
          count(mo.positions, `${path}.byMove[${k}].positions`);
          orNull(mo.legalTop1, `${path}.byMove[${k}].legalTop1`);
          fraction(mo.agreeTop1, `${path}.byMove[${k}].agreeTop1`);
        });
      }
    });
  }
  if (root.interventions !== undefined) {
    const iv = object(root.interventions, 'interventions');
    count(iv.sites, 'interventions.sites');
    count(iv.games, 'interventions.games');
    if (typeof iv.strength !== 'number' || !(iv.strength > 0)) fail(file, 'interventions.strength', `must be a positive number, got ${JSON.stringify(iv.strength)}`);
    if (iv.edit !== 'flip' && iv.edit !== 'empty') fail(file, 'interventions.edit', `must be "flip" or "empty", got ${JSON.stringify(iv.edit)}`);
    const scores = (v: unknown, path: string) => {
      const o = object(v, path);
      for (const key of ['top1LegalEdited', 'top1LegalOriginal', 'overlapEdited', 'overlapOriginal']) fraction(o[key], `${path}.${key}`);
    };
    scores(iv.unedited, 'interventions.unedited');
    array(iv.layers, 'interventions.layers').forEach((l, i) => {
      const path = `interventions.layers[${i}]`;
      const o = object(l, path);
      count(o.layer, `${path}.layer`);
      if (o.source !== 'residual' && o.source !== 'state') fail(file, `${path}.source`, `must be "residual" or "state", got ${JSON.stringify(o.source)}`);
      fraction(o.readsEdit, `${path}.readsEdit`);
      fraction(o.otherSquaresChanged, `${path}.otherSquaresChanged`);
      scores(o.probe, `${path}.probe`);
      scores(o.random, `${path}.random`);
    });
  }
  array(root.probes, 'probes');
  return root as unknown as ProbeReport;
}
