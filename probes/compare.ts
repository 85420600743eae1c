/**
 * `gamba compare`: several models' probe reports side by side (compare.json + compare.html), as the
 * layer studies set Mambas against transformers. Per model, from its report.json and, where they lie
 * beside the checkpoint the report names, its trainer-state.json (steps, tokens, training minutes) and
 * eval.json (legal-move rate):
 *   - size: architecture, preset, parameters, width and depth;
 *   - training: steps, tokens, minutes, the backend they ran on and the auxiliary board loss if the
 *     run had one (null for a checkpoint shipped without its trainer state);
 *   - the legal-move rate of `gamba eval` (null without eval.json);
 *   - the scores of the `gamba play` matches kept beside the checkpoint (CHECKPOINT/matches/*), pooled
 *     by opponent;
 *   - probe accuracy by layer and source with the random-init control, by move number at the best
 *     layer of each source, the same accuracy pooled over the moves after `afterMove` (late in the
 *     game, where a model's board tends to decay) beside its control's, and the lens;
 *   - learning curves: the models that are one run's checkpoints (the run's directory, its
 *     `--snapshot-every` snapshots and its `--save-best` best), legal rate, best residual probe and
 *     match scores against training tokens and minutes.
 * The reports must probe one game and target: accuracies of different targets do not compare.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { BEST_DIR, CONFIG_FILE, SNAPSHOTS_DIR, readRecordedTrainerState } from '../src/train/checkpoint.js';
import { trainingBehind } from '../src/train/run-spec.js';
import type { ModelConfig } from '../src/model/config.js';
import { DEFAULT_TEMPERATURE, MATCH_SUMMARY_FILE, MATCHES_DIR } from '../src/eval/match-summary.js';
import { parameterCount } from '../src/model/models.js';
import { UserError } from '../src/util/errors.js';
import { parseJsonFile } from '../src/util/json.js';
import { writeFileAtomic } from '../src/util/write-file-atomic.js';
import { renderCompareHtml } from './compare-html.js';
import type { FeatureSource } from './capture.js';
import { checkReportDir } from './report-files.js';
import type { MoveAccuracy } from './metrics.js';
import { readReport, REPORT_JSON, type LayerResult, type ProbeReport } from './report.js';

export const COMPARE_FORMAT = 'gamba-compare';
export const COMPARE_VERSION = 1;
export const COMPARE_JSON = 'compare.json';
export const COMPARE_HTML = 'compare.html';
/** What `gamba eval --json > eval.json` leaves beside a checkpoint. */
export const EVAL_FILE = 'eval.json';
/** The late game pooled by default: after move 40 of Othello's 60, where othello_mamba's boards decay. */
export const DEFAULT_AFTER_MOVE = 40;

export interface ComparedLayer {
  source: FeatureSource;
  layer: number;
  cellAcc: number;
  boardAcc: number;
  /** The random-init control at the same source and layer (null without it). */
  control: { cellAcc: number; boardAcc: number } | null;
}

/** Accuracy pooled over the held-out positions after a move number (weighted by positions). */
export interface LateAccuracy {
  positions: number;
  cellAcc: number;
  boardAcc: number;
  /** The random-init control's, over the same positions (null without it). */
  control: { cellAcc: number; boardAcc: number } | null;
}

export interface ComparedModel {
  name: string;
  /** The report directory and the checkpoint its report names. */
  report: string;
  checkpoint: string;
  architecture: string;
  preset: string | null;
  parameters: number;
  dModel: number;
  nLayers: number;
  /** A Mamba's d_state (null for a transformer). */
  dState: number | null;
  training: {
    /** The run the checkpoint belongs to: its own directory, or the run's above a snapshot or best. */
    run: string;
    steps: number;
    tokens: number;
    minutes: number;
    backend: string;
    /** `gamba train --aux-board-loss W --aux-layer L` (null: trained without). */
    auxBoardLoss: { weight: number; layer: number } | null;
  } | null;
  /** Share of held-out positions whose greedy move is legal (`gamba eval`; null without eval.json). */
  legalTop1: number | null;
  /** The matches `gamba play` kept in CHECKPOINT/matches, pooled by opponent (sorted by its name). */
  matches: MatchScore[];
  layers: ComparedLayer[];
  /** The layer of highest cell accuracy per source, with its accuracy by move number. */
  best: {
    source: FeatureSource; layer: number; cellAcc: number; boardAcc: number;
    byMove: { move: number; positions: number; cellAcc: number; boardAcc: number }[];
    /** Pooled over the moves after the report's `afterMove` (null if no held-out game gets there). */
    late: LateAccuracy | null;
  }[];
  /** Legal top-1 of the logit and tuned lens by residual layer (null without the lens or its legality). */
  lens: { layer: number; logit: number; tuned: number }[] | null;
}

