/**
 * The training run: batch, forward, loss, backward, clip, AdamW step, log, and now and then validate and
 * save. A run is defined by its RunSpec; everything it needs to continue (weights, AdamW moments, step,
 * data position, loss history) is in the checkpoint directory, so a resumed run takes the same steps as
 * one that was never stopped and ends on the same loss, bit for bit on the cpu backend.
 *
 * Stopping: `hooks.shouldStop()` is asked after every step (the CLI wires it to SIGINT/SIGTERM);
 * `hooks.stopAfterStep` stops after that many completed steps (tests). Either way the run saves a
 * checkpoint at the end of the step and returns with `stopped: true`.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BatchStream, lengthBuckets, maskedInputsTargets, type TargetMask } from '../../datasets/batches.js';
import { DATASET_GAMES, type DatasetGame } from '../../datasets/games.js';
import { MANIFEST_FILE } from '../../datasets/format.js';
import { openDataset, type Dataset } from '../../datasets/reader.js';
import { createBackend, type PrecisionChoice } from '../backend/index.js';
import type { Backend } from '../backend/backend.js';
import { configFromPreset, type ModelConfig } from '../model/config.js';
import type { LanguageModel } from '../model/language-model.js';
import { checkBatchFits } from '../model/memory.js';
import { createModel, initModelParameters, modelParameterShapes } from '../model/models.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import {
  AUX_HEAD_FILE,
  BEST_DIR,
  SNAPSHOTS_DIR,
  snapshotDir,
  CONFIG_FILE,
  METRICS_FILE,
  MODEL_FILE,
  OPTIMIZER_FILE,
  STATE_FILE,
  hasCheckpoint,
  readConfigJson,
  readModelTensors,
  readAuxHead,
  readOptimizer,
  readRecordedTrainerState,
  readTrainerState,
  recoverInterruptedSave,
  writeCheckpoint,
  type CheckpointParts,
  type NamedTensors,
} from './checkpoint.js';
import { AuxBoardLoss, auxHeadShapes, defaultAuxLayer, initAuxHead } from './aux-board-loss.js';
import { checkpointConfigJson, modelConfigFromJson } from './config-json.js';
import { checkModelFitsDataset, loadCheckpoint } from './load-checkpoint.js';
import { LossScaler } from './loss-scale.js';
import { MetricsLog, type StepMetrics } from './metrics.js';
import { AdamW } from './optimizer.js';
import { checkResumeFlags, gamesTrained, trainingBehind, validateTrainerState, type BackendKind, type RunSpec, type TrainerState } from './run-spec.js';
import { defaultWarmup, learningRateAt } from './schedule.js';
import { queueTrainStep, readStep, trainStep, type AuxTraining, type PendingStep, type StepResult } from './step.js';

/** A new run: everything of RunSpec but what is derived (horizon from steps or minutes, warmup, data fingerprint). */
export interface NewRunRequest {
  outDir: string;
  game: string;
  data: string;
  preset: string;
  /** A Mamba's state size instead of the preset's. */
  dState?: number;
  backend: BackendKind;
  /** How the matmuls run (default auto: mixed where the adapter has f16 subgroup matrices). */
  precision?: PrecisionChoice;
  batch: number;
  lr: number;
  minLr?: number;
  warmup?: number;
  weightDecay: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  clip: number;
  seed: number;
  valEvery: number;
  valGames: number;
  saveEvery: number;
  /** Exactly one of steps and minutes. */
  steps?: number;
  minutes?: number;
  /** Replace a checkpoint already in outDir. */
  force?: boolean;
  /** A checkpoint directory whose weights the run starts from (a fine-tune), instead of a fresh init. */
  init?: string;
  /** Learn only the moves of the side that won each game. */
  winnerMoves?: boolean;
  /** Of a record that stops before its game is over (a labelled position), learn only the last move. */
  labelledPositions?: boolean;
  /** Learn only the moves played after LO to HI moves ("LO-HI"). */
  plies?: string;
  /** Keep the checkpoint of the lowest validation loss so far in outDir/best. */
  saveBest?: boolean;
  /** The weight W of an auxiliary board loss (src/train/aux-board-loss.ts), and the layer its head reads. */
  auxBoardLoss?: number;
  auxLayer?: number;
  /** Keep the model every N steps in outDir/snapshots (RunSpec.snapshotEvery). */
  snapshotEvery?: number;
  /** Batches of games of one of N length classes, cut to it (RunSpec.lengthBuckets). */
  lengthBuckets?: number;
}

