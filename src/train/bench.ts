/**
 * Training speed: time full training steps (forward, backward, clip, AdamW) of a preset on random
 * tokens, so the number depends on the model and backend alone, not on a dataset.
 */
import { CHESS_VOCAB_SIZE } from '../../games/chess/vocabulary.js';
import { VOCAB_SIZE as OTHELLO_VOCAB_SIZE } from '../../games/othello/notation.js';
import { createBackend, type PrecisionChoice } from '../backend/index.js';
import type { Precision } from '../backend/backend.js';
import { configFromPreset } from '../model/config.js';
import { checkBatchFits } from '../model/memory.js';
import { createModel, initModelParameters, parameterCount } from '../model/models.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { LossScaler } from './loss-scale.js';
import { AdamW } from './optimizer.js';
import type { BackendKind } from './run-spec.js';
import { queueTrainStep, readStep, trainStep, type PendingStep } from './step.js';
import type { WebGpuBackend } from '../backend/webgpu/webgpu-backend.js';
import type { AttentionPath } from '../backend/webgpu/kernels/attention.js';
import type { ScanBackwardKernel } from '../backend/webgpu/kernels/selective-scan.js';

/** The vocabulary a preset's benchmark draws its tokens from: chess's characters for chess presets, Othello's moves for the rest. */
export function benchVocabSize(preset: string): number {
  return preset.startsWith('chess') ? CHESS_VOCAB_SIZE : OTHELLO_VOCAB_SIZE;
}

export interface TrainBenchOptions {
  preset: string;
  /** A Mamba's state size instead of the preset's (`--d-state`). */
  dState?: number;
  vocabSize: number;
  backend: BackendKind;
  /** How the matmuls run (default auto: mixed where the adapter has f16 subgroup matrices). */
  precision?: PrecisionChoice;
  batch: number;
  /** Sequence length (tokens per game row). */
  seq: number;
  /** Timed steps, after `warmupSteps` untimed ones. */
  steps: number;
  warmupSteps?: number;
  seed?: number;
  /** Also time every GPU kernel of one extra step (webgpu only). */
  profile?: boolean;
  /** Force the causal attention's kernels (webgpu only; default: chosen by length). */
  attention?: AttentionPath;
  /** Force the selective scan's backward kernel (webgpu only; default: step by step). */
  scanBackward?: ScanBackwardKernel;
  /** The flags that set batch and seq, for the message that refuses a size too large (default `--batch B`). */
  sizeFlag?: string;
}

/** GPU time of one kernel (pipeline) over one profiled step. */
export interface KernelTime {
  kernel: string;
  ms: number;
  dispatches: number;
  /** Share of the profiled step's summed kernel time. */
  share: number;
}

export interface TrainBenchResult {
  tokensPerSec: number;
  stepMs: number;
  /**
   * Host milliseconds spent recording one step's work (webgpu), part of stepMs: the GPU stays busy
   * only while the host records faster than it runs. Null on cpu, where recording is running.
   */
  recordMs: number | null;
  /** Device memory the backend reports, null where it has none (cpu). */
  gpuBytes: number | null;
  backend: string;
  precision: Precision;
  preset: string;
  architecture: string;
  batch: number;
  seq: number;
  steps: number;
  parameters: number;
  /** Adapter in words (webgpu), or null. */
  adapter: string | null;
  /** Per-kernel GPU time of one step, slowest first, with --profile. */
  profile?: KernelTime[];
}