/** A model's games against one opponent (`rhino level 1`, `stockfish skill 0 at 1000 nodes`), over all its matches. */
export interface MatchScore {
  opponent: string;
  games: number;
  wins: number;
  draws: number;
  losses: number;
  /** (wins + draws / 2) / games. */
  score: number;
}

/** One run's checkpoints in order of training: what its learning curves are drawn from. */
export interface LearningCurve {
  run: string;
  points: {
    model: string; tokens: number; minutes: number; legalTop1: number | null; residualCellAcc: number | null; residualBoardAcc: number | null;
    /** Match score by opponent. */
    scores: Record<string, number>;
  }[];
}

export interface CompareReport {
  format: typeof COMPARE_FORMAT;
  version: number;
  createdAt: string;
  game: string;
  target: string;
  /** Probe points and held-out games of the first report (the others' are listed per model). */
  moveAxis: string;
  /** Each best layer's `late` accuracy pools the moves after this one. */
  afterMove: number;
  models: ComparedModel[];
  /** Runs with two checkpoints or more among the models. */
  curves: LearningCurve[];
}

/** Reads the reports (directories holding report.json, or the files) and puts them side by side. */
export function compareReports(paths: string[], names?: string[], afterMove = DEFAULT_AFTER_MOVE): CompareReport {
  if (!Number.isInteger(afterMove) || afterMove < 0) throw new UserError(`--after-move: ${afterMove} is not a move number (an integer from 0)`);
  if (paths.length < 1) throw new UserError('compare: give at least one probe report directory');
  if (names && names.length !== paths.length) throw new UserError(`--name: ${names.length} names for ${paths.length} reports (give one per report, in order)`);
  const reports = paths.map((p) => {
    const file = p.endsWith('.json') ? p : join(p, REPORT_JSON);
    return { file, report: readReport(file) };
  });
  const first = reports[0].report;
  for (const { file, report } of reports) {
    if (report.data.game !== first.data.game || report.target !== first.target) {
      throw new UserError(`${file}: probes ${report.data.game} ${report.target}, but ${reports[0].file} probes ${first.data.game} ${first.target}; compare reports of one game and target`);
    }
  }
  const models = reports.map(({ file, report }, i) => comparedModel(file, report, names?.[i], afterMove));
  const seen = new Set<string>();
  for (const m of models) {
    if (seen.has(m.name)) throw new UserError(`compare: two models are named ${m.name}; name them with --name`);
    seen.add(m.name);
  }
  return {
    format: COMPARE_FORMAT,
    version: COMPARE_VERSION,
    createdAt: new Date().toISOString(),
    game: first.data.game,
    target: first.target,
    moveAxis: first.data.moveAxis ?? 'move number',
    afterMove,
    models,
    curves: learningCurves(models),
  };
}