export interface ResumeRequest {
  outDir: string;
  /** Flags given on the command line: each must match the run (backend and data may differ). */
  given?: Partial<RunSpec>;
}

export interface TrainHooks {
  /** Asked after every step; true saves and stops. */
  shouldStop?: () => boolean;
  /** Stop (and save) once this many steps are complete. */
  stopAfterStep?: number;
  /** Called after every step with its metrics (progress bars). */
  onStep?: (metrics: StepMetrics, run: RunSpec) => void;
  /** One-line notes for the user (stderr). */
  note?: (message: string) => void;
}

export interface TrainResult {
  outDir: string;
  steps: number;
  horizon: number;
  finalLoss: number | null;
  valLoss: number | null;
  /** Training tokens (batch x length per step) per second over this session's steps. */
  tokensPerSec: number;
  /** Games per second over this session's steps (with length buckets, more games a step where they are short). */
  gamesPerSec: number;
  backend: string;
  lossHistory: number[];
  stopped: boolean;
  run: RunSpec;
  /** With --save-best: the step and validation loss of the checkpoint in outDir/best (null before any validation). */
  best?: { step: number; valLoss: number } | null;
}

/** Everything a run needs in memory. */
interface Session {
  outDir: string;
  run: RunSpec;
  state: TrainerState;
  config: ModelConfig;
  backend: Backend;
  dataset: Dataset;
  model: LanguageModel;
  optimizer: AdamW;
  /** --aux-board-loss: the head's loss and optimizer. */
  aux?: AuxTraining;
  /** The loss scale of mixed precision (a fixed 1 in f32). */
  scaler: LossScaler;
  stream: BatchStream;
  metrics: MetricsLog;
  /** A new --minutes run: when it started and its budget, until the horizon is settled (settleHorizon). */
  settleHorizon?: { began: number; minutes: number };
}

const DEFAULT_BETAS = { beta1: 0.9, beta2: 0.95, eps: 1e-8 };
/** Steps queued on a GPU backend between readbacks of their losses. */
const GPU_READ_EVERY = 16;