export async function benchTrain(options: TrainBenchOptions, onStep?: (done: number) => void): Promise<TrainBenchResult> {
  const backend = await createBackend(options.backend, options.precision ?? 'auto');
  if (options.attention) {
    if (backend.name !== 'webgpu') throw new UserError('--attention needs --backend webgpu (it picks webgpu kernels)');
    (backend as WebGpuBackend).attentionPath = options.attention;
  }
  if (options.scanBackward) {
    if (backend.name !== 'webgpu') throw new UserError('--scan-backward needs --backend webgpu (it picks webgpu kernels)');
    (backend as WebGpuBackend).scanBackwardKernel = options.scanBackward;
  }
  // A transformer's context is the benchmark's sequence length.
  const config = configFromPreset(options.preset, options.vocabSize, options.seq, { d_state: options.dState });
  if (options.scanBackward && config.architecture === 'mamba') {
    const problem = (backend as WebGpuBackend).scanBackwardProblem(config.d_state);
    if (problem) throw new UserError(`--scan-backward ${options.scanBackward}: ${problem}`);
  }
  // Before the weights and the token arrays: a size that cannot fit stops here in one line.
  checkBatchFits(backend, config, options.batch, options.seq, options.sizeFlag ?? `--batch ${options.batch}`);
  const rng = new Rng(options.seed ?? 1);
  const params = initModelParameters(config, rng);
  const model = createModel(backend, config, params);
  const optimizer = new AdamW(backend, model.packed, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  const { batch, seq } = options;
  // inputs, targets: (batch, seq) uniform over the non-padding tokens
  const inputs = new Int32Array(batch * seq);
  const targets = new Int32Array(batch * seq);
  for (let i = 0; i < inputs.length; i++) {
    inputs[i] = 1 + rng.nextInt(options.vocabSize - 1);
    targets[i] = 1 + rng.nextInt(options.vocabSize - 1);
  }
  const step = { inputs, targets, batch, length: seq };
  // a training run's first loss scale (1 in f32)
  const lossScale = LossScaler.start(backend.precision).scale;
  const warmup = options.warmupSteps ?? 2;
  for (let i = 0; i < warmup; i++) await trainStep(backend, model, optimizer, step, 1e-4, 1, lossScale);
  // The steps are queued back to back and read at the end, as the trainer runs them on a GPU.
  const started = performance.now();
  const pending: PendingStep[] = [];
  let recording = 0;
  for (let i = 0; i < options.steps; i++) {
    const recordStart = performance.now();
    pending.push(queueTrainStep(model, optimizer, step, 1e-4, 1, lossScale));
    recording += performance.now() - recordStart;
    if (backend.name === 'cpu') onStep?.(i + 1);
  }
  for (let i = 0; i < pending.length; i++) {
    await readStep(backend, pending[i]);
    if (backend.name !== 'cpu') onStep?.(i + 1);
  }
  const stepMs = (performance.now() - started) / options.steps;
  const gpu = backend.name === 'webgpu' ? (backend as WebGpuBackend) : null;
  let profile: KernelTime[] | undefined;
  if (options.profile) {
    if (!gpu) throw new UserError('--profile needs --backend webgpu (it reads GPU timestamps)');
    gpu.rt.startProfile();
    await trainStep(backend, model, optimizer, step, 1e-4, 1, lossScale);
    const totals = await gpu.rt.stopProfile();
    let sum = 0;
    for (const t of totals.values()) sum += t.ms;
    profile = [...totals].map(([kernel, t]) => ({ kernel, ms: Number(t.ms.toFixed(3)), dispatches: t.count, share: Number((t.ms / sum).toFixed(4)) }));
    profile.sort((a, b) => b.ms - a.ms);
  }
  return {
    tokensPerSec: Math.round((batch * seq) / (stepMs / 1000)),
    stepMs: Number(stepMs.toFixed(2)),
    recordMs: backend.name === 'cpu' ? null : Number((recording / options.steps).toFixed(2)),
    gpuBytes: gpu ? gpu.gpuBytes : null,
    backend: backend.name,
    precision: backend.precision,
    preset: options.preset,
    architecture: config.architecture,
    batch,
    seq,
    steps: options.steps,
    parameters: parameterCount(config),
    adapter: gpu ? gpu.adapterName : null,
    ...(options.attention ? { attention: options.attention } : {}),
    ...(options.scanBackward ? { scanBackward: options.scanBackward } : {}),
    ...(profile ? { profile } : {}),
  };
}