function comparedModel(file: string, report: ProbeReport, name: string | undefined, afterMove: number): ComparedModel {
  const reportDir = dirname(file);
  // The directory above the report if it is a checkpoint (where `gamba probe` puts a report by default,
  // and where it stays when both are moved together), or else the checkpoint as the probe run was given it.
  const above = relative(process.cwd(), dirname(resolve(reportDir))) || '.';
  const checkpoint = [above, report.checkpoint.dir].find((d) => existsSync(join(d, CONFIG_FILE))) ?? report.checkpoint.dir;
  const config = report.checkpoint.config as unknown as ModelConfig & Record<string, unknown>;
  const control = (l: LayerResult) => report.baselines.randomInit.find((r) => r.source === l.source && r.layer === l.layer) ?? null;
  const sources = [...new Set(report.layers.map((l) => l.source))];
  return {
    name: name ?? (basename(resolve(checkpoint)) || checkpoint),
    report: reportDir,
    checkpoint,
    architecture: String(config.architecture ?? 'mamba'),
    preset: report.checkpoint.preset ?? null,
    parameters: parameterCount({ ...config, architecture: config.architecture ?? 'mamba' } as ModelConfig),
    dModel: Number(config.d_model),
    nLayers: Number(config.n_layers),
    dState: config.architecture === 'transformer' ? null : Number(config.d_state),
    training: trainingOf(checkpoint, report.data.positionsPerGame),
    legalTop1: legalRateOf(checkpoint),
    matches: matchScoresOf(checkpoint),
    layers: report.layers.map((l) => {
      const c = control(l);
      return { source: l.source, layer: l.layer, cellAcc: l.cellAcc, boardAcc: l.boardAcc, control: c ? { cellAcc: c.cellAcc, boardAcc: c.boardAcc } : null };
    }),
    best: sources.map((source) => {
      const rows = report.layers.filter((l) => l.source === source);
      const b = rows.reduce((x, y) => (y.cellAcc > x.cellAcc ? y : x));
      const late = pooledAfter(b.byMove, afterMove);
      const bControl = control(b);
      const controlLate = bControl && pooledAfter(bControl.byMove, afterMove);
      return {
        source, layer: b.layer, cellAcc: b.cellAcc, boardAcc: b.boardAcc,
        byMove: b.byMove.map((m) => ({ move: m.move, positions: m.positions, cellAcc: m.cellAcc, boardAcc: m.boardAcc })),
        late: late && { ...late, control: controlLate ? { cellAcc: controlLate.cellAcc, boardAcc: controlLate.boardAcc } : null },
      };
    }),
    lens: report.lens && report.lens.layers[0].logit.legalTop1 !== null
      ? report.lens.layers.map((l) => ({ layer: l.layer, logit: l.logit.legalTop1!, tuned: l.tuned.legalTop1! }))
      : null,
  };
}

/** The runs that two or more of the models are checkpoints of, each with its checkpoints by tokens. */
function learningCurves(models: ComparedModel[]): LearningCurve[] {
  const byRun = new Map<string, ComparedModel[]>();
  for (const m of models) if (m.training) byRun.set(m.training.run, [...(byRun.get(m.training.run) ?? []), m]);
  return [...byRun.entries()].filter(([, ms]) => ms.length >= 2).map(([run, ms]) => ({
    run,
    points: ms.sort((a, b) => a.training!.tokens - b.training!.tokens).map((m) => {
      const residual = m.best.find((b) => b.source === 'residual');
      return {
        model: m.name, tokens: m.training!.tokens, minutes: m.training!.minutes, legalTop1: m.legalTop1,
        residualCellAcc: residual?.cellAcc ?? null, residualBoardAcc: residual?.boardAcc ?? null,
        scores: Object.fromEntries(m.matches.map((s) => [s.opponent, s.score])),
      };
    }),
  }));
}

/** The run a checkpoint belongs to: a snapshot's or best's run directory, or the checkpoint itself. */
function runOf(checkpoint: string): string {
  const dir = resolve(checkpoint);
  const parent = dirname(dir);
  const run = basename(parent) === SNAPSHOTS_DIR ? dirname(parent) : basename(dir) === BEST_DIR ? parent : dir;
  return relative(process.cwd(), run) || '.';
}

/** Cell and board accuracy over the positions after move `afterMove`, weighted by positions (null if none). */
function pooledAfter(byMove: MoveAccuracy[], afterMove: number): { positions: number; cellAcc: number; boardAcc: number } | null {
  const late = byMove.filter((m) => m.move > afterMove);
  const positions = late.reduce((sum, m) => sum + m.positions, 0);
  if (positions === 0) return null;
  const mean = (key: 'cellAcc' | 'boardAcc') => late.reduce((sum, m) => sum + m[key] * m.positions, 0) / positions;
  return { positions, cellAcc: mean('cellAcc'), boardAcc: mean('boardAcc') };
}