export async function startTraining(request: NewRunRequest, hooks: TrainHooks = {}): Promise<TrainResult> {
  const outDir = resolve(request.outDir);
  if (hasCheckpoint(outDir) && !request.force) {
    throw new UserError(`${outDir} already holds a checkpoint: add --resume to continue that run, or --force to replace it`);
  }
  if ((request.steps === undefined) === (request.minutes === undefined)) throw new UserError('give exactly one of --steps and --minutes (the run\'s horizon)');
  const dataset = openTrainingData(request.data, request.game);
  const config = configFromPreset(request.preset, dataset.manifest.vocabSize, dataset.recordLength - 1, { d_state: request.dState });
  const backend = await createBackend(request.backend, request.precision ?? 'auto');
  // Before anything is allocated or written to outDir: a batch that cannot fit stops here in one line.
  checkStepsFit(backend, config, request.batch, dataset.recordLength, request.lengthBuckets, `--batch ${request.batch}`);
  const params = request.init === undefined ? initModelParameters(config, new Rng(request.seed, 1)) : initialWeights(request.init, config, request.data, dataset, hooks);
  // The training behind --init's weights, which reports count with the run's own.
  const initState = request.init === undefined ? null : readRecordedTrainerState(request.init);
  const run: RunSpec = {
    game: request.game,
    data: resolve(request.data),
    dataFingerprint: datasetFingerprint(request.data),
    preset: request.preset,
    ...(request.dState === undefined ? {} : { dState: request.dState }),
    backend: request.backend,
    precision: backend.precision,
    batch: request.batch,
    lr: request.lr,
    minLr: request.minLr ?? request.lr / 10,
    warmup: request.warmup ?? 0,
    weightDecay: request.weightDecay,
    beta1: request.beta1 ?? DEFAULT_BETAS.beta1,
    beta2: request.beta2 ?? DEFAULT_BETAS.beta2,
    eps: request.eps ?? DEFAULT_BETAS.eps,
    clip: request.clip,
    seed: request.seed,
    valEvery: request.valEvery,
    valGames: Math.min(request.valGames, dataset.count('val')),
    saveEvery: request.saveEvery,
    horizon: request.steps ?? 0,
    minutes: request.minutes ?? null,
    ...(request.init === undefined ? {} : { init: resolve(request.init) }),
    ...(initState ? { initTraining: trainingBehind(initState) } : {}),
    ...(request.winnerMoves ? { winnerMoves: true } : {}),
    ...(request.labelledPositions ? { labelledPositions: true } : {}),
    ...(request.plies ? { plies: request.plies } : {}),
    ...(request.saveBest ? { saveBest: true } : {}),
    ...(request.snapshotEvery ? { snapshotEvery: request.snapshotEvery } : {}),
    ...(request.lengthBuckets ? { lengthBuckets: request.lengthBuckets } : {}),
    ...auxSpec(request, config),
  };
  const stream = trainingStream(dataset, run, targetMaskOf(run));
  const began = performance.now();
  let horizonNote = `--steps ${request.steps}`;
  if (request.minutes !== undefined) {
    const estimate = await estimateHorizon(backend, config, params, dataset, run, stream, request.minutes);
    run.horizon = estimate.horizon;
    horizonNote = estimate.note;
    hooks.note?.(`--minutes ${request.minutes}: ${estimate.note}`);
  }
  if (request.warmup === undefined) run.warmup = defaultWarmup(run.horizon);

  mkdirSync(outDir, { recursive: true });
  if (request.force) {
    for (const name of [MODEL_FILE, CONFIG_FILE, OPTIMIZER_FILE, AUX_HEAD_FILE, STATE_FILE, METRICS_FILE]) rmSync(join(outDir, name), { force: true });
    // a best checkpoint or snapshots of the replaced run would pass for this one's
    rmSync(join(outDir, BEST_DIR), { recursive: true, force: true });
    rmSync(join(outDir, SNAPSHOTS_DIR), { recursive: true, force: true });
  }
  const model = createModel(backend, config, params);
  const session: Session = {
    outDir,
    run,
    config,
    backend,
    dataset,
    model,
    optimizer: new AdamW(backend, model.packed, run),
    aux: auxTraining(backend, config, run),
    scaler: LossScaler.start(backend.precision),
    stream,
    metrics: new MetricsLog(join(outDir, METRICS_FILE)),
    state: {
      format: 'gamba-trainer-state',
      version: 1,
      run,
      step: 0,
      dataPosition: { epoch: 0, cursor: 0, rngState: [0, 0, 0, 0] },
      lossHistory: [],
      valHistory: [],
      trainSeconds: 0,
      horizonNote,
    },
    settleHorizon: request.minutes === undefined ? undefined : { began, minutes: request.minutes },
  };
  return runSteps(session, hooks);
}

export async function resumeTraining(request: ResumeRequest, hooks: TrainHooks = {}): Promise<TrainResult> {
  const outDir = resolve(request.outDir);
  if (!hasCheckpoint(outDir)) throw new UserError(`${outDir}: no checkpoint to resume (start the run without --resume)`);
  const recovered = recoverInterruptedSave(outDir);
  if (recovered) hooks.note?.(recovered);
  const statePath = join(outDir, STATE_FILE);
  const state = validateTrainerState(readTrainerState(outDir), statePath);
  const run = state.run;
  checkResumeFlags(run, request.given ?? {}, statePath);
  const snapshotEvery = request.given?.snapshotEvery;
  if (snapshotEvery !== undefined) {
    if (snapshotEvery > 0) run.snapshotEvery = snapshotEvery;
    else delete run.snapshotEvery;
  }
  const dataDir = request.given?.data ?? run.data;
  const dataset = openTrainingData(dataDir, run.game);
  if (datasetFingerprint(dataDir) !== run.dataFingerprint) {
    throw new UserError(`${join(dataDir, MANIFEST_FILE)}: not the dataset this run was trained on (its manifest differs from the one recorded in ${statePath})`);
  }
  run.data = resolve(dataDir);
  const config = configFromPreset(run.preset, dataset.manifest.vocabSize, dataset.recordLength - 1, { d_state: run.dState });
  checkConfigMatches(outDir, config);
  const backendKind = request.given?.backend ?? run.backend;
  if (backendKind !== run.backend) hooks.note?.(`resuming on --backend ${backendKind} (the run started on ${run.backend}); losses will not match an uninterrupted run bit for bit`);
  const backend = await createBackend(backendKind, run.precision ?? 'f32');
  // The run's batch may not fit another backend than the one it started on.
  checkStepsFit(backend, config, run.batch, dataset.recordLength, run.lengthBuckets, `batch ${run.batch} (recorded in ${statePath})`);
  const shapes = modelParameterShapes(config);
  const params = readModelTensors(outDir, shapes);
  const model = createModel(backend, config, params);
  const optimizer = new AdamW(backend, model.packed, run);
  const snapshot = readOptimizer(outDir, shapes);
  if (snapshot.step !== state.step) throw new UserError(`${join(outDir, OPTIMIZER_FILE)}: optimizer step ${snapshot.step} but ${STATE_FILE} says step ${state.step}`);
  optimizer.loadState(snapshot);
  let aux: AuxTraining | undefined;
  if (run.auxBoardLoss) {
    const head = readAuxHead(outDir, auxHeadShapes(config.d_model));
    if (head.optimizer.step !== state.step) throw new UserError(`${join(outDir, AUX_HEAD_FILE)}: optimizer step ${head.optimizer.step} but ${STATE_FILE} says step ${state.step}`);
    aux = auxTraining(backend, config, run, head.tensors);
    aux!.optimizer.loadState(head.optimizer);
  }
  const stream = trainingStream(dataset, run, targetMaskOf(run));
  stream.setPosition(state.dataPosition);
  const metrics = new MetricsLog(join(outDir, METRICS_FILE));
  metrics.truncateAfter(state.step);
  hooks.note?.(`resuming ${outDir} at step ${state.step} of ${run.horizon}`);
  const scaler = LossScaler.resume(backend.precision, state.lossScale);
  return runSteps({ outDir, run, state, config, backend, dataset, model, optimizer, aux, scaler, stream, metrics }, hooks);
}

