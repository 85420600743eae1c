/**
 * What defines a training run (every flag that changes its numbers), and the state a checkpoint keeps
 * so that `--resume` continues it exactly: trainer-state.json holds both.
 */
import { MAX_MOVES } from '../../games/othello/notation.js';
import { UserError } from '../util/errors.js';
import type { BatchPosition } from '../../datasets/batches.js';
import type { Precision } from '../backend/backend.js';
import type { LossScaleState } from './loss-scale.js';

/** --plies' bounds: the first move is never a target (nothing comes before it), and MAX_MOVES fill an Othello board. */
export const FIRST_TARGET_PLY = 1;
export const LAST_PLY = MAX_MOVES - 1;

export type BackendKind = 'cpu' | 'webgpu' | 'auto';

export interface RunSpec {
  game: string;
  /** Dataset directory (absolute) and a fingerprint of its manifest, so a resume reads the same games. */
  data: string;
  dataFingerprint: string;
  preset: string;
  /** --d-state: the Mamba's state size instead of the preset's (absent: the preset's). */
  dState?: number;
  /** The backend asked for (a resume may name another; bit-exact continuation needs the same one). */
  backend: BackendKind;
  /** How the matmuls ran (--precision, resolved); absent in states written before it existed: f32. */
  precision?: Precision;
  batch: number;
  /** Peak and final learning rate of the warmup + cosine schedule. */
  lr: number;
  minLr: number;
  warmup: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Global gradient-norm clip (0 = off). */
  clip: number;
  seed: number;
  /** Validation loss every valEvery steps (and at the end) on the first valGames games of the val split. */
  valEvery: number;
  valGames: number;
  /** Periodic checkpoint every saveEvery steps (and at the end, and on a stop). */
  saveEvery: number;
  /** Total steps: the schedule's horizon. With --minutes, estimated once and recorded here. */
  horizon: number;
  /** The --minutes budget the horizon was estimated from, null when --steps set it. */
  minutes: number | null;
  /** --init: the checkpoint directory (absolute) whose weights the run started from; absent for a fresh init. */
  init?: string;
  /**
   * --init: the training behind those weights (the init checkpoint's steps, games and seconds, its own
   * init's included), read from its trainer-state.json; absent for a fresh init or a checkpoint without
   * one. Reports add it to the run's own, so a continued model's curve is against all its training.
   */
  initTraining?: PriorTraining;
  /** --winner-moves: only the moves of each game's winner are learned (absent: every move). */
  winnerMoves?: boolean;
  /** --labelled-positions: of a record that stops before its game is over, only the last move is learned (absent: every move). */
  labelledPositions?: boolean;
  /** --plies: only the moves played after LO to HI moves are learned, as "LO-HI" (absent: every move). */
  plies?: string;
  /** --save-best: the checkpoint of the lowest validation loss so far is kept in BEST_DIR (absent: not kept). */
  saveBest?: boolean;
  /** --aux-board-loss: the weight W of the auxiliary board loss (absent: none). */
  auxBoardLoss?: number;
  /** --aux-layer: the residual layer its head reads (resolved; absent without an auxiliary loss). */
  auxLayer?: number;
  /**
   * --snapshot-every: the model (with its config and trainer state, without the optimizer) is also kept
   * every N steps in OUT/snapshots/step-N, for learning curves (absent: none). Changes no number of the
   * run, so a resume may set another.
   */
  snapshotEvery?: number;
  /**
   * --length-buckets: each batch holds games of one of N length classes, cut to that class's length,
   * as many as make the tokens of `batch` full records (absent: `batch` full-length rows a step).
   */
  lengthBuckets?: number;
}

export interface PriorTraining {
  steps: number;
  games: number;
  seconds: number;
}

/** All the training behind a checkpoint's weights: its run's own and whatever its --init had. */
export function trainingBehind(state: TrainerState): PriorTraining {
  const prior = state.run.initTraining ?? { steps: 0, games: 0, seconds: 0 };
  return { steps: prior.steps + state.step, games: prior.games + gamesTrained(state), seconds: prior.seconds + state.trainSeconds };
}

/** Games the run's own steps have read (states written before `games` was kept: batch a step). */
export function gamesTrained(state: TrainerState): number {
  return state.games ?? state.step * state.run.batch;
}