/** Steps, tokens and minutes of training from the checkpoint's trainer state, if it was kept. */
function trainingOf(checkpoint: string, tokensPerGame: number): ComparedModel['training'] {
  const state = readRecordedTrainerState(checkpoint);
  if (!state) return null;
  const { auxBoardLoss, auxLayer } = state.run;
  // A run started from another checkpoint (--init) counts the training behind those weights too.
  const behind = trainingBehind(state);
  return {
    run: runOf(checkpoint),
    steps: behind.steps,
    tokens: behind.games * tokensPerGame,
    minutes: behind.seconds / 60,
    backend: state.run.backend,
    auxBoardLoss: auxBoardLoss ? { weight: auxBoardLoss, layer: auxLayer! } : null,
  };
}

/** The legal-move rate of eval.json beside the checkpoint, if there is one. */
function legalRateOf(checkpoint: string): number | null {
  const file = join(checkpoint, EVAL_FILE);
  if (!existsSync(file)) return null;
  const value = (parseJsonFile(file, readFileSync(file, 'utf8')) as { legalTop1?: unknown }).legalTop1;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new UserError(`${file}: legalTop1 must be a number from 0 to 1 (the output of \`gamba eval --json\`)`);
  return value;
}

/**
 * The matches `gamba play` wrote into CHECKPOINT/matches (each directory's summary.json), pooled by
 * opponent; games against a person are left out.
 */
function matchScoresOf(checkpoint: string): MatchScore[] {
  const dir = join(checkpoint, MATCHES_DIR);
  if (!existsSync(dir)) return [];
  const byOpponent = new Map<string, { wins: number; draws: number; losses: number }>();
  for (const entry of readdirSync(dir).sort()) {
    const file = join(dir, entry, MATCH_SUMMARY_FILE);
    if (!existsSync(file)) continue;
    const summary = parseJsonFile(file, readFileSync(file, 'utf8')) as Record<string, unknown>;
    const counts = ['wins', 'draws', 'losses'].map((key) => summary[key]);
    if (!counts.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) throw new UserError(`${file}: wins, draws and losses must be counts (the summary.json of \`gamba play\`)`);
    const opponent = opponentOf(summary);
    if (opponent === null) continue;
    const [wins, draws, losses] = counts as number[];
    const pooled = byOpponent.get(opponent) ?? { wins: 0, draws: 0, losses: 0 };
    byOpponent.set(opponent, { wins: pooled.wins + wins, draws: pooled.draws + draws, losses: pooled.losses + losses });
  }
  return [...byOpponent.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([opponent, { wins, draws, losses }]) => {
    const games = wins + draws + losses;
    return { opponent, games, wins, draws, losses, score: games > 0 ? (wins + draws / 2) / games : 0 };
  });
}

/**
 * A match's opponent in words, from its summary (null for a person), and the model's sampling where it
 * is not play's default (chess: Karvonen's temperatures; Othello: 0), so matches of two protocols are not pooled.
 */
function opponentOf(summary: Record<string, unknown>): string | null {
  const engine = summary.engine as { skill?: number; nodes?: number; movetimeMs?: number } | undefined;
  const temperature = (summary.model as { temperature?: unknown } | undefined)?.temperature;
  const sampling = (defaultTemperature: unknown) => (temperature === undefined || temperature === defaultTemperature ? '' : `, model at temperature ${String(temperature)}`);
  if (engine) return `stockfish skill ${engine.skill} at ${engine.nodes !== undefined ? `${engine.nodes} nodes` : `${engine.movetimeMs} ms`}${sampling(DEFAULT_TEMPERATURE.chess)}`;
  const opponent = summary.opponent as { name?: string; level?: number } | undefined;
  if (!opponent || opponent.name === 'human') return null;
  return `${opponent.name}${opponent.level !== undefined ? ` level ${opponent.level}` : ''}${sampling(DEFAULT_TEMPERATURE.othello)}`;
}

/** Writes compare.html and compare.json into `dir` (each atomically, the JSON last); refuses to replace them unless forced. */
export function writeCompareDir(dir: string, compare: CompareReport, force: boolean): void {
  checkReportDir(dir, force, COMPARE_JSON);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, COMPARE_HTML), renderCompareHtml(compare));
  writeFileAtomic(join(dir, COMPARE_JSON), JSON.stringify(compare, null, 1) + '\n');
}