async function runSteps(session: Session, hooks: TrainHooks): Promise<TrainResult> {
  const { run, state, backend, model, optimizer, scaler, stream, metrics } = session;
  const schedule = { lr: run.lr, minLr: run.minLr, warmup: run.warmup, horizon: run.horizon };
  const loopStarted = performance.now();
  let timedFrom: { time: number; step: number } | null = null;
  const valSet = readValidationSet(session.dataset, run, stream.mask);
  let stepSeconds = 0;
  let tokensThisSession = 0;
  let gamesThisSession = 0;
  let lastVal: number | null = state.valHistory.length > 0 ? state.valHistory[state.valHistory.length - 1].loss : null;
  /** The validation just measured is the lowest so far: --save-best writes it once its group is done. */
  let newBest = false;
  let stopped = false;
  // On a GPU the steps are queued and their losses read in groups: a readback per step would stall the
  // device. The cpu backend reads every step (its steps are synchronous anyway).
  const readEvery = backend.name === 'cpu' ? 1 : GPU_READ_EVERY;
  let queued: { pending: PendingStep; lr: number; lossScale: number; tokens: number; games: number }[] = [];
  let groupStarted = performance.now();
  while (state.step + queued.length < run.horizon) {
    const index = state.step + queued.length;
    const batch = stream.next();
    const lr = learningRateAt(index, schedule);
    const lossScale = scaler.scale;
    queued.push({ pending: queueTrainStep(model, optimizer, batch, lr, run.clip, lossScale, session.aux), lr, lossScale, tokens: batch.batch * batch.length, games: batch.games });
    const next = index + 1;
    const boundary =
      next === run.horizon || next % run.valEvery === 0 || next % run.saveEvery === 0 || next === hooks.stopAfterStep ||
      (run.snapshotEvery !== undefined && next % run.snapshotEvery === 0) ||
      (session.settleHorizon !== undefined && next === run.warmup);
    if (!boundary && queued.length < readEvery && !(hooks.shouldStop?.() ?? false)) continue;
    const results: StepResult[] = [];
    for (const q of queued) results.push(await readStep(backend, q.pending));
    // The steps of a group ran back to back on the device: each is credited with the group's mean time.
    const seconds = (performance.now() - groupStarted) / 1000 / queued.length;
    for (let k = 0; k < queued.length; k++) {
      const { loss, gradNorm, auxLoss } = results[k];
      const { lossScale } = queued[k];
      // An overflow in mixed precision is the loss scale's to handle, until the scale is down to 1.
      if (!Number.isFinite(loss) || (!Number.isFinite(gradNorm) && (!scaler.dynamic || lossScale <= 1))) {
        throw new UserError(`training diverged at step ${state.step + 1} (loss ${loss}, gradient norm ${gradNorm}); ${session.outDir} keeps the last checkpoint saved before it; try a lower --lr`);
      }
      const applied = scaler.afterStep(lossScale, Number.isFinite(gradNorm));
      state.games = gamesTrained(state) + queued[k].games;
      state.step++;
      state.lossHistory.push(loss);
      state.trainSeconds += seconds;
      stepSeconds += seconds;
      tokensThisSession += queued[k].tokens;
      gamesThisSession += queued[k].games;
      const record: StepMetrics = { step: state.step, loss, lr: queued[k].lr, gradNorm: applied ? gradNorm : null, tokensPerSec: Math.round(queued[k].tokens / seconds) };
      if (scaler.dynamic) record.lossScale = lossScale;
      if (!applied) record.skipped = true;
      if (auxLoss !== undefined) record.auxLoss = auxLoss;
      if (k === queued.length - 1 && (state.step % run.valEvery === 0 || state.step === run.horizon)) {
        lastVal = await validationLoss(model, valSet);
        // validated at the last step of its group: the weights now are the ones it measured
        newBest = run.saveBest === true && state.valHistory.every((v) => lastVal! < v.loss);
        state.valHistory.push({ step: state.step, loss: lastVal });
        record.valLoss = lastVal;
      }
      metrics.append(record);
      hooks.onStep?.(record, run);
    }
    queued = [];
    if (session.settleHorizon) {
      // Timed over the second half of the warmup: the first steps run on code not yet optimised.
      if (state.step >= run.warmup / 2 && timedFrom === null && state.step < run.warmup) timedFrom = { time: performance.now(), step: state.step };
      if (state.step >= run.warmup) {
        const from = timedFrom ?? { time: loopStarted, step: 0 };
        settleHorizon(session, session.settleHorizon, (performance.now() - from.time) / (state.step - from.step), hooks);
        schedule.horizon = run.horizon;
        session.settleHorizon = undefined;
      }
    }
    const last = state.step === run.horizon;
    // Let signal handlers run: the step itself never yields to the event loop on the cpu backend.
    await new Promise((done) => setImmediate(done));
    stopped = !last && ((hooks.shouldStop?.() ?? false) || state.step === hooks.stopAfterStep);
    const saveTo = [...(newBest ? [join(session.outDir, BEST_DIR)] : []), ...(last || stopped || state.step % run.saveEvery === 0 ? [session.outDir] : [])];
    newBest = false;
    const snapshotTo = run.snapshotEvery !== undefined && state.step % run.snapshotEvery === 0 ? [snapshotDir(session.outDir, state.step)] : [];
    if (saveTo.length > 0 || snapshotTo.length > 0) await saveCheckpoint(session, saveTo, snapshotTo);
    if (stopped) break;
    groupStarted = performance.now();
  }
  session.dataset.close();
  return {
    outDir: session.outDir,
    steps: state.step,
    horizon: run.horizon,
    finalLoss: state.lossHistory.length > 0 ? state.lossHistory[state.lossHistory.length - 1] : null,
    valLoss: lastVal,
    tokensPerSec: stepSeconds > 0 ? Math.round(tokensThisSession / stepSeconds) : 0,
    gamesPerSec: stepSeconds > 0 ? Math.round((gamesThisSession / stepSeconds) * 10) / 10 : 0,
    backend: backend.name,
    lossHistory: state.lossHistory,
    stopped,
    run,
    ...(run.saveBest ? { best: bestOf(state.valHistory) } : {}),
  };
}

