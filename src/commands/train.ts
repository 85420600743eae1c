/**
 * `gamba train`: trains a language model (a Mamba or a transformer) on a dataset of game records and writes a checkpoint
 * directory (model.safetensors, config.json, optimizer and trainer state, metrics.jsonl).
 * Ctrl-C / SIGTERM saves at the end of the current step and prints the command that resumes (a second
 * Ctrl-C exits at once).
 */
import type { Argv, CommandModule } from 'yargs';
import { join } from 'node:path';
import { DATASET_GAMES } from '../../datasets/games.js';
import { MAX_STATE_SIZE, PRESETS } from '../model/config.js';
import { presetSummary } from '../model/models.js';
import { BEST_DIR } from '../train/checkpoint.js';
import { trainingDefaults, type TrainingDefaults } from '../train/defaults.js';
import type { PrecisionChoice } from '../backend/index.js';
import type { BackendKind, RunSpec } from '../train/run-spec.js';
import { FIRST_TARGET_PLY, LAST_PLY, resumeCommand } from '../train/run-spec.js';
import { resumeTraining, startTraining, type NewRunRequest, type TrainHooks, type TrainResult } from '../train/trainer.js';
import { UserError } from '../util/errors.js';
import { intRange, integerFlag, positiveNumber } from '../util/flags.js';
import { note, printResult, ProgressBar } from '../util/output.js';