export interface TrainerState {
  format: 'gamba-trainer-state';
  version: 1;
  run: RunSpec;
  /** Completed optimizer steps. */
  step: number;
  /** BatchStream position (epoch, cursor, shuffle RNG state) for the next batch. */
  dataPosition: BatchPosition;
  /** Training loss of every completed step, in order. */
  lossHistory: number[];
  valHistory: { step: number; loss: number }[];
  /** Wall-clock seconds spent in training steps so far (all sessions). */
  trainSeconds: number;
  /** Games the completed steps have read (absent in states written before it was kept: step x batch). */
  games?: number;
  /** How the horizon was set, in words (recorded for the reader of the file). */
  horizonNote: string;
  /** Mixed precision's loss scaler, as it stands after `step` steps. */
  lossScale?: LossScaleState;
}

const SPEC_KEYS: (keyof RunSpec)[] = [
  'game', 'data', 'dataFingerprint', 'preset', 'backend', 'batch', 'lr', 'minLr', 'warmup', 'weightDecay', 'beta1',
  'beta2', 'eps', 'clip', 'seed', 'valEvery', 'valGames', 'saveEvery', 'horizon', 'minutes',
];

/** Checks a trainer-state.json object read from `file`; returns it typed. */
export function validateTrainerState(value: Record<string, unknown>, file: string): TrainerState {
  const bad = (what: string) => new UserError(`${file}: ${what} (not a gamba trainer state, or a damaged one)`);
  if (value.format !== 'gamba-trainer-state') throw bad('format is not "gamba-trainer-state"');
  if (value.version !== 1) throw bad(`unsupported version ${JSON.stringify(value.version)}`);
  const run = value.run as Record<string, unknown> | undefined;
  if (!run || typeof run !== 'object') throw bad('no run');
  for (const key of SPEC_KEYS) if (!(key in run)) throw bad(`run.${key} is missing`);
  if (!Number.isSafeInteger(value.step) || (value.step as number) < 0) throw bad('step is not a step count');
  if (!Array.isArray(value.lossHistory) || value.lossHistory.length !== value.step) throw bad('lossHistory does not have one loss per step');
  if (!value.dataPosition || typeof value.dataPosition !== 'object') throw bad('no dataPosition');
  if (!Array.isArray(value.valHistory)) throw bad('no valHistory');
  if (value.games !== undefined && !(Number.isSafeInteger(value.games) && (value.games as number) >= 0)) throw bad('games is not a game count');
  if (run.precision !== undefined && run.precision !== 'f32' && run.precision !== 'mixed') throw bad(`run.precision ${JSON.stringify(run.precision)} is not f32 or mixed`);
  const scale = value.lossScale as Record<string, unknown> | undefined;
  const prior = run.initTraining as Record<string, unknown> | undefined;
  if (prior !== undefined && !(prior && typeof prior === 'object' && ['steps', 'games', 'seconds'].every((k) => Number.isFinite(prior[k]) && (prior[k] as number) >= 0))) throw bad('run.initTraining is not {steps, games, seconds}');
  if (scale !== undefined && !(typeof scale === 'object' && scale && Number.isFinite(scale.scale) && (scale.scale as number) >= 1 && Number.isSafeInteger(scale.cleanSteps))) throw bad('lossScale is not {scale, cleanSteps}');
  return value as unknown as TrainerState;
}

/** Fields added to the run spec after its first version, as states written before them mean them. */
const LATER_FIELD_DEFAULTS: Partial<RunSpec> = { precision: 'f32', winnerMoves: false, labelledPositions: false, plies: `${FIRST_TARGET_PLY}-${LAST_PLY}`, saveBest: false, auxBoardLoss: 0, snapshotEvery: 0, lengthBuckets: 0 };

/**
 * Flags given with --resume must agree with the run being resumed; any that differ are refused (a
 * different lr or batch would be a different run). The backend, the data's path and the snapshot
 * interval may change: they change no number of the run. Returns nothing; throws naming the first conflict.
 */
export function checkResumeFlags(run: RunSpec, given: Partial<RunSpec>, file: string): void {
  for (const [key, value] of Object.entries(given) as [keyof RunSpec, unknown][]) {
    if (value === undefined || key === 'backend' || key === 'data' || key === 'snapshotEvery') continue;
    const recorded = run[key] === undefined ? LATER_FIELD_DEFAULTS[key] : run[key];
    if (recorded !== value) {
      throw new UserError(`--${flagName(key)} ${String(value)} differs from this run's ${String(recorded)} (recorded in ${file}); to resume, leave it out; to start a different run, use another --out or --force`);
    }
  }
}

function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/** The command that continues the run in `outDir`. */
export function resumeCommand(outDir: string): string {
  return `npx gamba train --resume --out ${shellQuote(outDir)}`;
}

function shellQuote(text: string): string {
  return /^[\w./:@%+=,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