/** The lowest validation loss so far and its step (the first of equals, as --save-best keeps it). */
function bestOf(history: readonly { step: number; loss: number }[]): { step: number; valLoss: number } | null {
  let best: { step: number; valLoss: number } | null = null;
  for (const { step, loss } of history) if (best === null || loss < best.valLoss) best = { step, valLoss: loss };
  return best;
}

/**
 * Writes the run's checkpoint into each of `dirs`, and its model, config and trainer state (a checkpoint
 * that eval, probes and play read, but not one to resume) into each of `snapshots`; the weights are
 * downloaded from the backend once for all of them.
 */
async function saveCheckpoint(session: Session, dirs: readonly string[], snapshots: readonly string[] = []): Promise<void> {
  const exported = await session.model.exportParameters();
  const model: NamedTensors = new Map();
  for (const [name, shape] of modelParameterShapes(session.config)) model.set(name, { shape, data: exported.get(name)! });
  session.state.dataPosition = session.stream.getPosition();
  session.state.lossScale = session.scaler.saved();
  const config = checkpointConfigJson(session.config, { game: session.run.game, preset: session.run.preset });
  const state = session.state as unknown as Record<string, unknown>;
  for (const dir of snapshots) writeCheckpoint(dir, { config, model, state });
  if (dirs.length === 0) return;
  const parts: CheckpointParts = { config, model, optimizer: await session.optimizer.exportState(), state };
  if (session.aux) {
    const values = await session.aux.loss.packed.download();
    const tensors: NamedTensors = new Map(auxHeadShapes(session.config.d_model).map(([name, shape]) => [name, { shape, data: values.get(name)! }]));
    parts.auxHead = { tensors, optimizer: await session.aux.optimizer.exportState() };
  }
  for (const dir of dirs) writeCheckpoint(dir, parts);
}