interface TrainArgs {
  game?: string;
  data?: string;
  preset?: string;
  backend?: BackendKind;
  precision?: PrecisionChoice;
  out: string;
  steps?: number;
  minutes?: number;
  batch?: number;
  lr?: number;
  minLr?: number;
  warmup?: number;
  weightDecay?: number;
  clip?: number;
  seed?: number;
  valEvery?: number;
  valGames?: number;
  saveEvery?: number;
  init?: string;
  winnerMoves: boolean;
  labelledPositions: boolean;
  plies?: string;
  saveBest: boolean;
  snapshotEvery?: number;
  lengthBuckets?: number;
  auxBoardLoss?: number;
  auxLayer?: number;
  dState?: number;
  resume: boolean;
  force: boolean;
  json: boolean;
  stopAfter?: number;
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'Train a model (a Mamba or a transformer) on game records (AdamW, warmup + cosine, checkpoints, resumable)',
  builder: (yargs) =>
    yargs
      .option('game', { type: 'string', choices: Object.keys(DATASET_GAMES), describe: 'game of the dataset' })
      .option('data', { type: 'string', describe: 'dataset directory (from `gamba generate`)' })
      .option('preset', { type: 'string', describe: `model preset, by architecture and parameters: ${presetSummary()}` })
      .option('backend', { type: 'string', choices: ['cpu', 'webgpu', 'auto'], describe: 'compute backend (default auto)' })
      .option('precision', { type: 'string', choices: ['auto', 'f32', 'mixed'], describe: 'matmuls in float32, or mixed (f16 operands on the tensor cores, f32 sums, weights and optimizer; dynamic loss scaling); default auto: mixed where the adapter has f16 subgroup matrices' })
      .option('out', { type: 'string', demandOption: true, describe: 'checkpoint directory' })
      .option('steps', { type: 'number', describe: 'optimizer steps: the run\'s horizon' })
      .option('minutes', { type: 'number', describe: 'train for about this long (horizon estimated from the first steps\' speed and recorded)' })
      .option('batch', { type: 'number', describe: `games per step (default per preset: ${perPreset('batch')})` })
      .option('lr', { type: 'number', describe: `peak learning rate (default per preset: ${perPreset('lr')})` })
      .option('min-lr', { type: 'number', describe: 'learning rate at the horizon (default lr/10)' })
      .option('warmup', { type: 'number', describe: 'linear warmup steps (default 5% of the horizon)' })
      .option('weight-decay', { type: 'number', describe: `AdamW weight decay on weight matrices, not on embeddings, norms, biases, A_log, D (default ${perPreset('weightDecay')})` })
      .option('clip', { type: 'number', describe: `global gradient-norm clip, 0 = off (default ${perPreset('clip')})` })
      .option('seed', { type: 'number', describe: 'random seed for initialisation and data order (default 1)' })
      .option('val-every', { type: 'number', describe: `validation loss every N steps (default ${perPreset('valEvery')})` })
      .option('val-games', { type: 'number', describe: `size of the fixed validation subset: the first N val games (default ${perPreset('valGames')})` })
      .option('save-every', { type: 'number', describe: `checkpoint every N steps (default ${perPreset('saveEvery')})` })
      .option('init', { type: 'string', describe: 'start from the weights of this checkpoint directory (a fine-tune: same game, vocabulary and preset; fresh optimizer and schedule)' })
      .option('winner-moves', { type: 'boolean', default: false, describe: 'learn only the moves of the side that won each game (Othello; a draw keeps both sides)' })
      .option('labelled-positions', { type: 'boolean', default: false, describe: 'of a record that stops before its game is over (dataset label-positions), learn only its last move, the engine\'s answer (Othello; whole games as before)' })
      .option('plies', { type: 'string', describe: 'learn only the moves played after LO to HI moves, e.g. 30-50 (Othello; with --winner-moves or --labelled-positions, of the moves they keep)' })
      .option('save-best', { type: 'boolean', default: false, describe: 'also keep the checkpoint of the lowest validation loss so far in OUT/best (a whole checkpoint: eval, probe, play and --init read it)' })
      .option('snapshot-every', { type: 'number', describe: 'also keep the model every N steps in OUT/snapshots/step-N (model, config and trainer state: eval, probe, play and compare read it) for learning curves; 0 = none (default); a resume may change it' })
      .option('length-buckets', { type: 'number', describe: 'batches of games of one of N length classes, each cut to its class\'s length and holding as many games as the tokens of --batch full records (chess games fill about 56% of their records; 8 classes: about 91%); 0 = every row full length (default)' })
      .option('d-state', { type: 'number', describe: 'Mamba: the SSM state size N instead of the preset\'s (the d_state sweep; recorded in config.json)' })
      .option('aux-board-loss', { type: 'number', describe: 'Othello: add W x the cross-entropy of a linear head reading the mine/theirs board from the residual stream of --aux-layer (the head is saved beside the model, never used at inference)' })
      .option('aux-layer', { type: 'number', describe: 'the residual layer the --aux-board-loss head reads: 0 (embeddings) to n_layers (default: three quarters of n_layers)' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue the run saved in --out' })
      .option('force', { type: 'boolean', default: false, describe: 'replace a checkpoint already in --out' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object at the end' })
      .option('stop-after', { type: 'number', hidden: true, describe: 'stop (and save) after N steps, as Ctrl-C would' })
      .example('$0 train --game othello --data datasets/samples/othello --preset tiny --out runs/tiny --minutes 5', '')
      .example('$0 train --resume --out runs/tiny', 'continue a stopped run') as unknown as Argv<TrainArgs>,
  handler: async (args) => {
    const stop = installStopSignals();
    try {
      if (args.resume && args.init !== undefined) throw new UserError(`--init starts a new run from a checkpoint's weights; to continue the run in ${args.out}, leave it out`);
      const hooks = trainingHooks(stop, args.stopAfter === undefined ? undefined : integerFlag('stop-after', args.stopAfter, 1));
      const result = args.resume ? await resumeTraining({ outDir: args.out, given: givenFlags(args) }, hooks) : await startTraining(newRunRequest(args), hooks);
      reportTraining(result, args.json);
    } finally {
      stop.uninstall();
    }
  },
};

export interface StopSignals {
  requested: () => boolean;
  uninstall: () => void;
}

/**
 * SIGINT/SIGTERM ask the run to stop after the current step. A second Ctrl-C exits at once; a repeated
 * SIGTERM does not, because `timeout` and job schedulers send it to the command and then to its whole
 * process group, so one stop can arrive twice (they send SIGKILL if they will not wait).
 */
export function installStopSignals(): StopSignals {
  let requested = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (requested) {
      if (signal === 'SIGTERM') return;
      note(`gamba: ${signal} again: exiting without waiting for the checkpoint`);
      process.exit(130);
    }
    requested = true;
    note(`\n${signal}: saving a checkpoint at the end of this step...`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    requested: () => requested,
    uninstall: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Progress bar on stderr with loss and tokens/s; the stop request wired in. */
export function trainingHooks(stop: StopSignals, stopAfterStep?: number): TrainHooks {
  let bar: ProgressBar | null = null;
  let tokensPerSec = 0;
  return {
    shouldStop: stop.requested,
    stopAfterStep,
    note: (message) => note(message),
    onStep: (metrics, run) => {
      bar ??= new ProgressBar('train', run.horizon);
      bar.setTotal(run.horizon);
      // A smoothed rate: single steps are noisy on a shared machine.
      tokensPerSec = tokensPerSec === 0 ? metrics.tokensPerSec : 0.9 * tokensPerSec + 0.1 * metrics.tokensPerSec;
      const val = metrics.valLoss === undefined ? '' : ` val ${metrics.valLoss.toFixed(4)}`;
      bar.update(metrics.step, `loss ${metrics.loss.toFixed(4)}${val} lr ${metrics.lr.toExponential(2)} ${Math.round(tokensPerSec)} tok/s`);
      if (metrics.step === run.horizon) bar.finish();
    },
  };
}

/** Prints the result: one JSON object with --json, else a few lines; and how to resume a stopped run. */
export function reportTraining(result: TrainResult, json: boolean): void {
  if (result.stopped) note(`stopped at step ${result.steps} of ${result.horizon}; checkpoint saved in ${result.outDir}; resume with: ${resumeCommand(result.outDir)}`);
  const summary = {
    steps: result.steps,
    finalLoss: result.finalLoss,
    valLoss: result.valLoss,
    tokensPerSec: result.tokensPerSec,
    gamesPerSec: result.gamesPerSec,
    backend: result.backend,
    lossHistory: result.lossHistory,
    horizon: result.horizon,
    stopped: result.stopped,
    checkpoint: result.outDir,
    ...(result.best === undefined ? {} : { best: result.best && { ...result.best, checkpoint: join(result.outDir, BEST_DIR) } }),
  };
  printResult(json, summary, () => {
    const lines = [
      `${result.stopped ? 'stopped' : 'trained'} ${result.steps}/${result.horizon} steps on ${result.backend}: loss ${fmt(result.finalLoss)}, val loss ${fmt(result.valLoss)}, ${result.tokensPerSec} tokens/s, ${result.gamesPerSec} games/s`,
      `checkpoint: ${result.outDir} (metrics: ${result.outDir}/metrics.jsonl)`,
    ];
    if (result.best) lines.push(`best: ${join(result.outDir, BEST_DIR)} (step ${result.best.step}, val loss ${fmt(result.best.valLoss)})`);
    if (result.stopped) lines.push(`resume with: ${resumeCommand(result.outDir)}`);
    return lines.join('\n');
  });
}

/** A default per preset for --help, e.g. "tiny 16, othello-base 64, chess-base 16". */
function perPreset(key: keyof TrainingDefaults): string {
  const values = Object.keys(PRESETS).map((preset) => [preset, trainingDefaults(preset)[key]] as const);
  return values.every(([, v]) => v === values[0][1]) ? String(values[0][1]) : values.map(([preset, v]) => `${preset} ${v}`).join(', ');
}

function fmt(x: number | null): string {
  return x === null ? '-' : x.toFixed(4);
}

function nonNegativeNumber(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new UserError(`--${name}: expected a number >= 0, got ${String(value)}`);
  return value;
}

function optionalInteger(name: string, value: number | undefined, min: number): number | undefined {
  return value === undefined ? undefined : integerFlag(name, value, min);
}

/** The flags given on the command line, checked, as RunSpec fields (undefined = not given). */
function givenFlags(args: TrainArgs): Partial<RunSpec> {
  return {
    game: args.game,
    data: args.data,
    preset: args.preset,
    backend: args.backend,
    precision: args.precision === 'auto' ? undefined : args.precision,
    batch: optionalInteger('batch', args.batch, 1),
    lr: positiveNumber('lr', args.lr),
    minLr: nonNegativeNumber('min-lr', args.minLr),
    warmup: optionalInteger('warmup', args.warmup, 0),
    weightDecay: nonNegativeNumber('weight-decay', args.weightDecay),
    clip: nonNegativeNumber('clip', args.clip),
    seed: optionalInteger('seed', args.seed, 0),
    valEvery: optionalInteger('val-every', args.valEvery, 1),
    valGames: optionalInteger('val-games', args.valGames, 1),
    saveEvery: optionalInteger('save-every', args.saveEvery, 1),
    winnerMoves: args.winnerMoves ? true : undefined,
    labelledPositions: args.labelledPositions ? true : undefined,
    plies: args.plies === undefined ? undefined : intRange('plies', args.plies, [FIRST_TARGET_PLY, LAST_PLY], 'number of moves').join('-'),
    saveBest: args.saveBest ? true : undefined,
    snapshotEvery: optionalInteger('snapshot-every', args.snapshotEvery, 0),
    lengthBuckets: optionalInteger('length-buckets', args.lengthBuckets, 0),
    dState: args.dState === undefined ? undefined : integerFlag('d-state', args.dState, 1, MAX_STATE_SIZE),
    auxBoardLoss: positiveNumber('aux-board-loss', args.auxBoardLoss),
    auxLayer: optionalInteger('aux-layer', args.auxLayer, 0),
    horizon: optionalInteger('steps', args.steps, 1),
    minutes: positiveNumber('minutes', args.minutes),
  };
}

function newRunRequest(args: TrainArgs): NewRunRequest {
  const given = givenFlags(args);
  for (const flag of ['game', 'data', 'preset'] as const) {
    if (given[flag] === undefined) throw new UserError(`--${flag} is required to start a run (or add --resume to continue the one in ${args.out})`);
  }
  if ((given.horizon === undefined) === (given.minutes === undefined)) throw new UserError('give exactly one of --steps N and --minutes M (the run\'s horizon)');
  const defaults = trainingDefaults(given.preset!);
  return {
    outDir: args.out,
    game: given.game!,
    data: given.data!,
    preset: given.preset!,
    backend: given.backend ?? 'auto',
    precision: args.precision ?? 'auto',
    batch: given.batch ?? defaults.batch,
    lr: given.lr ?? defaults.lr,
    minLr: given.minLr,
    warmup: given.warmup,
    weightDecay: given.weightDecay ?? defaults.weightDecay,
    clip: given.clip ?? defaults.clip,
    seed: given.seed ?? 1,
    valEvery: given.valEvery ?? defaults.valEvery,
    valGames: given.valGames ?? defaults.valGames,
    saveEvery: given.saveEvery ?? defaults.saveEvery,
    steps: given.horizon,
    minutes: given.minutes ?? undefined,
    force: args.force,
    init: args.init,
    winnerMoves: args.winnerMoves,
    labelledPositions: args.labelledPositions,
    plies: given.plies,
    saveBest: args.saveBest,
    snapshotEvery: given.snapshotEvery,
    lengthBuckets: given.lengthBuckets,
    auxBoardLoss: given.auxBoardLoss,
    auxLayer: given.auxLayer,
    dState: given.dState,
  };
}