interface ValidationSet {
  /** (games, length) inputs and targets of the fixed validation subset, in batches of run.batch. */
  batches: { inputs: Int32Array; targets: Int32Array; batch: number; length: number; tokens: number }[];
}

/**
 * The first valGames games of the val split, as loss batches (the same subset at every measurement),
 * with the training batches' target mask.
 */
function readValidationSet(dataset: Dataset, run: RunSpec, mask: TargetMask | null): ValidationSet {
  const L = dataset.recordLength - 1;
  const pad = dataset.manifest.padToken;
  const padMode = dataset.manifest.padMode ?? 'token';
  const batches: ValidationSet['batches'] = [];
  for (let start = 0; start < run.valGames; start += run.batch) {
    const B = Math.min(run.batch, run.valGames - start);
    const records = dataset.readGames('val', start, B);
    const inputs = new Int32Array(B * L);
    const targets = new Int32Array(B * L);
    let tokens = 0;
    // The same padding rule as the training batches (chess pads only after the last move).
    for (let b = 0; b < B; b++) {
      tokens += maskedInputsTargets(records.subarray(b * (L + 1), (b + 1) * (L + 1)), pad, padMode, mask, inputs, targets, b * L);
    }
    batches.push({ inputs, targets, batch: B, length: L, tokens });
  }
  return { batches };
}

/** Mean cross-entropy over every non-padding target of the validation subset. */
async function validationLoss(model: LanguageModel, valSet: ValidationSet): Promise<number> {
  let total = 0;
  let tokens = 0;
  for (const b of valSet.batches) {
    if (b.tokens === 0) continue;
    total += (await model.lossOnly(b.inputs, b.targets, b.batch, b.length)) * b.tokens;
    tokens += b.tokens;
  }
  return tokens > 0 ? total / tokens : NaN;
}

/**
 * A --minutes run's horizon, settled at the end of its warmup from the speed of the run's own steps over
 * the second half of the warmup (validation and saves included): the estimate before the first step
 * runs on a throwaway copy and came out 10 to 20% slow on a 2-core CPU, which ended runs a minute
 * early. The learning rate of the warmup does not depend on the horizon, so the schedule is the one a
 * run given the settled horizon from the start would take. A run resumed before the end of its warmup
 * keeps the first estimate.
 */
function settleHorizon(session: Session, settle: { began: number; minutes: number }, stepMs: number, hooks: TrainHooks): void {
  const { run, state } = session;
  const leftMs = settle.minutes * 60_000 - (performance.now() - settle.began);
  const horizon = Math.max(state.step + 1, state.step + Math.floor(leftMs / stepMs));
  const note = `settled at step ${state.step}: horizon ${horizon} steps (${stepMs.toFixed(1)} ms a step)`;
  run.horizon = horizon;
  state.horizonNote += `; ${note}`;
  hooks.note?.(`--minutes ${settle.minutes}: ${note}`);
}

/**
 * The first --minutes estimate (settled later, settleHorizon): warm-up steps (at least, and for at least
 * so long), then groups of timed steps for at least so long.
 */
const ESTIMATE_MIN_WARMUP_STEPS = 2;
const ESTIMATE_WARMUP_MS = 1500;
const ESTIMATE_GROUP_STEPS = 6;
const ESTIMATE_TIMED_MS = 2000;
const ESTIMATE_MAX_STEPS = 60;

/**
 * Steps that fit in `minutes`: time a few steps (and one validation pass) on a throwaway copy of the
 * model and optimizer, reading the run's stream and then putting it back where it stood, so the run
 * itself starts untouched, then divide the budget by the cost per step. The result is recorded as the run's horizon, so a resume follows the same schedule.
 */
async function estimateHorizon(backend: Backend, config: ModelConfig, params: Map<string, Float32Array>, dataset: Dataset, run: RunSpec, stream: BatchStream, minutes: number): Promise<{ horizon: number; note: string }> {
  const began = performance.now();
  const model = createModel(backend, config, params);
  const optimizer = new AdamW(backend, model.packed, run);
  const aux = auxTraining(backend, config, run);
  // A second stream would read the split again to sort its games into length classes.
  const start = stream.getPosition();
  // Warm up by time as well as by steps: the first steps run on code the JavaScript and WebAssembly
  // engines have not optimised yet (measured on the cpu backend: ~25% slower than the steps after).
  const warmupStarted = performance.now();
  for (let i = 0; i < ESTIMATE_MIN_WARMUP_STEPS || (performance.now() - warmupStarted < ESTIMATE_WARMUP_MS && i < ESTIMATE_MAX_STEPS); i++) {
    await trainStep(backend, model, optimizer, stream.next(), 0, run.clip, 1, aux);
  }
  // Groups of steps queued back to back and read at the end, as the training loop runs them on a GPU.
  const started = performance.now();
  let timedSteps = 0;
  do {
    const pending: PendingStep[] = [];
    for (let i = 0; i < ESTIMATE_GROUP_STEPS; i++) pending.push(queueTrainStep(model, optimizer, stream.next(), 0, run.clip, 1, aux));
    for (const p of pending) await readStep(backend, p);
    timedSteps += ESTIMATE_GROUP_STEPS;
  } while (performance.now() - started < ESTIMATE_TIMED_MS && timedSteps < ESTIMATE_MAX_STEPS);
  const stepMs = (performance.now() - started) / timedSteps;
  const valStarted = performance.now();
  await validationLoss(model, readValidationSet(dataset, run, stream.mask));
  const valMs = performance.now() - valStarted;
  stream.setPosition(start);
  const budgetMs = minutes * 60_000 - (performance.now() - began);
  const perStepMs = stepMs + valMs / run.valEvery;
  const horizon = Math.max(1, Math.floor(budgetMs / perStepMs));
  const note = `horizon ${horizon} steps, estimated from ${timedSteps} timed steps (${stepMs.toFixed(1)} ms each) and one validation pass (${valMs.toFixed(0)} ms) on this machine`;
  return { horizon, note };
}

/**
 * Refuses steps that cannot fit `backend` (checkBatchFits): `batch` full rows, or with length buckets the
 * rows of every class; a bad bucket count is refused here too, before anything is written.
 */
function checkStepsFit(backend: Backend, config: ModelConfig, batch: number, recordLength: number, bucketCount: number | undefined, flag: string): void {
  const shapes = bucketCount ? lengthBuckets(bucketCount, recordLength, batch) : [{ length: recordLength - 1, rows: batch }];
  for (const { rows, length } of shapes) checkBatchFits(backend, config, rows, length, flag);
}

/** The run's training batches: its batch size, seed, target mask and length buckets. */
function trainingStream(dataset: Dataset, run: RunSpec, mask: TargetMask | null): BatchStream {
  return new BatchStream(dataset, 'train', run.batch, run.seed, mask, run.lengthBuckets ?? 0);
}

function openTrainingData(dir: string, game: string): Dataset {
  const dataset = openDataset(dir);
  if (dataset.manifest.game !== game) {
    throw new UserError(`${join(dir, MANIFEST_FILE)}: a ${dataset.manifest.game} dataset, but --game is ${game}`);
  }
  return dataset;
}

/** SHA-256 of the dataset's manifest, which names every shard's checksum. */
function datasetFingerprint(dir: string): string {
  return createHash('sha256').update(readFileSync(join(dir, MANIFEST_FILE))).digest('hex');
}

/** The run-spec fields of --aux-board-loss and --aux-layer, checked against the game and the model. */
function auxSpec(request: NewRunRequest, config: ModelConfig): Partial<RunSpec> {
  if (request.auxBoardLoss === undefined) {
    if (request.auxLayer !== undefined) throw new UserError('--aux-layer: only with --aux-board-loss');
    return {};
  }
  if (!(request.auxBoardLoss > 0 && Number.isFinite(request.auxBoardLoss))) throw new UserError(`--aux-board-loss ${request.auxBoardLoss}: the weight must be a positive number`);
  if (request.game !== 'othello') throw new UserError(`--aux-board-loss: board targets exist for Othello only, not ${request.game}`);
  const layer = request.auxLayer ?? defaultAuxLayer(config.n_layers);
  if (!Number.isInteger(layer) || layer < 0 || layer > config.n_layers) throw new UserError(`--aux-layer ${layer}: the ${config.n_layers}-layer model has residual layers 0 (the embeddings) to ${config.n_layers}`);
  return { auxBoardLoss: request.auxBoardLoss, auxLayer: layer };
}

/** The auxiliary board loss of a run that has one, its head starting from `head` (a resumed one) or a fresh init. */
function auxTraining(backend: Backend, config: ModelConfig, run: RunSpec, head?: Map<string, Float32Array>): AuxTraining | undefined {
  if (!run.auxBoardLoss) return undefined;
  const loss = new AuxBoardLoss(backend, config.d_model, run.auxLayer!, run.auxBoardLoss, head ?? initAuxHead(config.d_model, run.seed));
  return { loss, optimizer: new AdamW(backend, loss.packed, run) };
}

/**
 * The targets left out of the loss, training and validation alike: --winner-moves, the losing side's
 * moves; --labelled-positions, every move of a labelled position but its last (whole games are then
 * learned as the other flag, or absence of it, says); --plies, on top of either, the moves outside
 * the range.
 */
function targetMaskOf(run: RunSpec): TargetMask | null {
  const game = DATASET_GAMES[run.game as keyof typeof DATASET_GAMES];
  const outside = run.plies ? movesOutsidePlies(run.plies, game) : null;
  if (!run.winnerMoves && !run.labelledPositions) return outside && (() => outside);
  const loserMoves = run.winnerMoves ? game?.loserMoves : () => null;
  if (!loserMoves) throw new UserError(`--winner-moves: ${run.game} records do not say who won`);
  const prefix = run.labelledPositions ? game?.labelledPositionPrefix : () => null;
  if (!prefix) throw new UserError(`--labelled-positions: ${run.game} records are always whole games`);
  return (record) => {
    const dropped = prefix.call(game, record) ?? loserMoves.call(game, record);
    if (!outside) return dropped;
    if (!dropped) return outside;
    for (let t = 0; t < dropped.length; t++) dropped[t] |= outside[t];
    return dropped;
  };
}

/** 1 at the record positions of the moves played after fewer than LO or more than HI moves ("LO-HI"). */
function movesOutsidePlies(plies: string, game: DatasetGame | undefined): Uint8Array {
  if (!game?.tokenPerMove) throw new UserError(`--plies: a ${game?.name ?? 'such'} move spans several tokens of a record, so moves cannot be picked by ply`);
  const [lo, hi] = plies.split('-').map(Number);
  const outside = new Uint8Array(game.recordLength).fill(1);
  outside.fill(0, lo, hi + 1);
  return outside;
}

/**
 * A fine-tune's starting weights: the model of checkpoint `dir`, which must be of the run's game,
 * vocabulary and preset (every config field the preset sets).
 */
function initialWeights(dir: string, config: ModelConfig, dataDir: string, dataset: Dataset, hooks: TrainHooks): Map<string, Float32Array> {
  const loaded = loadCheckpoint(dir, hooks.note);
  checkModelFitsDataset(loaded, dataDir, dataset.manifest);
  checkConfigMatches(dir, config);
  hooks.note?.(`--init: starting from the weights of ${dir}`);
  return loaded.params;
}

/** Refuses a checkpoint whose config.json is not the run's model. */
function checkConfigMatches(outDir: string, config: ModelConfig): void {
  const path = join(outDir, CONFIG_FILE);
  const recorded = modelConfigFromJson(readConfigJson(outDir), path).config;
  for (const [key, value] of Object.entries(config)) {
    if (key in recorded && recorded[key] !== value) {
      throw new UserError(`${path}: ${key} is ${JSON.stringify(recorded[key])} but the run's preset needs ${JSON.stringify(value)} (config mismatch)`);
    }
  }
}
